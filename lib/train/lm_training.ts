/**
 * Training a GPT-2-architecture language model: the step graph (next-token loss, tied
 * embedding and unembedding as in GPT-2, AdamW with decay on matrices only), the initial
 * parameters, conversion of the trained parameters to a hooked model or a Hugging Face folder,
 * and the unigram baseline the trained model must beat.
 *
 * @module
 */
import { join } from "node:path";
import type { Graph } from "../graph/builder.ts";
import type { Value } from "../graph/ir.ts";
import { writeFileAtomic, writeSafetensors } from "../formats/safetensors.ts";
import { configToHf, type GPT2Config } from "../model/config.ts";
import { gpt2Forward, nextTokenLoss, WeightInputs } from "../model/gpt2_graph.ts";
import { HookPoints } from "../graph/hooks.ts";
import { HookedModel } from "../model/hooked_model.ts";
import { randomStateDict } from "../model/random_weights.ts";
import type { RuntimeOptions } from "../graph/session.ts";
import { expectedShapes, NO_PROCESSING, type StateDict, toHfStateDict } from "../model/weights.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { AdamConfig } from "./optimizer.ts";
import type { StepSpec } from "./train_step.ts";

/** Parameters that are trained: everything but the unembedding, which is tied to `W_E`. */
export function lmParamShapes(cfg: GPT2Config): Map<string, number[]> {
  const shapes = expectedShapes(cfg, true);
  shapes.delete("unembed.W_U");
  shapes.delete("unembed.b_U");
  return shapes;
}

/** GPT-2's initialisation (seeded), without the tied unembedding. */
export function initialLmParams(cfg: GPT2Config, seed: number): Map<string, Tensor<"float32">> {
  const sd = randomStateDict(cfg, seed);
  sd.delete("unembed.W_U");
  sd.delete("unembed.b_U");
  return sd;
}

/**
 * The training step of a language model on `[batch, n_ctx]` token rows fed as `tokens`:
 * mean next-token cross-entropy, gradients, AdamW (weight decay on matrices only, as GPT-2
 * and nanoGPT do).
 */
export function lmStepSpec(cfg: GPT2Config, batch: number, adam: AdamConfig): StepSpec {
  const params = lmParamShapes(cfg);
  return {
    params,
    adam,
    noDecay: (name) => params.get(name)!.length < 2,
    forward(g: Graph, p: ReadonlyMap<string, Value>) {
      const tokens = g.input("tokens", "int32", [batch, cfg.n_ctx]);
      const derived = new Map<string, (w: WeightInputs) => Value>();
      for (const [name, v] of p) derived.set(name, () => v);
      derived.set("unembed.W_U", () => g.transpose(p.get("embed.W_E")!, [1, 0]));
      derived.set("unembed.b_U", () => g.zeros([cfg.d_vocab]));
      const weights = new WeightInputs(g, expectedShapes(cfg, true), derived);
      const fwd = gpt2Forward(g, cfg, { tokens, hooks: new HookPoints(g), weights });
      return { loss: g.reduceMean(nextTokenLoss(g, fwd.logits!(), tokens)) };
    },
  };
}

/** The full (unprocessed) state dict of trained parameters: adds the tied unembedding. */
export function lmStateDict(params: ReadonlyMap<string, Tensor<"float32">>): StateDict {
  const sd: StateDict = new Map(params);
  const WE = params.get("embed.W_E")!;
  const [v, d] = WE.shape;
  const WU = new Float32Array(d * v);
  for (let i = 0; i < v; i++) for (let j = 0; j < d; j++) WU[j * v + i] = WE.data[i * d + j];
  sd.set("unembed.W_U", { dtype: "float32", shape: [d, v], data: WU });
  sd.set("unembed.b_U", { dtype: "float32", shape: [v], data: new Float32Array(v) });
  return sd;
}

/** A hooked model (unprocessed) of trained parameters, e.g. for validation loss. */
export function lmModel(
  cfg: GPT2Config,
  params: ReadonlyMap<string, Tensor<"float32">>,
  runtime: RuntimeOptions = {},
): HookedModel {
  return new HookedModel(cfg, lmStateDict(params), NO_PROCESSING, runtime);
}

/** Writes trained parameters as a Hugging Face GPT-2 folder (config.json + model.safetensors). */
export async function exportHfFolder(
  dir: string,
  cfg: GPT2Config,
  params: ReadonlyMap<string, Tensor<"float32">>,
  { floatDtype = "F16" as "F32" | "F16" | "BF16", extra = {} as Record<string, unknown> } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const hf = toHfStateDict(lmStateDict(params), cfg);
  await writeSafetensors(join(dir, "model.safetensors"), hf, {
    floatDtype,
    metadata: { format: "pt" },
  });
  await writeFileAtomic(
    join(dir, "config.json"),
    new TextEncoder().encode(JSON.stringify({ ...configToHf(cfg), ...extra }, null, 2) + "\n"),
  );
}

/** Mean loss (nats per token) of a model over token rows, in batches. */
export async function meanLoss(
  model: HookedModel,
  rows: Tensor<"int32">,
  batch = 16,
): Promise<number> {
  const [n, p] = rows.shape;
  let total = 0, count = 0;
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const chunk: Tensor<"int32"> = {
      dtype: "int32",
      shape: [b, p],
      data: rows.data.subarray(i * p, (i + b) * p),
    };
    total += (await model.loss(chunk)) * b;
    count += b;
  }
  return total / count;
}

/**
 * The unigram baseline: cross-entropy (nats) of the validation next tokens under the training
 * tokens' unigram distribution with add-one smoothing over the vocabulary. Predicted positions
 * are those of the loss (every token but the first of each row).
 */
export function unigramBaseline(
  train: Tensor<"int32">,
  validation: Tensor<"int32">,
  dVocab: number,
): number {
  const counts = new Float64Array(dVocab).fill(1);
  let total = dVocab;
  const [, p] = train.shape;
  for (let i = 0; i < train.data.length; i++) {
    if (i % p === 0) continue;
    counts[train.data[i]]++;
    total++;
  }
  let nll = 0, n = 0;
  const q = validation.shape[1];
  for (let i = 0; i < validation.data.length; i++) {
    if (i % q === 0) continue;
    nll -= Math.log(counts[validation.data[i]] / total);
    n++;
  }
  return nll / n;
}

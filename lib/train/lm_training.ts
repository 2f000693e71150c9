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
import { gpt2Forward, nextTokenLoss, WeightInputs } from "../model/_gpt2_graph.ts";
import { HookPoints } from "../graph/hooks.ts";
import { HookedModel } from "../model/hooked_model.ts";
import { randomStateDict } from "../model/random_weights.ts";
import type { RuntimeOptions } from "../graph/session.ts";
import { expectedShapes, NO_PROCESSING, type StateDict, toHfStateDict } from "../model/weights.ts";
import { sliceRows, type Tensor } from "../tensor/tensor.ts";
import type { AdamConfig } from "./optimizer.ts";
import type { StepSpec } from "./train_step.ts";

/**
 * Parameters that are trained: everything but the unembedding, which is tied to `W_E`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { lmParamShapes } from "./lm_training.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const shapes = lmParamShapes(cfg);
 * shapes.get("embed.W_E"); // [10, 8]
 * assert.equal(shapes.has("unembed.W_U"), false);
 * ```
 */
export function lmParamShapes(cfg: GPT2Config): Map<string, number[]> {
  const shapes = expectedShapes(cfg, true);
  shapes.delete("unembed.W_U");
  shapes.delete("unembed.b_U");
  return shapes;
}

/**
 * GPT-2's initialisation (seeded), without the tied unembedding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { initialLmParams, lmParamShapes } from "./lm_training.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const params = initialLmParams(cfg, 0);
 * params.get("blocks.0.mlp.W_in")?.shape; // [8, 32]
 * assert.deepEqual([...params.keys()], [...lmParamShapes(cfg).keys()]);
 * ```
 */
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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../graph/session.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { initialLmParams, lmStepSpec } from "./lm_training.ts";
 * import { initialState, Trainer } from "./trainer.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const spec = lmStepSpec(cfg, 2, { weightDecay: 0.1 }); // batches of 2 rows of n_ctx = 4 tokens
 * assert.equal(spec.noDecay!("blocks.0.ln1.w"), true); // no decay on vectors
 * const state = initialState(initialLmParams(cfg, 0));
 * const schedule = { name: "constant", lr: 1e-2, totalSteps: 5 } as const;
 * const trainer = await Trainer.create(new Runtime(), spec, state, schedule);
 * const tokens = tensor(new Int32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]);
 * const first = (await trainer.step({ tokens })).loss; // 2.356 (about ln 10: near uniform)
 * let last = first;
 * for (let i = 0; i < 4; i++) last = (await trainer.step({ tokens })).loss;
 * last; // 2.067: the model is learning the batch
 * assert.ok(last < first);
 * ```
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

/**
 * The full (unprocessed) state dict of trained parameters: adds the tied unembedding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { at } from "../tensor/tensor.ts";
 * import { initialLmParams, lmStateDict } from "./lm_training.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = lmStateDict(initialLmParams(cfg, 0));
 * sd.get("unembed.W_U")?.shape; // [8, 10]: the transpose of embed.W_E [10, 8]
 * assert.equal(at(sd.get("unembed.W_U")!, 3, 7), at(sd.get("embed.W_E")!, 7, 3));
 * ```
 */
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

/**
 * A hooked model (unprocessed) of trained parameters, e.g. for validation loss.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { initialLmParams, lmModel } from "./lm_training.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = lmModel(cfg, initialLmParams(cfg, 0));
 * const loss = await model.loss([[1, 2, 3, 4]]); // about 2.3 = ln 10: untrained, near uniform
 * assert.ok(Math.abs(loss - Math.log(10)) < 0.2);
 * ```
 */
export function lmModel(
  cfg: GPT2Config,
  params: ReadonlyMap<string, Tensor<"float32">>,
  runtime: RuntimeOptions = {},
): HookedModel {
  return new HookedModel(cfg, lmStateDict(params), NO_PROCESSING, runtime);
}

/**
 * Writes trained parameters as a Hugging Face GPT-2 folder (config.json + model.safetensors).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { loadModel } from "../model/load.ts";
 * import { exportHfFolder, initialLmParams } from "./lm_training.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const dir = await Deno.makeTempDir();
 * await exportHfFolder(dir, cfg, initialLmParams(cfg, 0));
 * const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
 * assert.deepEqual(names, ["config.json", "model.safetensors"]);
 * (await loadModel(dir)).cfg.n_layers; // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
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

/**
 * Mean loss (nats per token) of a model over token rows, in batches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { initialLmParams, lmModel, meanLoss } from "./lm_training.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = lmModel(cfg, initialLmParams(cfg, 0));
 * const rows = tensor(new Int32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]), [3, 4]);
 * const loss = await meanLoss(model, rows, 2); // 2.348: batches of 2 rows then 1, weighted by rows
 * assert.ok(Math.abs(loss - (await model.loss(rows))) < 1e-5); // as one batch of 3
 * ```
 */
export async function meanLoss(
  model: HookedModel,
  rows: Tensor<"int32">,
  batch = 16,
): Promise<number> {
  const n = rows.shape[0];
  let total = 0, count = 0;
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const chunk = sliceRows(rows, i, i + b);
    total += (await model.loss(chunk)) * b;
    count += b;
  }
  return total / count;
}

/**
 * The unigram baseline: cross-entropy (nats) of the validation next tokens under the training
 * tokens' unigram distribution with add-one smoothing over the vocabulary. Predicted positions
 * are those of the loss (every token but the first of each row).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "../tensor/tensor.ts";
 * import { unigramBaseline } from "./lm_training.ts";
 * const train = tensor(new Int32Array([0, 1, 1]), [1, 3]); // counts 1 + [0, 2] = [1, 3]
 * const validation = tensor(new Int32Array([0, 1]), [1, 2]); // predicts one token: 1
 * const nats = unigramBaseline(train, validation, 2); // 0.2877 = -ln(3 / 4)
 * assert.equal(nats, -Math.log(3 / 4));
 * ```
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

/**
 * Probe graphs: the model's forward pass up to a layer, with a caller's reduction appended to
 * the hook values it reads, so that only the reduction leaves onnxruntime (never a dense
 * `[tokens, d_sae]` activation tensor). A transcoder is spliced into the graph as its encoder
 * applied to the layer's MLP input `blocks.{l}.ln2.hook_normalized`, exactly as
 * `Transcoder.asReplacement()` computes its `hook_acts`; the MLP of the last layer run is
 * skipped (its output is never read).
 *
 * A probe is a `GraphExtension` of `HookedModel.forward`: it compiles once per (key, token shape)
 * with the model's other graphs, and the model's weights and the transcoder parameters are graph
 * inputs, shared with every other compiled graph.
 *
 * @module
 */
import type { Graph } from "../graph/builder.ts";
import type { ElemType, Value } from "../graph/ir.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import { toTokenBatch } from "../model/tokens.ts";
import { shapeStr, type Tensor } from "../tensor/tensor.ts";
import {
  type Transcoder,
  transcoderEncode,
  type TranscoderParam,
  transcoderShapes,
} from "../transcoder/transcoder.ts";

/** What a probe's `build` can use. */
export interface ProbeContext {
  /** The value of a hook computed by the forward pass (e.g. `blocks.2.ln2.hook_normalized`). */
  hook(name: string): Value;
  /** Declares an extra graph input, fed by name when the probe runs. */
  input(name: string, dtype: ElemType, shape: readonly number[]): Value;
}

/** A probe: the forward pass up to `stopAtLayer` and a reduction of hook values. */
export interface ProbeSpec {
  /** Identifies the structure that `build` creates (with the token shape, the cache key). */
  key: string;
  /** Run blocks `0..stopAtLayer-1`. */
  stopAtLayer: number;
  /**
   * Compute the last block's MLP (default false: its output is skipped, as nothing before it
   * depends on it); true when the probe reads `blocks.{stopAtLayer-1}.hook_mlp_out` (an SAE on
   * the MLP's output). See {@linkcode encoderStop}.
   */
  keepLastMlp?: boolean;
  /** Appends the reduction and declares its outputs with `g.output`. */
  build(g: Graph, probe: ProbeContext): void;
}

/**
 * Validates token rows `[n, p]` (int32, ids in the vocabulary, p <= n_ctx) for a model.
 *
 * @example
 * ```ts
 * import { checkRows } from "./_probe_graph.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * checkRows(model, tensor(Int32Array.from([1, 2, 3, 4]), [2, 2])); // fine
 * const outOfVocab = tensor(Int32Array.from([1, 25]), [1, 2]); // 25 >= d_vocab
 * assert.throws(() => checkRows(model, outOfVocab), /outside the vocabulary/);
 * const tooLong = tensor(new Int32Array(5), [1, 5]); // 5 > n_ctx
 * assert.throws(() => checkRows(model, tooLong), /exceeds the context size/);
 * ```
 */
export function checkRows(model: HookedModel, rows: Tensor<"int32">, what = "rows"): void {
  if (rows.dtype !== "int32" || rows.shape.length !== 2) {
    throw new RangeError(
      `${what} must be an int32 tensor [n, n_ctx], got ${rows.dtype} ${shapeStr(rows.shape)}`,
    );
  }
  if (rows.shape[0] === 0 || rows.shape[1] === 0) {
    throw new RangeError(`${what} ${shapeStr(rows.shape)} hold no tokens`);
  }
  toTokenBatch(rows, model.cfg.d_vocab, model.cfg.n_ctx);
}

/**
 * Runs a probe on a batch of token rows `[b, p]` with the extra inputs in `feeds`, and returns
 * the probe's outputs.
 *
 * @example
 * ```ts
 * import { runProbe } from "./_probe_graph.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const tokens = tensor(Int32Array.from([1, 2, 3]), [1, 3]);
 * const out = await runProbe(model, tokens, {
 *   key: "mlp-in-norm:1",
 *   stopAtLayer: 2,
 *   build(g, probe) {
 *     const x = probe.hook("blocks.1.ln2.hook_normalized"); // [b, p, d_model]
 *     g.output("norm2", g.reduceSum(g.mul(x, x), [-1])); // [b, p]
 *   },
 * }, {});
 * out.norm2.shape; // [1, 3]
 * // LayerNorm's output has unit variance: ||x||^2 is d_model = 8, a little less from its eps.
 * for (const v of out.norm2.data as Float32Array) assert.ok(v > 7 && v <= 8);
 * ```
 */
export async function runProbe(
  model: HookedModel,
  tokens: Tensor<"int32">,
  spec: ProbeSpec,
  feeds: Readonly<Record<string, Tensor>>,
): Promise<Record<string, Tensor>> {
  const stop = spec.stopAtLayer;
  if (!Number.isInteger(stop) || stop < 1 || stop > model.cfg.n_layers) {
    throw new RangeError(`probe stopAtLayer ${stop} out of range [1, ${model.cfg.n_layers}]`);
  }
  const res = await model.forward(tokens, {
    stopAtLayer: stop,
    // Unless the probe reads it, the last block's MLP output is never used: skip its matmuls.
    mlpReplacements: spec.keepLastMlp ? undefined : new Map([[stop - 1, "zero"]]),
    extension: { key: `probe:${spec.key}`, build: spec.build, feeds },
  });
  return res.extra ?? {};
}

/**
 * The graph input name of a transcoder parameter in probes (`tc{layer}.W_enc`, ...).
 *
 * @example
 * ```ts
 * import { transcoderInputName } from "./_probe_graph.ts";
 * import assert from "node:assert/strict";
 * assert.equal(transcoderInputName(2, "W_enc"), "tc2.W_enc");
 * ```
 */
export function transcoderInputName(layer: number, name: TranscoderParam): string {
  return `tc${layer}.${name}`;
}

/**
 * Declares a transcoder's encoder parameters as probe inputs and returns its pre-activations and
 * feature activations `[b, p, d_sae]` on its input hook (the layer's MLP input; an SAE's hook):
 * the first half of
 * `transcoderForward`, without the decoder (never read here).
 *
 * @example
 * ```ts
 * import { encoderFeeds, runProbe, spliceEncoder } from "./_probe_graph.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const tc = Transcoder.random(mlpTranscoderConfig(1, { d_in: 8, d_sae: 16 }), 0);
 * const tokens = tensor(Int32Array.from([1, 2, 3]), [1, 3]);
 * // Active features per token (L0), computed in the graph: only [1, 3] numbers come out.
 * const out = await runProbe(model, tokens, {
 *   key: "l0:tc1",
 *   stopAtLayer: 2,
 *   build(g, probe) {
 *     const { z } = spliceEncoder(g, probe, tc); // [1, 3, 16]
 *     g.output("l0", g.reduceSum(g.cast(g.greater(z, g.scalar(0)), "float32"), [-1]));
 *   },
 * }, encoderFeeds(tc));
 * out.l0.shape; // [1, 3]
 * // The same as the transcoder's own encoder on the cached MLP input:
 * const name = "blocks.1.ln2.hook_normalized";
 * const { cache } = await model.runWithCache(tokens, { names: [name], stopAtLayer: 2 });
 * const z = await tc.encode(tensor(cache.get(name).data, [3, 8]));
 * const l0 = [0, 1, 2].map((t) => z.data.slice(t * 16, (t + 1) * 16).filter((v) => v > 0).length);
 * assert.deepEqual(Array.from(out.l0.data as Float32Array), l0);
 * ```
 */
export function spliceEncoder(
  g: Graph,
  probe: ProbeContext,
  tc: Transcoder,
): { hiddenPre: Value; z: Value } {
  const shapes = transcoderShapes(tc.cfg);
  const p = {} as Record<TranscoderParam, Value>;
  for (const name of ["W_enc", "b_enc", "b_dec"] as const) {
    p[name] = probe.input(transcoderInputName(tc.layer, name), "float32", shapes[name]);
  }
  return transcoderEncode(g, probe.hook(tc.cfg.hook_name), p);
}

/**
 * How far a probe that reads a dictionary's input hook runs: through its layer, with that layer's
 * MLP computed when the input is the MLP's output (an SAE on `hook_mlp_out`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encoderStop } from "./_probe_graph.ts";
 * import { mlpSaeConfig, mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * const tc = Transcoder.random(mlpTranscoderConfig(1, { d_in: 8, d_sae: 16 }), 0);
 * encoderStop(tc); // { stopAtLayer: 2, keepLastMlp: false }
 * const sae = Transcoder.random(mlpSaeConfig(1, { d_in: 8, d_sae: 16 }, "mlp_out"), 0);
 * assert.deepEqual(encoderStop(sae), { stopAtLayer: 2, keepLastMlp: true });
 * ```
 */
export function encoderStop(tc: Transcoder): { stopAtLayer: number; keepLastMlp: boolean } {
  return { stopAtLayer: tc.layer + 1, keepLastMlp: tc.cfg.hook_name.endsWith(".hook_mlp_out") };
}

/**
 * The feeds of the parameters `spliceEncoder` declares.
 *
 * @example
 * ```ts
 * import { encoderFeeds } from "./_probe_graph.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const tc = Transcoder.random(mlpTranscoderConfig(1, { d_in: 8, d_sae: 16 }), 0);
 * const feeds = encoderFeeds(tc);
 * Object.keys(feeds); // ["tc1.W_enc", "tc1.b_enc", "tc1.b_dec"]
 * assert.equal(feeds["tc1.W_enc"], tc.W_enc); // the transcoder's own tensors, not copies
 * ```
 */
export function encoderFeeds(tc: Transcoder): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of ["W_enc", "b_enc", "b_dec"] as const) {
    out[transcoderInputName(tc.layer, name)] = tc.params.get(name)!;
  }
  return out;
}

/**
 * A short structural key of a transcoder for probe cache keys.
 *
 * @example
 * ```ts
 * import { encoderKey } from "./_probe_graph.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const tc = Transcoder.random(mlpTranscoderConfig(1, { d_in: 8, d_sae: 16 }), 0);
 * assert.equal(encoderKey(tc), "tc1:8x16");
 * ```
 */
export function encoderKey(tc: Transcoder): string {
  const what = tc.kind === "sae" ? `sae:${tc.cfg.hook_name}` : `tc${tc.layer}`;
  return `${what}:${tc.cfg.d_in}x${tc.cfg.d_sae}`;
}

/**
 * Checks that a transcoder fits a model: its layer exists and d_in is d_model.
 *
 * @example
 * ```ts
 * import { checkTranscoder } from "./_probe_graph.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * checkTranscoder(model, Transcoder.random(mlpTranscoderConfig(1, { d_in: 8, d_sae: 16 }), 0));
 * const layer5 = Transcoder.random(mlpTranscoderConfig(5, { d_in: 8, d_sae: 16 }), 0);
 * assert.throws(() => checkTranscoder(model, layer5), RangeError); // the model has layers 0..1
 * const wide = Transcoder.random(mlpTranscoderConfig(0, { d_in: 12, d_sae: 16 }), 0);
 * assert.throws(() => checkTranscoder(model, wide), RangeError); // d_in 12, d_model 8
 * ```
 */
export function checkTranscoder(model: HookedModel, tc: Transcoder): void {
  const L = tc.layer;
  if (!Number.isInteger(L) || L < 0 || L >= model.cfg.n_layers) {
    throw new RangeError(
      `transcoder for layer ${L}, but the model has layers 0..${model.cfg.n_layers - 1}`,
    );
  }
  if (tc.cfg.d_in !== model.cfg.d_model) {
    throw new RangeError(
      `transcoder for layer ${L} has d_in ${tc.cfg.d_in}; the model's d_model is ${model.cfg.d_model}`,
    );
  }
}

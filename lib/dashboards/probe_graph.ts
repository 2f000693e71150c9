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
  checkFeatureIndex,
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
  /** Appends the reduction and declares its outputs with `g.output`. */
  build(g: Graph, probe: ProbeContext): void;
}

/** Validates token rows `[n, p]` (int32, ids in the vocabulary, p <= n_ctx) for a model. */
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

/** Rows `[start, end)` of a `[n, p]` token tensor, without copying. */
export function sliceRows(rows: Tensor<"int32">, start: number, end: number): Tensor<"int32"> {
  const p = rows.shape[1];
  return { dtype: "int32", shape: [end - start, p], data: rows.data.subarray(start * p, end * p) };
}

/**
 * Runs a probe on a batch of token rows `[b, p]` with the extra inputs in `feeds`, and returns
 * the probe's outputs.
 *
 * @example
 * ```ts ignore
 * const out = await runProbe(model, tokens, {
 *   key: "mlp-in-norm:2",
 *   stopAtLayer: 3,
 *   build(g, probe) {
 *     const x = probe.hook("blocks.2.ln2.hook_normalized"); // [b, p, d_model]
 *     g.output("norm2", g.reduceSum(g.mul(x, x), [-1]));    // [b, p]
 *   },
 * }, {});
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
    // The last block's MLP output is never read: skip its matmuls.
    mlpReplacements: new Map([[stop - 1, "zero"]]),
    extension: { key: `probe:${spec.key}`, build: spec.build, feeds },
  });
  return res.extra ?? {};
}

/** The graph input name of a transcoder parameter in probes (`tc{layer}.W_enc`, ...). */
export function transcoderInputName(layer: number, name: TranscoderParam): string {
  return `tc${layer}.${name}`;
}

/**
 * Declares a transcoder's encoder parameters as probe inputs and returns its pre-activations and
 * feature activations `[b, p, d_sae]` on the layer's MLP input: the first half of
 * `transcoderForward`, without the decoder (never read here).
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
  return transcoderEncode(g, probe.hook(`blocks.${tc.layer}.ln2.hook_normalized`), p);
}

/** The feeds of the parameters `spliceEncoder` declares. */
export function encoderFeeds(tc: Transcoder): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of ["W_enc", "b_enc", "b_dec"] as const) {
    out[transcoderInputName(tc.layer, name)] = tc.params.get(name)!;
  }
  return out;
}

/** A short structural key of a transcoder for probe cache keys. */
export function encoderKey(tc: Transcoder): string {
  return `tc${tc.layer}:${tc.cfg.d_in}x${tc.cfg.d_sae}`;
}

/** Checks that a transcoder fits a model: its layer exists and d_in is d_model. */
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

/** Throws `RangeError: feature 30000 out of range for d_sae 24576` for a bad feature index. */
export const checkFeature: (feature: number, dSae: number) => void = checkFeatureIndex;

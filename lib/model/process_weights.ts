/**
 * TransformerLens's load-time weight processing, as `HookedTransformer.from_pretrained` applies
 * it by default (in this order):
 *
 * 1. `fold_ln`: each LayerNorm's gain and bias are folded into the weights that read its output
 *    (W_Q/W_K/W_V after ln1, W_in after ln2, W_U after ln_final), and those weights are centred
 *    over their d_model input axis; LayerNorms become `LayerNormPre` (centre and scale only).
 * 2. `center_writing_weights`: every weight writing to the residual stream (W_E, W_pos, W_O,
 *    b_O, W_out, b_out) is made mean-free over d_model.
 * 3. `center_unembed`: W_U and b_U are made mean-free over the vocabulary (logits change by a
 *    per-token constant; probabilities do not).
 * 4. `fold_value_biases`: b_V is folded into b_O (`b_O += sum_h b_V[h] W_O[h]`), since each
 *    attention pattern row sums to one.
 *
 * The published transcoders were trained on the processed model, so processing is on by default.
 * Means are accumulated in float64.
 *
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import type { GPT2Config } from "./config.ts";
import { DEFAULT_PROCESSING, type Processing, type StateDict, WeightsError } from "./weights.ts";

function need(sd: StateDict, k: string): Tensor<"float32"> {
  const t = sd.get(k);
  if (!t) throw new WeightsError(`weight processing: missing tensor "${k}"`);
  return t;
}

/**
 * Subtracts, along `axis`, the mean over that axis (in place). For a `[a, n, b]` view with the
 * centred axis of size n.
 */
function centerAxis(t: Tensor<"float32">, axis: number): void {
  const outer = t.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = t.shape[axis];
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const x = t.data;
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    const base = o * n * inner;
    for (let i = 0; i < n; i++) for (let j = 0; j < inner; j++) acc[j] += x[base + i * inner + j];
    for (let j = 0; j < inner; j++) acc[j] /= n;
    for (let i = 0; i < n; i++) for (let j = 0; j < inner; j++) x[base + i * inner + j] -= acc[j];
  }
}

/**
 * Folds a LayerNorm (gain w, bias b over d_model) into a weight that reads d_model on `axis`
 * (`[..., d_model, ...]`) and its bias (the weight's shape without that axis):
 * `bias += sum_d b[d] W[.., d, ..]`, then `W *= w[d]`.
 */
function foldInto(
  W: Tensor<"float32">,
  bias: Tensor<"float32">,
  axis: number,
  w: Tensor<"float32">,
  b: Tensor<"float32">,
): void {
  const outer = W.shape.slice(0, axis).reduce((a, c) => a * c, 1);
  const n = W.shape[axis];
  const inner = W.shape.slice(axis + 1).reduce((a, c) => a * c, 1);
  const x = W.data;
  for (let o = 0; o < outer; o++) {
    const acc = new Float64Array(inner);
    for (let i = 0; i < n; i++) {
      const base = (o * n + i) * inner;
      for (let j = 0; j < inner; j++) acc[j] += b.data[i] * x[base + j];
    }
    for (let j = 0; j < inner; j++) bias.data[o * inner + j] += acc[j];
    for (let i = 0; i < n; i++) {
      const base = (o * n + i) * inner;
      for (let j = 0; j < inner; j++) x[base + j] *= w.data[i];
    }
  }
}

/**
 * fold_ln (with centring of the reading weights, as TransformerLens does by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { foldLayerNorm } from "./process_weights.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = randomStateDict(cfg, 0);
 * sd.get("blocks.0.ln2.b")!.data.fill(1);
 * const Win = sd.get("blocks.0.mlp.W_in")!; // [d_model, d_mlp] = [8, 32]
 * let col0 = 0;
 * for (let d = 0; d < 8; d++) col0 += Win.data[d * 32];
 * foldLayerNorm(sd, cfg);
 * sd.has("blocks.0.ln2.b"); // false: LayerNorms are now centre-and-scale only
 * assert.ok(Math.abs(sd.get("blocks.0.mlp.b_in")!.data[0] - col0) < 1e-6); // b_in += ln2.b W_in
 * let centred = 0;
 * for (let d = 0; d < 8; d++) centred += Win.data[d * 32];
 * assert.ok(Math.abs(centred) < 1e-6); // W_in is mean-free over d_model
 * ```
 */
export function foldLayerNorm(sd: StateDict, cfg: GPT2Config): void {
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}`;
    const [w1, b1] = [need(sd, `${p}.ln1.w`), need(sd, `${p}.ln1.b`)];
    for (const x of ["Q", "K", "V"]) {
      const W = need(sd, `${p}.attn.W_${x}`); // [h, d, dh]
      foldInto(W, need(sd, `${p}.attn.b_${x}`), 1, w1, b1);
      centerAxis(W, 1);
    }
    const [w2, b2] = [need(sd, `${p}.ln2.w`), need(sd, `${p}.ln2.b`)];
    const Win = need(sd, `${p}.mlp.W_in`); // [d, m]
    foldInto(Win, need(sd, `${p}.mlp.b_in`), 0, w2, b2);
    centerAxis(Win, 0);
    for (const k of ["ln1.w", "ln1.b", "ln2.w", "ln2.b"]) sd.delete(`${p}.${k}`);
  }
  const WU = need(sd, "unembed.W_U"); // [d, V]
  foldInto(WU, need(sd, "unembed.b_U"), 0, need(sd, "ln_final.w"), need(sd, "ln_final.b"));
  centerAxis(WU, 0);
  sd.delete("ln_final.w");
  sd.delete("ln_final.b");
}

/**
 * center_writing_weights: mean-free over d_model for everything that writes the residual stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mean } from "../tensor/ops.ts";
 * import { gpt2Config } from "./config.ts";
 * import { centerWritingWeights } from "./process_weights.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = randomStateDict(cfg, 0);
 * centerWritingWeights(sd, cfg);
 * const WE = sd.get("embed.W_E")!; // [d_vocab, d_model]
 * mean(WE.data.subarray(0, 8)); // about 0: token 0's embedding is mean-free
 * assert.ok(Math.abs(mean(WE.data.subarray(0, 8))) < 1e-7);
 * ```
 */
export function centerWritingWeights(sd: StateDict, cfg: GPT2Config): void {
  centerAxis(need(sd, "embed.W_E"), 1);
  centerAxis(need(sd, "pos_embed.W_pos"), 1);
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}`;
    centerAxis(need(sd, `${p}.attn.W_O`), 2);
    centerAxis(need(sd, `${p}.attn.b_O`), 0);
    centerAxis(need(sd, `${p}.mlp.W_out`), 1);
    centerAxis(need(sd, `${p}.mlp.b_out`), 0);
  }
}

/**
 * center_unembed: W_U and b_U mean-free over the vocabulary.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mean } from "../tensor/ops.ts";
 * import { gpt2Config } from "./config.ts";
 * import { centerUnembed } from "./process_weights.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = randomStateDict(cfg, 0);
 * sd.get("unembed.b_U")!.data.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
 * centerUnembed(sd);
 * sd.get("unembed.b_U")!.data[0]; // -4.5 (1 minus the mean 5.5)
 * assert.equal(sd.get("unembed.b_U")!.data[0], -4.5);
 * const WU = sd.get("unembed.W_U")!; // [d_model, d_vocab]
 * assert.ok(Math.abs(mean(WU.data.subarray(0, 10))) < 1e-7); // row 0 is mean-free
 * ```
 */
export function centerUnembed(sd: StateDict): void {
  centerAxis(need(sd, "unembed.W_U"), 1);
  centerAxis(need(sd, "unembed.b_U"), 0);
}

/**
 * fold_value_biases: `b_O += sum_h b_V[h] W_O[h]`, then `b_V = 0`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { foldValueBiases } from "./process_weights.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = randomStateDict(cfg, 0);
 * sd.get("blocks.0.attn.b_V")!.data.fill(1); // [n_heads, d_head] = [2, 4]
 * const WO = sd.get("blocks.0.attn.W_O")!; // [2, 4, 8], rows of d_model = 8
 * let expected = 0;
 * for (let i = 0; i < 2 * 4; i++) expected += WO.data[i * 8]; // sum of W_O[:, :, 0]
 * foldValueBiases(sd, cfg);
 * sd.get("blocks.0.attn.b_V")!.data; // Float32Array [0, 0, 0, 0, 0, 0, 0, 0]
 * assert.ok(sd.get("blocks.0.attn.b_V")!.data.every((x) => x === 0));
 * assert.ok(Math.abs(sd.get("blocks.0.attn.b_O")!.data[0] - expected) < 1e-6);
 * ```
 */
export function foldValueBiases(sd: StateDict, cfg: GPT2Config): void {
  const { n_heads: h, d_head: dh, d_model: d } = cfg;
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}`;
    const bV = need(sd, `${p}.attn.b_V`),
      WO = need(sd, `${p}.attn.W_O`),
      bO = need(sd, `${p}.attn.b_O`);
    const acc = new Float64Array(d);
    for (let i = 0; i < h * dh; i++) {
      const v = bV.data[i];
      for (let j = 0; j < d; j++) acc[j] += v * WO.data[i * d + j];
    }
    for (let j = 0; j < d; j++) bO.data[j] += acc[j];
    bV.data.fill(0);
  }
}

/**
 * Applies TransformerLens's processing in its order, in place, and returns the state dict.
 * Options default to all on (`from_pretrained`); `fold_ln: false` keeps LayerNorm weights.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { processWeights } from "./process_weights.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const stateDict = randomStateDict(cfg, 0);
 * const applied = processWeights(stateDict, cfg, { center_unembed: false });
 * applied.center_unembed; // false; the other three steps ran
 * assert.deepEqual(applied, {
 *   fold_ln: true,
 *   center_writing_weights: true,
 *   center_unembed: false,
 *   fold_value_biases: true,
 * });
 * assert.equal(stateDict.has("ln_final.w"), false);
 * ```
 */
export function processWeights(
  sd: StateDict,
  cfg: GPT2Config,
  options: Partial<Processing> = {},
): Processing {
  const p = { ...DEFAULT_PROCESSING, ...options };
  if (p.fold_ln) foldLayerNorm(sd, cfg);
  // Exact with or without fold_ln: every reader of the residual stream is a LayerNorm, which
  // removes the mean anyway.
  if (p.center_writing_weights) centerWritingWeights(sd, cfg);
  if (p.center_unembed) centerUnembed(sd);
  if (p.fold_value_biases) foldValueBiases(sd, cfg);
  return p;
}

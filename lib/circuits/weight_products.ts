/**
 * Products of the model's and transcoders' weights that circuits and dashboards both use, in one
 * place (float64 on the host):
 *
 * - `encoderColumn(tc, j)`: `W_enc[:, j]` `[d_in]`, what feature j reads;
 * - `decoderProducts(tc, v)`: `W_dec v` `[d_sae]`, how much each feature's output moves along v
 *   (optionally with mean-free decoder rows, as LayerNorm sees them);
 * - `headOvVector(model, head, u)`: `W_V (W_O u)` `[d_model]`, what a head must read at a source
 *   token for its output to move along u.
 *
 * Flat layouts (row-major, as the tensors store them): `W_enc` `[d_in, d_sae]`, `W_dec`
 * `[d_sae, d_out]`, `W_V` `[n_heads, d_model, d_head]`, `W_O` `[n_heads, d_head, d_model]`.
 *
 * @module
 */
import type { HookedModel } from "../model/hooked_model.ts";
import { checkFeatureIndex, type Transcoder } from "../transcoder/transcoder.ts";

/** An attention head. */
export interface HeadRef {
  layer: number;
  head: number;
}

function checkHead(model: HookedModel, { layer, head }: HeadRef): void {
  const { n_layers: L, n_heads: H } = model.cfg;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
    throw new RangeError(`attention layer ${layer} out of range for n_layers ${L}`);
  }
  if (!Number.isInteger(head) || head < 0 || head >= H) {
    throw new RangeError(`head ${head} out of range for n_heads ${H}`);
  }
}

/**
 * The encoder column `W_enc[:, i]` `[d_in]` of a feature.
 *
 * @example
 * ```ts
 * import { encoderColumn } from "./weight_products.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const tc = Transcoder.random(mlpTranscoderConfig(0, { d_in: 4, d_sae: 8 }), 0);
 * const col = encoderColumn(tc, 3); // Float64Array(4)
 * assert.deepEqual(Array.from(col), [0, 1, 2, 3].map((k) => tc.W_enc.data[k * 8 + 3]));
 * ```
 */
export function encoderColumn(tc: Transcoder, feature: number): Float64Array {
  checkFeatureIndex(feature, tc.cfg.d_sae);
  const { d_in: d, d_sae: S } = tc.cfg;
  const W = tc.W_enc.data, out = new Float64Array(d);
  for (let k = 0; k < d; k++) out[k] = W[k * S + feature];
  return out;
}

/**
 * `W_dec v` `[d_sae]`: each feature's decoder row read along `v` `[d_out]`. With `meanFree`,
 * the rows are first made mean-free (equivalently, v's mean is removed), as LayerNorm, which
 * subtracts the mean, sees them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decoderProducts } from "./weight_products.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * const tc = Transcoder.random(mlpTranscoderConfig(0, { d_in: 4, d_sae: 6 }), 1);
 * const v = [1, 0, 0, 0];
 * const p = decoderProducts(tc, v); // [d_sae]: W_dec[:, 0]
 * assert.deepEqual(Array.from(p), Array.from({ length: 6 }, (_, j) => tc.W_dec.data[j * 4]));
 * // A constant direction, which LayerNorm removes anyway, gives 0 with mean-free rows:
 * assert.ok(decoderProducts(tc, [2, 2, 2, 2], { meanFree: true }).every((x) => x === 0));
 * ```
 */
export function decoderProducts(
  tc: Transcoder,
  v: ArrayLike<number>,
  { meanFree = false }: { meanFree?: boolean } = {},
): Float64Array {
  const { d_sae: S, d_out: d } = tc.cfg;
  if (v.length !== d) throw new RangeError(`vector has ${v.length} entries, expected d_out ${d}`);
  let mean = 0;
  if (meanFree) {
    for (let k = 0; k < d; k++) mean += v[k];
    mean /= d;
  }
  const W = tc.W_dec.data, out = new Float64Array(S);
  for (let j = 0; j < S; j++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += W[j * d + k] * (v[k] - mean);
    out[j] = s;
  }
  return out;
}

/**
 * `OV[l, h] @ u = W_V[l, h] (W_O[l, h] u)` `[d_model]`: what head (l, h) must read at a source
 * token for its output to move along `u`.
 *
 * @example
 * ```ts
 * import { headOvVector } from "./weight_products.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const u = Float64Array.from({ length: 8 }, (_, k) => k - 3.5);
 * const r = headOvVector(model, { layer: 0, head: 1 }, u);
 * r.length; // 8 (d_model)
 * // OV is linear:
 * const u2 = u.map((x) => 2 * x);
 * assert.deepEqual(headOvVector(model, { layer: 0, head: 1 }, u2), r.map((x) => 2 * x));
 * ```
 */
export function headOvVector(model: HookedModel, ref: HeadRef, u: ArrayLike<number>): Float64Array {
  checkHead(model, ref);
  const { d_model: d, d_head: dh } = model.cfg;
  if (u.length !== d) throw new RangeError(`vector has ${u.length} entries, expected d_model ${d}`);
  const WO = model.param(`blocks.${ref.layer}.attn.W_O`).data; // [h, dh, d]
  const WV = model.param(`blocks.${ref.layer}.attn.W_V`).data; // [h, d, dh]
  const a = new Float64Array(dh);
  for (let e = 0; e < dh; e++) {
    const o = (ref.head * dh + e) * d;
    let s = 0;
    for (let k = 0; k < d; k++) s += WO[o + k] * u[k];
    a[e] = s;
  }
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const o = (ref.head * d + j) * dh;
    let s = 0;
    for (let e = 0; e < dh; e++) s += WV[o + e] * a[e];
    out[j] = s;
  }
  return out;
}

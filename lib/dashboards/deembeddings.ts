/**
 * De-embeddings: which input tokens a direction in the residual stream reads, ignoring
 * positional embeddings and LayerNorms (the reference's raw de-embeddings in
 * `feature_dashboards.py`), from the model's processed weights:
 *
 * - direct: `W_E @ W_enc[:, i]` `[d_vocab]`;
 * - through attention head (l, h): `W_E @ OV[l, h] @ W_enc[:, i]`, with
 *   `OV[l, h] = W_V[l, h] W_O[l, h]` `[d_model, d_model]` (`W_V [h, d, dh]`, `W_O [h, dh, d]`);
 * - any vector: `W_E @ v` (a `FeatureVector`'s vector, for instance);
 * - the OV-norm heatmap `||OV[l, h] @ W_enc[:, i]||` for layers `0..layer` `[layers][heads]`.
 *
 * Host loops with float64 accumulation; `W_E @ v` reads `W_E` once in memory order.
 *
 * @module
 */
import type { FeatureVector } from "../circuits/feature_vector.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { encoderColumn, headOvVector, type HeadRef } from "../circuits/weight_products.ts";
import { rankTokens, type TokenValue } from "./ranking.ts";

/** A de-embedding: all values `[d_vocab]` and the top and bottom k tokens. */
export interface Deembedding {
  values: Float64Array;
  top: TokenValue[];
  bottom: TokenValue[];
}

function checkVector(v: ArrayLike<number>, d: number): void {
  if (v.length !== d) throw new RangeError(`vector has ${v.length} entries, expected d_model ${d}`);
}

/**
 * `W_E @ v` `[d_vocab]` for a vector `[d_model]`, with the top and bottom k tokens.
 *
 * @example
 * ```ts
 * import { deembedVector } from "./deembeddings.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model } = await loadPretrained("tiny");
 * // The embedding of " United" reads itself most, then related tokens.
 * const id = model.toSingleToken(" United"), d = model.cfg.d_model;
 * const { top, values } = deembedVector(model, model.W_E.data.subarray(id * d, (id + 1) * d), {
 *   k: 3,
 * });
 * top.map((t) => t.str); // [" United", " Great", " Republic"]
 * assert.equal(top[0].token, id);
 * assert.equal(values.length, model.cfg.d_vocab);
 * ```
 */
export function deembedVector(
  model: HookedModel,
  v: ArrayLike<number>,
  { k = 7 }: { k?: number } = {},
): Deembedding {
  const { d_model: d, d_vocab: V } = model.cfg;
  checkVector(v, d);
  const WE = model.W_E.data;
  const x = Float64Array.from(v as ArrayLike<number>);
  const values = new Float64Array(V);
  for (let t = 0; t < V; t++) {
    const o = t * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += WE[o + j] * x[j];
    values[t] = s;
  }
  return { values, ...rankTokens(values, k, (id) => model.toString([id])) };
}

/**
 * De-embedding of a transcoder feature: `W_E @ W_enc[:, i]` (direct), or through a head,
 * `W_E @ OV[l, h] @ W_enc[:, i]` (the reference's `get_deembeddings_for_transcoder_feature`).
 *
 * @example
 * ```ts
 * import { featureDeembedding } from "./deembeddings.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const direct = featureDeembedding(model, transcoders[0]!, 37, { k: 4 });
 * direct.top.map((t) => t.str); // [" State", " Congress", " Government", " Commission"]
 * assert.equal(direct.top[0].value, direct.values.reduce((x, y) => Math.max(x, y)));
 * // Through head 3 of layer 1, for the layer-2 transcoder's feature 53:
 * const viaHead = featureDeembedding(model, transcoders[2]!, 53, { head: { layer: 1, head: 3 } });
 * viaHead.top.length; // 7
 * ```
 */
export function featureDeembedding(
  model: HookedModel,
  tc: Transcoder,
  feature: number,
  { k = 7, head }: { k?: number; head?: HeadRef } = {},
): Deembedding {
  const col = encoderColumn(tc, feature);
  checkVector(col, model.cfg.d_model);
  return deembedVector(model, head ? headOvVector(model, head, col) : col, { k });
}

/**
 * `W_E @ v` of a feature vector's vector (the reference's `get_deembeddings_for_feature_vector`).
 *
 * @example
 * ```ts
 * import { featureDeembedding, featureVectorDeembedding } from "./deembeddings.ts";
 * import { transcoderFeatureVector } from "../circuits/paths.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const fv = transcoderFeatureVector(transcoders[0]!, 53); // its encoder column
 * const d = featureVectorDeembedding(model, fv, { k: 3 });
 * d.top.map((t) => t.str); // [" citizens", "citizens", " people"]
 * assert.deepEqual(d.values, featureDeembedding(model, transcoders[0]!, 53).values);
 * ```
 */
export function featureVectorDeembedding(
  model: HookedModel,
  fv: FeatureVector,
  { k = 7 }: { k?: number } = {},
): Deembedding {
  return deembedVector(model, fv.vector, { k });
}

/**
 * The OV-norm heatmap of a feature: `||OV[l, h] @ W_enc[:, i]||` for layers `0..layer` (default
 * the transcoder's layer) and every head, `[layer + 1][n_heads]`.
 *
 * @example
 * ```ts
 * import { featureOvNorms } from "./deembeddings.ts";
 * import { encoderColumn, headOvVector } from "../circuits/weight_products.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const norms = featureOvNorms(model, transcoders[2]!, 53); // norms[l][h]
 * [norms.length, norms[0].length]; // [3, 4]: layers 0..2, 4 heads
 * const v = headOvVector(model, { layer: 1, head: 3 }, encoderColumn(transcoders[2]!, 53));
 * assert.ok(Math.abs(norms[1][3] - Math.hypot(...v)) < 1e-12);
 * ```
 */
export function featureOvNorms(
  model: HookedModel,
  tc: Transcoder,
  feature: number,
  { layer = tc.layer }: { layer?: number } = {},
): Float64Array[] {
  const col = encoderColumn(tc, feature);
  checkVector(col, model.cfg.d_model);
  if (!Number.isInteger(layer) || layer < 0 || layer >= model.cfg.n_layers) {
    throw new RangeError(`layer ${layer} out of range for n_layers ${model.cfg.n_layers}`);
  }
  const out: Float64Array[] = [];
  for (let l = 0; l <= layer; l++) {
    const row = new Float64Array(model.cfg.n_heads);
    for (let h = 0; h < row.length; h++) {
      const v = headOvVector(model, { layer: l, head: h }, col);
      let s = 0;
      for (let j = 0; j < v.length; j++) s += v[j] * v[j];
      row[h] = Math.sqrt(s);
    }
    out.push(row);
  }
  return out;
}

/** The input-independent analysis of a feature (the reference's `display_analysis_for_transcoder_feature`). */
export interface FeatureInputAnalysis {
  feature: number;
  layer: number;
  /** Direct de-embedding `W_E @ W_enc[:, i]`. */
  direct: Deembedding;
  /** `[layer + 1][n_heads]` OV norms. */
  ovNorms: Float64Array[];
  /** The heads with the largest OV norms and the de-embeddings through them. */
  heads: (HeadRef & { norm: number; deembedding: Deembedding })[];
}

/**
 * Direct de-embedding, OV-norm heatmap and de-embeddings through the `attnK` heads with the
 * largest OV norms; `k` tokens each (default 7, as every other de-embedding).
 *
 * @example
 * ```ts
 * import { featureInputAnalysis } from "./deembeddings.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const a = featureInputAnalysis(model, transcoders[2]!, 53, { k: 4, attnK: 2 });
 * a.heads.map(({ layer, head }) => [layer, head]); // [[1, 3], [2, 3]]: largest OV norms first
 * assert.equal(a.heads[0].norm, Math.max(...a.ovNorms.flatMap((row) => Array.from(row))));
 * assert.equal(a.direct.top.length, 4);
 * ```
 */
export function featureInputAnalysis(
  model: HookedModel,
  tc: Transcoder,
  feature: number,
  { k = 7, attnK = 2 }: { k?: number; attnK?: number } = {},
): FeatureInputAnalysis {
  const direct = featureDeembedding(model, tc, feature, { k });
  const ovNorms = featureOvNorms(model, tc, feature);
  const ranked = ovNorms.flatMap((row, layer) =>
    Array.from(row, (norm, head) => ({ layer, head, norm }))
  ).sort((a, b) => b.norm - a.norm || a.layer - b.layer || a.head - b.head);
  const heads = ranked.slice(0, Math.max(0, attnK)).map((h) => ({
    ...h,
    deembedding: featureDeembedding(model, tc, feature, { k, head: h }),
  }));
  return { feature, layer: tc.layer, direct, ovNorms, heads };
}

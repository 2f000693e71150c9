/**
 * Direct logit effects of a transcoder feature: its decoder row mapped straight to the
 * vocabulary, `W_dec[i] @ W_U` `[d_vocab]`, with no final LayerNorm, as the reference's
 * `get_logits_for_feature` / `display_logits_for_feature` (whose histogram shows all values).
 *
 * @module
 */
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { rankTokens, type TokenValue, type ValueHistogram, valueHistogram } from "./ranking.ts";

/** The direct logit effects of a feature. */
export interface LogitEffects {
  feature: number;
  /** `[d_vocab]` `W_dec[i] @ W_U` (accumulated in float64). */
  values: Float64Array;
  /** The k largest effects, largest first, and the k smallest, smallest first. */
  top: TokenValue[];
  bottom: TokenValue[];
  /** Histogram of all d_vocab values. */
  histogram: ValueHistogram;
}

/**
 * `v @ W_U` `[d_vocab]` for a vector `v` `[d_model]` (float64 accumulation; one pass over W_U
 * row by row, so memory is read in order).
 *
 * @example
 * ```ts
 * import { unembedVector } from "./logit_effects.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const e2 = Float64Array.from({ length: 8 }, (_, k) => (k === 2 ? 1 : 0));
 * const logits = unembedVector(model, e2); // Float64Array(20): row 2 of W_U
 * assert.deepEqual(logits, Float64Array.from(model.W_U.data.subarray(2 * 20, 3 * 20)));
 * ```
 */
export function unembedVector(model: HookedModel, v: ArrayLike<number>): Float64Array {
  const { d_model: d, d_vocab: V } = model.cfg;
  if (v.length !== d) throw new RangeError(`vector has ${v.length} entries, expected d_model ${d}`);
  const WU = model.W_U.data;
  const out = new Float64Array(V);
  for (let k = 0; k < d; k++) {
    const x = v[k];
    if (x === 0) continue;
    const row = WU.subarray(k * V, (k + 1) * V);
    for (let t = 0; t < V; t++) out[t] += x * row[t];
  }
  return out;
}

/**
 * The direct logit effects of feature `i`: `W_dec[i] @ W_U` with the top and bottom k tokens
 * (text by `model.toString([id])`) and a histogram of all values.
 *
 * @example
 * ```ts
 * import { featureLogitEffects } from "./logit_effects.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const fx = featureLogitEffects(model, transcoders[0]!, 24, { k: 3 });
 * fx.top.map((t) => t.str); // [" products", " producers", " consumption"]
 * fx.top[0]; // { token: 3186, str: " products", value: 1.25 }
 * assert.equal(fx.values.length, model.cfg.d_vocab);
 * assert.equal(fx.histogram.counts.reduce((a, b) => a + b), model.cfg.d_vocab); // 50 bins
 * ```
 */
export function featureLogitEffects(
  model: HookedModel,
  tc: Transcoder,
  feature: number,
  { k = 7, bins = 50 }: { k?: number; bins?: number } = {},
): LogitEffects {
  checkFeatureIndex(feature, tc.cfg.d_sae);
  const d = tc.cfg.d_out;
  if (d !== model.cfg.d_model) {
    throw new RangeError(
      `transcoder d_out ${d} does not match the model's d_model ${model.cfg.d_model}`,
    );
  }
  const values = unembedVector(model, tc.W_dec.data.subarray(feature * d, (feature + 1) * d));
  const { top, bottom } = rankTokens(values, k, (id) => model.toString([id]));
  return { feature, values, top, bottom, histogram: valueHistogram(values, bins) };
}

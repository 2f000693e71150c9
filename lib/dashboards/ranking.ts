/**
 * Shared shapes of the weight-based analyses: ranked entries (tokens or features with values),
 * top and bottom k of a vector, and a linear histogram of all its values.
 *
 * @module
 */
import { topk } from "../tensor/ops.ts";
import { tokenStrings } from "../tokenizer/gpt2_tokenizer.ts";

/** A ranked vocabulary entry: token id, its text and a value. */
export interface TokenValue {
  token: number;
  str: string;
  value: number;
}

/** A ranked feature of a transcoder: its index and a value. */
export interface FeatureValue {
  feature: number;
  value: number;
}

/** Equal-width histogram of values: `edges [bins + 1]`, `counts [bins]`. */
export interface ValueHistogram {
  edges: Float64Array;
  counts: Float64Array;
}

/**
 * The k largest and k smallest entries of a vector (largest first / smallest first).
 *
 * @example
 * ```ts
 * import { topBottom } from "./ranking.ts";
 * import assert from "node:assert/strict";
 * const { top, bottom } = topBottom([0.5, -2, 3, 1], 2);
 * top; // [{ index: 2, value: 3 }, { index: 3, value: 1 }]
 * bottom; // [{ index: 1, value: -2 }, { index: 0, value: 0.5 }]
 * assert.deepEqual(top.map((r) => r.index), [2, 3]);
 * assert.deepEqual(bottom.map((r) => r.index), [1, 0]);
 * ```
 */
export function topBottom(values: ArrayLike<number>, k: number): {
  top: { index: number; value: number }[];
  bottom: { index: number; value: number }[];
} {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be an integer >= 0, got ${k}`);
  return { top: topk(values, k), bottom: topk(values, k, { largest: false }) };
}

/**
 * Top and bottom k of a `[d_vocab]` vector as tokens with their text.
 *
 * @example
 * ```ts
 * import { rankTokens } from "./ranking.ts";
 * rankTokens(Float64Array.from([0.5, -2, 3]), 1).top; // [{ token: 2, str: "#", value: 3 }]
 * ```
 */
export function rankTokens(
  values: ArrayLike<number>,
  k: number,
  toStr: (id: number) => string = (id) => tokenStrings([id])[0],
): { top: TokenValue[]; bottom: TokenValue[] } {
  const { top, bottom } = topBottom(values, k);
  const label = (r: { index: number; value: number }) => ({
    token: r.index,
    str: toStr(r.index),
    value: r.value,
  });
  return { top: top.map(label), bottom: bottom.map(label) };
}

/**
 * Top and bottom k of a `[d_sae]` vector as features.
 *
 * @example
 * ```ts
 * import { rankFeatures } from "./ranking.ts";
 * import assert from "node:assert/strict";
 * const { top, bottom } = rankFeatures(Float64Array.from([0.5, -2, 3]), 1);
 * assert.deepEqual(top, [{ feature: 2, value: 3 }]);
 * assert.deepEqual(bottom, [{ feature: 1, value: -2 }]);
 * ```
 */
export function rankFeatures(
  values: ArrayLike<number>,
  k: number,
): { top: FeatureValue[]; bottom: FeatureValue[] } {
  const { top, bottom } = topBottom(values, k);
  const f = (r: { index: number; value: number }) => ({ feature: r.index, value: r.value });
  return { top: top.map(f), bottom: bottom.map(f) };
}

/**
 * A histogram of all values on `bins` equal-width bins between their min and max (the last bin
 * includes the max).
 *
 * @example
 * ```ts
 * import { valueHistogram } from "./ranking.ts";
 * Array.from(valueHistogram([0, 1, 1, 2], 2).counts); // [1, 3]
 * ```
 */
export function valueHistogram(values: ArrayLike<number>, bins = 50): ValueHistogram {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`bins must be a positive integer, got ${bins}`);
  }
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi >= lo)) lo = hi = 0;
  if (hi === lo) hi = lo + 1;
  const edges = Float64Array.from({ length: bins + 1 }, (_, j) => lo + ((hi - lo) * j) / bins);
  const counts = new Float64Array(bins);
  const scale = bins / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) * scale)))]++;
  }
  return { edges, counts };
}

/**
 * The fixed, log-spaced bins of the feature-activation histograms and the coarser buckets of the
 * activation-band reservoirs. Fixed edges (the same for every feature, layer and shard) are what
 * make histograms and reservoirs of partial results add up exactly.
 *
 * Histogram bins (62), for firing activations `v > 0`:
 *
 * - bin 0: `0 < v < 1e-3` (underflow)
 * - bin j, 1..60: `10^(-3 + (j-1)/10) <= v < 10^(-3 + j/10)` (ten bins per decade, 1e-3 .. 1e3)
 * - bin 61: `v >= 1e3` (overflow)
 *
 * Band buckets (32), five per decade, each the union of two neighbouring histogram bins:
 * bucket 0 = bin 0, bucket k (1..30) = bins 2k-1 and 2k (`10^(-3 + (k-1)/5) <= v < 10^(-3 + k/5)`),
 * bucket 31 = bin 61.
 *
 * @module
 */

/**
 * Histogram bins per decade.
 *
 * @example
 * ```ts
 * import { BIN_EDGES, BINS_PER_DECADE } from "./_activation_bins.ts";
 * import assert from "node:assert/strict";
 * BINS_PER_DECADE; // 10
 * assert.equal(BIN_EDGES[1 + BINS_PER_DECADE], 0.01); // one decade above the first edge 1e-3
 * ```
 */
export const BINS_PER_DECADE = 10;
/**
 * log10 of the lowest regular bin edge (1e-3).
 *
 * @example
 * ```ts
 * import { BIN_EDGES, BIN_LOG10_MIN } from "./_activation_bins.ts";
 * import assert from "node:assert/strict";
 * assert.equal(BIN_EDGES[1], Number(`1e${BIN_LOG10_MIN}`)); // 0.001, exactly
 * ```
 */
export const BIN_LOG10_MIN = -3;
/**
 * log10 of the highest regular bin edge (1e3).
 *
 * @example
 * ```ts
 * import { BIN_EDGES, BIN_LOG10_MAX, NUM_BINS } from "./_activation_bins.ts";
 * import assert from "node:assert/strict";
 * // The overflow bin starts at 1000:
 * assert.equal(BIN_EDGES[NUM_BINS - 1], Number(`1e${BIN_LOG10_MAX}`));
 * ```
 */
export const BIN_LOG10_MAX = 3;
/**
 * Number of histogram bins, underflow and overflow included (62).
 *
 * @example
 * ```ts
 * import { binOf, NUM_BINS } from "./_activation_bins.ts";
 * import assert from "node:assert/strict";
 * NUM_BINS; // 62
 * assert.equal(binOf(1e9), NUM_BINS - 1); // the overflow bin
 * ```
 */
export const NUM_BINS = (BIN_LOG10_MAX - BIN_LOG10_MIN) * BINS_PER_DECADE + 2;
/**
 * Number of band-reservoir buckets (32).
 *
 * @example
 * ```ts
 * import { bucketOfBin, NUM_BINS, NUM_BUCKETS } from "./_activation_bins.ts";
 * import assert from "node:assert/strict";
 * NUM_BUCKETS; // 32
 * assert.equal(bucketOfBin(NUM_BINS - 1), NUM_BUCKETS - 1); // overflow bin -> last bucket
 * ```
 */
export const NUM_BUCKETS = (NUM_BINS - 2) / 2 + 2;

/**
 * The bin edges `[NUM_BINS + 1]`: `edges[j] <= v < edges[j + 1]` for bin j; `edges[0] = 0`,
 * `edges[NUM_BINS] = Infinity`.
 *
 * @example
 * ```ts
 * import { BIN_EDGES } from "./_activation_bins.ts";
 * [BIN_EDGES[0], BIN_EDGES[1], BIN_EDGES[61], BIN_EDGES[62]]; // [0, 0.001, 1000, Infinity]
 * ```
 */
export const BIN_EDGES: Float64Array = (() => {
  const e = new Float64Array(NUM_BINS + 1);
  e[0] = 0;
  for (let j = 1; j < NUM_BINS; j++) {
    // Exact powers of ten at whole decades (10 ** -3 is not exactly 1e-3 in binary).
    const num = BIN_LOG10_MIN * BINS_PER_DECADE + (j - 1);
    e[j] = num % BINS_PER_DECADE === 0
      ? Number(`1e${num / BINS_PER_DECADE}`)
      : 10 ** (num / BINS_PER_DECADE);
  }
  e[NUM_BINS] = Infinity;
  return e;
})();

/**
 * The histogram bin of a firing activation `v > 0` (consistent with `BIN_EDGES` exactly).
 *
 * @example
 * ```ts
 * import { binOf } from "./_activation_bins.ts";
 * [binOf(1e-4), binOf(0.001), binOf(1), binOf(5e3)]; // [0, 1, 31, 61]
 * ```
 */
export function binOf(v: number): number {
  if (v < BIN_EDGES[1]) return 0;
  if (v >= BIN_EDGES[NUM_BINS - 1]) return NUM_BINS - 1;
  let j = 1 + Math.floor((Math.log10(v) - BIN_LOG10_MIN) * BINS_PER_DECADE);
  if (j < 1) j = 1;
  else if (j > NUM_BINS - 2) j = NUM_BINS - 2;
  // Math.log10 may be off by an ulp at an edge: settle against the edge table.
  if (v < BIN_EDGES[j]) j--;
  else if (v >= BIN_EDGES[j + 1]) j++;
  return j;
}

/**
 * The band-reservoir bucket of a histogram bin.
 *
 * @example
 * ```ts
 * import { bucketOfBin } from "./_activation_bins.ts";
 * [bucketOfBin(0), bucketOfBin(1), bucketOfBin(2), bucketOfBin(3), bucketOfBin(61)]; // [0, 1, 1, 2, 31]
 * ```
 */
export function bucketOfBin(bin: number): number {
  return bin === 0 ? 0 : bin === NUM_BINS - 1 ? NUM_BUCKETS - 1 : (bin + 1) >> 1;
}

/**
 * The approximate value of the `rank`-th smallest (0-based, fractional allowed) of the counts in
 * a histogram `[NUM_BINS]`: the bin holding that rank, interpolated log-linearly inside it
 * (linearly in the underflow bin, between 1e3 and `max` in the overflow bin), clamped to `max`.
 * The error is below one bin (a factor 10^0.1 = 1.26) when values spread within bins.
 *
 * `offset` is where the histogram starts in `hist` (`feature * NUM_BINS` in the `[d_sae,
 * NUM_BINS]` histograms of `LayerFeatureStats`).
 *
 * @example
 * ```ts
 * import { BIN_EDGES, binOf, histogramRankValue, NUM_BINS } from "./_activation_bins.ts";
 * import assert from "node:assert/strict";
 * // Two firing values, 1.05 and 10 (the max).
 * const hist = new Float64Array(NUM_BINS);
 * hist[binOf(1.05)]++;
 * hist[binOf(10)]++;
 * const low = histogramRankValue(hist, 0, 0, 10); // 1.122: the log-middle of the bin [1, 1.259)
 * assert.ok(low >= BIN_EDGES[binOf(1.05)] && low < BIN_EDGES[binOf(1.05) + 1]);
 * assert.equal(histogramRankValue(hist, 0, 1, 10), 10); // the bin holding the max is clamped to it
 * ```
 */
export function histogramRankValue(
  hist: ArrayLike<number>,
  offset: number,
  rank: number,
  max: number,
): number {
  let cum = 0;
  for (let j = 0; j < NUM_BINS; j++) {
    const c = hist[offset + j];
    if (c > 0 && rank < cum + c) {
      const f = Math.min(1, Math.max(0, (rank - cum + 0.5) / c));
      const lo = BIN_EDGES[j], hi = Math.min(BIN_EDGES[j + 1], max);
      let v: number;
      if (j === 0 || !(hi > lo)) v = lo + f * (Math.max(hi, lo) - lo);
      else v = lo * (hi / lo) ** f;
      return Math.min(v, max);
    }
    cum += c;
  }
  return max;
}

/**
 * How many of a histogram's counts lie in `(lo, hi]`, counting a partly covered bin in
 * proportion to the log-width it shares with the interval (linear width in the underflow bin;
 * the bin holding `max` spans its lower edge .. max).
 *
 * @example
 * ```ts
 * import { binOf, histogramMass, NUM_BINS } from "./_activation_bins.ts";
 * import assert from "node:assert/strict";
 * const hist = new Float64Array(NUM_BINS);
 * hist[binOf(1.05)]++; // bin [1, 1.259)
 * hist[binOf(10)]++; // the max: a point mass at 10
 * assert.equal(histogramMass(hist, 0, 0, 5, 10), 1);
 * assert.equal(histogramMass(hist, 0, 5, 10, 10), 1);
 * // (0, 10^0.05] covers half of the bin [1, 10^0.1) in log width:
 * const half = histogramMass(hist, 0, 0, 10 ** 0.05, 10); // 0.5
 * assert.ok(Math.abs(half - 0.5) < 1e-12);
 * ```
 */
export function histogramMass(
  hist: ArrayLike<number>,
  offset: number,
  lo: number,
  hi: number,
  max: number,
): number {
  let mass = 0;
  for (let j = 0; j < NUM_BINS; j++) {
    const c = hist[offset + j];
    if (c === 0) continue;
    // The bin holding the max spans [edge, max] only.
    const a = BIN_EDGES[j], b = Math.max(a, Math.min(BIN_EDGES[j + 1], max));
    if (b === a) { // the max sits exactly on the bin's lower edge: a point mass
      if (a > lo && a <= hi) mass += c;
      continue;
    }
    const x = Math.max(a, lo), y = Math.min(b, hi);
    if (!(y > x)) continue;
    const frac = j === 0 ? (y - x) / (b - a) : Math.log(y / x) / Math.log(b / a);
    mass += c * Math.min(1, Math.max(0, frac));
  }
  return mass;
}

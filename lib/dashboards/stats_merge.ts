/**
 * Merging feature statistics of disjoint row sets (shards of a corpus) into the statistics of
 * one pass over all of them.
 *
 * Exact (identical to one pass): token, row and firing counts, histograms, maxima, L0 sums,
 * overflow counts, the top-k examples (a total order: value, then earlier token) and the band
 * samples (each bucket keeps the smallest hash priorities, which do not depend on the order of
 * the rows). Sums and sums of squares add in float64, so they agree with one pass up to float64
 * rounding (about 1e-16 relative), not bit for bit.
 *
 * @module
 */
import { NUM_BUCKETS } from "./_activation_bins.ts";
import { type FeatureStatsConfig, LayerFeatureStats } from "./feature_stats.ts";

function sameConfig(a: FeatureStatsConfig, b: FeatureStatsConfig): void {
  for (const key of Object.keys(a) as (keyof FeatureStatsConfig)[]) {
    if (a[key] !== b[key]) {
      throw new RangeError(
        `cannot merge feature stats with different ${key}: ${JSON.stringify(a[key])} vs ${
          JSON.stringify(b[key])
        }`,
      );
    }
  }
}

/**
 * Merges two partial results computed on disjoint rows with the same transcoder, model and
 * settings (see the module notes for what is exact).
 *
 * @example
 * ```ts
 * import { mergeFeatureStats } from "./stats_merge.ts";
 * import { computeFeatureStats } from "./feature_stats.ts";
 * import { sliceRows } from "../tensor/tensor.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const tc = Transcoder.random(mlpTranscoderConfig(0, { d_in: 8, d_sae: 16 }), 0);
 * const rows = tensor(Int32Array.from({ length: 16 }, (_, i) => (7 * i) % 20), [4, 4]);
 * const opts = { batchSize: 2, quiet: true };
 * const a = await computeFeatureStats(model, tc, sliceRows(rows, 0, 2), opts);
 * const b = await computeFeatureStats(model, tc, sliceRows(rows, 2, 4), { ...opts, rowOffset: 2 });
 * const all = mergeFeatureStats(a, b); // as computeFeatureStats over both halves
 * const once = await computeFeatureStats(model, tc, rows, opts);
 * all.tokens; // 16
 * assert.deepEqual(all.count, once.count);
 * assert.deepEqual(all.hist, once.hist);
 * assert.deepEqual(all.topExamples(3), once.topExamples(3));
 * assert.deepEqual(all.bandSamples(3), once.bandSamples(3));
 * ```
 */
export function mergeFeatureStats(a: LayerFeatureStats, b: LayerFeatureStats): LayerFeatureStats {
  sameConfig(a.config, b.config);
  const seen = new Set(a.rowIndices);
  for (const r of b.rowIndices) {
    if (seen.has(r)) throw new RangeError(`corpus row ${r} appears in both partial results`);
  }
  if ((a.tokenRows === undefined) !== (b.tokenRows === undefined)) {
    throw new RangeError("cannot merge feature stats where only one keeps its token rows");
  }
  const { dSae: S, topK, bandSamples: R, seqLen: p } = a.config;
  const out = LayerFeatureStats.empty(a.config, {
    maxActive: Math.max(a.maxActive, b.maxActive),
    corpus: JSON.stringify(a.corpus) === JSON.stringify(b.corpus) ? a.corpus : undefined,
  });
  // Rows: the union, sorted by corpus row index.
  const order = [
    ...Array.from(a.rowIndices, (r, i) => ({ r, src: a, i })),
    ...Array.from(b.rowIndices, (r, i) => ({ r, src: b, i })),
  ].sort((x, y) => x.r - y.r);
  out.rowIndices = Int32Array.from(order, (o) => o.r);
  if (a.tokenRows && b.tokenRows) {
    const data = new Int32Array(order.length * p);
    order.forEach((o, j) => {
      data.set(o.src.tokenRows!.data.subarray(o.i * p, (o.i + 1) * p), j * p);
    });
    out.tokenRows = { dtype: "int32", shape: [order.length, p], data };
  }
  out.tokens = a.tokens + b.tokens;
  out.l0Sum = a.l0Sum + b.l0Sum;
  out.maxActiveUsed = Math.max(a.maxActiveUsed, b.maxActiveUsed);
  out.overflowTokens = a.overflowTokens + b.overflowTokens;
  out.droppedActivations = a.droppedActivations + b.droppedActivations;
  for (let i = 0; i < S; i++) {
    out.count[i] = a.count[i] + b.count[i];
    out.sum[i] = a.sum[i] + b.sum[i];
    out.sumSquares[i] = a.sumSquares[i] + b.sumSquares[i];
    out.max[i] = Math.max(a.max[i], b.max[i]);
  }
  for (let j = 0; j < out.hist.length; j++) out.hist[j] = a.hist[j] + b.hist[j];
  for (const src of [a, b]) {
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < src.topSize[i]; j++) {
        out.pushTop(i, src.topValues[i * topK + j], src.topTokens[i * topK + j]);
      }
    }
    for (let slot = 0; slot < S * NUM_BUCKETS; slot++) {
      for (let j = 0; j < src.bandSize[slot]; j++) {
        const q = slot * R + j;
        out.pushBand(slot, src.bandValues[q], src.bandTokens[q], src.bandPriority[q]);
      }
    }
  }
  return out;
}

/**
 * Merges any number of partial results (at least one), left to right.
 *
 * @example
 * ```ts
 * import { mergeAllFeatureStats } from "./stats_merge.ts";
 * import { computeFeatureStats } from "./feature_stats.ts";
 * import { sliceRows } from "../tensor/tensor.ts";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const tc = Transcoder.random(mlpTranscoderConfig(0, { d_in: 8, d_sae: 16 }), 0);
 * const rows = tensor(Int32Array.from({ length: 12 }, (_, i) => (7 * i) % 20), [3, 4]);
 * const opts = { batchSize: 1, quiet: true };
 * // One shard per row, merged in any order:
 * const shards = [];
 * for (const r of [2, 0, 1]) {
 *   const shard = sliceRows(rows, r, r + 1);
 *   shards.push(await computeFeatureStats(model, tc, shard, { ...opts, rowOffset: r }));
 * }
 * const all = mergeAllFeatureStats(shards);
 * Array.from(all.rowIndices); // [0, 1, 2]
 * const once = await computeFeatureStats(model, tc, rows, opts);
 * assert.deepEqual(all.count, once.count);
 * assert.deepEqual(all.topExamples(5), once.topExamples(5));
 * assert.deepEqual(all.tokenRows, once.tokenRows);
 * ```
 */
export function mergeAllFeatureStats(parts: readonly LayerFeatureStats[]): LayerFeatureStats {
  if (parts.length === 0) throw new RangeError("no feature stats to merge");
  return parts.slice(1).reduce((acc, s) => mergeFeatureStats(acc, s), parts[0]);
}

/**
 * Statistics of every feature of one layer's transcoder, from one streaming pass over token rows
 * `[n, n_ctx]`, for feature dashboards (the reference's `feature_dashboards.py`, which instead
 * reruns the model once per feature).
 *
 * 1. The model runs up to the transcoder's layer with the encoder spliced in the graph on the
 *    clean MLP input (`_probe_graph.ts`). Inside the graph each token's activations `[d_sae]` are
 *    reduced to its K largest (`TopK`) and its count of active features (L0); only these
 *    `[b, p, K]` values and ids and `[b, p]` counts are copied out, never `[tokens, d_sae]`.
 * 2. K starts at `maxActive` (default 128, or d_sae if smaller). A batch with a token that has
 *    more than K active features is rerun with K raised to the next power of two that holds them
 *    (at most d_sae), and K stays raised, so every active feature is seen: the statistics are
 *    exact. Tokens over the initial K are counted (`overflowTokens`). With `adaptive: false`
 *    their smallest activations are dropped instead, and counted (`droppedActivations`).
 * 3. Each active (token, feature, value) updates host accumulators in float64: firing count, sum
 *    and sum of squares of the values, max, a histogram on fixed log-spaced bins
 *    (`_activation_bins.ts`: ten per decade over 1e-3 .. 1e3, plus under- and overflow bins), the
 *    top-k examples (a min-heap per feature; ties go to the earlier token), and activation-band
 *    samples.
 * 4. Band samples: each feature's firing tokens are split into 32 log-spaced buckets (five per
 *    decade; `_activation_bins.ts`), and each bucket keeps the `bandSamples` tokens with the
 *    smallest pseudo-random priority `hash(feature, token, seed)` (`_band_sampler.ts`): a uniform
 *    sample without replacement of the bucket's tokens (bottom-k sampling). Unlike a classic
 *    reservoir it does not depend on the order or the sharding of the rows, so partial results
 *    merge exactly. The top examples are per-feature heaps in flat arrays (`_top_heap.ts`).
 *    `bandExamples` then cuts the activation range `(0, max]` into equal-width bands (as the
 *    reference's `get_uniform_band_examples`) and picks from the samples and top examples those
 *    nearest to evenly spaced values inside each band (the reference's `sample_uniform` idea).
 *
 * Tokens are identified by `row * seqLen + pos`, with `row` the corpus row index (`rowIndices`),
 * so that shards of one corpus merge into the statistics of one pass (`stats_merge.ts`).
 *
 * @module
 */
import { streamRows } from "../train/_row_stream.ts";
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import {
  BIN_EDGES,
  binOf,
  bucketOfBin,
  histogramMass,
  histogramRankValue,
  NUM_BINS,
  NUM_BUCKETS,
} from "./_activation_bins.ts";
import { type ExampleContext, exampleContext } from "./feature_scores.ts";
import { tensorFingerprint } from "./fingerprint.ts";
import { bandPriority, type BandSamples, pushBand } from "./_band_sampler.ts";
import { pushTop, type TopHeaps } from "./_top_heap.ts";
import {
  checkRows,
  checkTranscoder,
  encoderFeeds,
  encoderKey,
  encoderStop,
  runProbe,
  spliceEncoder,
} from "./_probe_graph.ts";

/**
 * The threshold of a live feature (log10 firing frequency), as in the reference walkthrough.
 *
 * @example
 * ```ts
 * import { LIVE_THRESHOLD } from "./feature_stats.ts";
 * import assert from "node:assert/strict";
 * LIVE_THRESHOLD; // -4
 * // A feature firing on 1 token in 100,000 is not live (log10 1e-5 = -5):
 * assert.ok(!(Math.log10(1e-5 + 1e-10) > LIVE_THRESHOLD));
 * ```
 */
export const LIVE_THRESHOLD = -4;

/** One example: a token of a corpus row where a feature fired. */
export interface FeatureExample {
  /** Corpus row index (see `LayerFeatureStats.rowIndices`). */
  row: number;
  /** Position in the row. */
  pos: number;
  /** The feature's activation there. */
  value: number;
}

/** A band of activation values and the examples drawn from it. */
export interface ActivationBand {
  /** The band is `low < value <= high`. */
  low: number;
  high: number;
  /** Fraction of the feature's firing tokens in the band (from the histogram; approximate). */
  fraction: number;
  /** Examples in the band, highest value first. */
  examples: FeatureExample[];
}

/** Summary numbers of one feature. */
export interface FeatureSummary {
  feature: number;
  /** Tokens where it fired (activation > 0). */
  count: number;
  /** count / tokens seen. */
  frequency: number;
  /** log10(frequency + 1e-10), the reference's sparsity value. */
  logFrequency: number;
  /** Mean and standard deviation over firing tokens (0 when it never fired). */
  mean: number;
  std: number;
  max: number;
  /** Approximate quantiles over firing tokens, from the histogram. */
  quantiles: { q: number; value: number }[];
}

/** Settings that must agree for statistics to merge. */
export interface FeatureStatsConfig {
  layer: number;
  dSae: number;
  /** Tokens per row. */
  seqLen: number;
  /** Top examples kept per feature. */
  topK: number;
  /** Band samples kept per bucket. */
  bandSamples: number;
  /** Seed of the band-sample priorities. */
  seed: number;
  /** A token id left out of the statistics (e.g. 50256, `<|endoftext|>`), or -1 for none. */
  ignoreToken: number;
  /** Fingerprints of the transcoder and the model weights used. */
  transcoderFingerprint: string;
  modelFingerprint: string;
}

/** Where the rows came from (free-form, e.g. `{ source: "builtin", split: "train" }`). */
export type CorpusInfo = Record<string, string | number | boolean>;

/** The plain data of `LayerFeatureStats` (everything saved to disk). */
export interface FeatureStatsData {
  config: FeatureStatsConfig;
  corpus?: CorpusInfo;
  /** Corpus row index of each row seen, ascending `[rows]`. */
  rowIndices: Int32Array;
  /** The token rows themselves `[rows, seqLen]` (for showing examples), if kept. */
  tokenRows?: Tensor<"int32">;
  /** Tokens counted (rows x seqLen, less those with the ignored id). */
  tokens: number;
  /** Sum over tokens of the number of active features (L0 x tokens; exact even when dropping). */
  l0Sum: number;
  /** The K given (`maxActive`) and the largest K used (raised by adaptive passes). */
  maxActive: number;
  maxActiveUsed: number;
  /** Tokens with more active features than `maxActive`. */
  overflowTokens: number;
  /** Activations not recorded (only with `adaptive: false`). */
  droppedActivations: number;
  /** `[d_sae]` firing counts, sums, sums of squares and maxima (float64). */
  count: Float64Array;
  sum: Float64Array;
  sumSquares: Float64Array;
  max: Float64Array;
  /** `[d_sae, NUM_BINS]` histogram counts. */
  hist: Float64Array;
  /** Top examples: per feature a min-heap of `topSize[i]` entries in slots `[i*topK, ...)`. */
  topSize: Int32Array;
  topValues: Float32Array;
  /** Token ids `row * seqLen + pos` of the top examples. */
  topTokens: Float64Array;
  /** Band samples: `[d_sae, NUM_BUCKETS]` sizes and `[d_sae, NUM_BUCKETS, bandSamples]` slots. */
  bandSize: Int32Array;
  bandValues: Float32Array;
  bandTokens: Float64Array;
  bandPriority: Uint32Array;
}

/**
 * All-feature statistics of one transcoder layer (see the module notes). Construct with
 * `computeFeatureStats`, `mergeFeatureStats` or `loadFeatureStats`.
 *
 * @example
 * ```ts
 * import { LayerFeatureStats } from "./feature_stats.ts";
 * import assert from "node:assert/strict";
 * // By hand, as the streaming pass fills it: 4 features, rows of 3 tokens.
 * const stats = LayerFeatureStats.empty({
 *   layer: 0,
 *   dSae: 4,
 *   seqLen: 3,
 *   topK: 2,
 *   bandSamples: 2,
 *   seed: 0,
 *   ignoreToken: -1,
 *   transcoderFingerprint: "",
 *   modelFingerprint: "",
 * });
 * stats.tokens = 6; // two rows seen
 * stats.observe(1, 0.5, 0 * 3 + 2); // feature 1 fires at row 0, position 2, ...
 * stats.observe(1, 2.0, 1 * 3 + 0);
 * stats.observe(1, 1.0, 1 * 3 + 1);
 * stats.frequency(1); // 0.5
 * stats.topExamples(1); // [{ row: 1, pos: 0, value: 2 }, { row: 1, pos: 1, value: 1 }]
 * assert.deepEqual(stats.topExamples(1).map((e) => e.value), [2, 1]); // topK 2
 * assert.equal(stats.mean(1), 3.5 / 3);
 * assert.deepEqual(Array.from(stats.liveFeatures()), [1]);
 * ```
 */
export class LayerFeatureStats implements FeatureStatsData {
  config!: FeatureStatsConfig;
  corpus?: CorpusInfo;
  rowIndices!: Int32Array;
  tokenRows?: Tensor<"int32">;
  tokens!: number;
  l0Sum!: number;
  maxActive!: number;
  maxActiveUsed!: number;
  overflowTokens!: number;
  droppedActivations!: number;
  count!: Float64Array;
  sum!: Float64Array;
  sumSquares!: Float64Array;
  max!: Float64Array;
  hist!: Float64Array;
  topSize!: Int32Array;
  topValues!: Float32Array;
  topTokens!: Float64Array;
  bandSize!: Int32Array;
  bandValues!: Float32Array;
  bandTokens!: Float64Array;
  bandPriority!: Uint32Array;
  #rowLookup?: Map<number, number>;
  #top!: TopHeaps;
  #bands!: BandSamples;

  constructor(data: FeatureStatsData) {
    Object.assign(this, data);
    const { dSae: S, topK, bandSamples: R } = this.config;
    const want: [string, { length: number }, number][] = [
      ["count", this.count, S],
      ["sum", this.sum, S],
      ["sumSquares", this.sumSquares, S],
      ["max", this.max, S],
      ["hist", this.hist, S * NUM_BINS],
      ["topSize", this.topSize, S],
      ["topValues", this.topValues, S * topK],
      ["topTokens", this.topTokens, S * topK],
      ["bandSize", this.bandSize, S * NUM_BUCKETS],
      ["bandValues", this.bandValues, S * NUM_BUCKETS * R],
      ["bandTokens", this.bandTokens, S * NUM_BUCKETS * R],
      ["bandPriority", this.bandPriority, S * NUM_BUCKETS * R],
    ];
    for (const [name, arr, n] of want) {
      if (arr.length !== n) {
        throw new RangeError(`feature stats: ${name} has ${arr.length} entries, expected ${n}`);
      }
    }
    this.#top = { k: topK, size: this.topSize, values: this.topValues, tokens: this.topTokens };
    this.#bands = {
      R,
      size: this.bandSize,
      values: this.bandValues,
      tokens: this.bandTokens,
      priority: this.bandPriority,
    };
    if (this.tokenRows) {
      const [r, p] = this.tokenRows.shape;
      if (r !== this.rowIndices.length || p !== this.config.seqLen) {
        throw new RangeError(
          `feature stats: token rows [${this.tokenRows.shape}] do not match ${this.rowIndices.length} row indices of ${this.config.seqLen} tokens`,
        );
      }
    }
  }

  /** Empty statistics (nothing seen yet) for a config. */
  static empty(
    config: FeatureStatsConfig,
    extra: { maxActive: number; corpus?: CorpusInfo } = { maxActive: 0 },
  ): LayerFeatureStats {
    const { dSae: S, topK, bandSamples: R } = config;
    const slots = S * NUM_BUCKETS * R;
    return new LayerFeatureStats({
      config: { ...config },
      corpus: extra.corpus,
      rowIndices: new Int32Array(0),
      tokens: 0,
      l0Sum: 0,
      maxActive: extra.maxActive,
      maxActiveUsed: extra.maxActive,
      overflowTokens: 0,
      droppedActivations: 0,
      count: new Float64Array(S),
      sum: new Float64Array(S),
      sumSquares: new Float64Array(S),
      max: new Float64Array(S),
      hist: new Float64Array(S * NUM_BINS),
      topSize: new Int32Array(S),
      topValues: new Float32Array(S * topK),
      topTokens: new Float64Array(S * topK),
      bandSize: new Int32Array(S * NUM_BUCKETS),
      bandValues: new Float32Array(slots),
      bandTokens: new Float64Array(slots),
      bandPriority: new Uint32Array(slots),
    });
  }

  /** The layer of the transcoder. */
  get layer(): number {
    return this.config.layer;
  }
  /** Number of features. */
  get dSae(): number {
    return this.config.dSae;
  }
  /** Mean number of active features per token. */
  get meanL0(): number {
    return this.tokens > 0 ? this.l0Sum / this.tokens : 0;
  }

  #check(feature: number): void {
    checkFeatureIndex(feature, this.config.dSae);
  }

  /**
   * Records one activation `value > 0` of `feature` at token id `token` (`row * seqLen + pos`).
   * The streaming pass calls this; tokens must be new to these statistics.
   */
  observe(feature: number, value: number, token: number): void {
    const i = feature;
    this.count[i] += 1;
    this.sum[i] += value;
    this.sumSquares[i] += value * value;
    if (value > this.max[i]) this.max[i] = value;
    const bin = binOf(value);
    this.hist[i * NUM_BINS + bin] += 1;
    pushTop(this.#top, i, value, token);
    const R = this.config.bandSamples;
    if (R > 0) {
      pushBand(
        this.#bands,
        i * NUM_BUCKETS + bucketOfBin(bin),
        value,
        token,
        bandPriority(i, token, this.config.seed),
      );
    }
  }

  /** Offers an example to a feature's top-k heap (exact: a total order, ties to earlier tokens). */
  pushTop(feature: number, value: number, token: number): void {
    pushTop(this.#top, feature, value, token);
  }

  /** Offers a sample to a band bucket (keeps the smallest (priority, token) pairs). */
  pushBand(slot: number, value: number, token: number, priority: number): void {
    pushBand(this.#bands, slot, value, token, priority);
  }

  #example(value: number, token: number): FeatureExample {
    const p = this.config.seqLen;
    const row = Math.floor(token / p);
    return { row, pos: token - row * p, value };
  }

  // ---- per-feature accessors -------------------------------------------------------------

  /** Firing count of a feature. */
  firingCount(feature: number): number {
    this.#check(feature);
    return this.count[feature];
  }

  /** Firing frequency (fraction of tokens where the feature is active). */
  frequency(feature: number): number {
    this.#check(feature);
    return this.tokens > 0 ? this.count[feature] / this.tokens : 0;
  }

  /** log10(frequency + 1e-10), the reference's `log_feature_sparsity` value. */
  logFrequency(feature: number): number {
    return Math.log10(this.frequency(feature) + 1e-10);
  }

  /** `[d_sae]` log10(frequency + 1e-10) of every feature (the sparsity sidecar's values). */
  logFrequencies(): Float32Array {
    const out = new Float32Array(this.dSae);
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.log10((this.tokens > 0 ? this.count[i] / this.tokens : 0) + 1e-10);
    }
    return out;
  }

  /** Mean activation over the tokens where the feature fires (0 if it never fired). */
  mean(feature: number): number {
    this.#check(feature);
    const c = this.count[feature];
    return c > 0 ? this.sum[feature] / c : 0;
  }

  /** Largest activation (0 if it never fired). */
  maxActivation(feature: number): number {
    this.#check(feature);
    return this.max[feature];
  }

  /** The feature's histogram: bin edges `[NUM_BINS + 1]` and counts `[NUM_BINS]`. */
  histogram(feature: number): { edges: Float64Array; counts: Float64Array } {
    this.#check(feature);
    return {
      edges: BIN_EDGES,
      counts: this.hist.slice(feature * NUM_BINS, (feature + 1) * NUM_BINS),
    };
  }

  /**
   * Approximate quantiles of the feature's activations over its firing tokens (from the
   * histogram: log-linear interpolation within a bin, clamped to the max; exact at 1).
   */
  quantiles(feature: number, qs: readonly number[] = [0.5, 0.9, 0.99]): number[] {
    this.#check(feature);
    const c = this.count[feature];
    return qs.map((q) => {
      if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} out of range [0, 1]`);
      if (c === 0) return 0;
      if (q === 1) return this.max[feature];
      return histogramRankValue(this.hist, feature * NUM_BINS, q * c, this.max[feature]);
    });
  }

  /** Summary numbers of a feature. */
  summary(feature: number, qs: readonly number[] = [0.5, 0.9, 0.99]): FeatureSummary {
    const count = this.firingCount(feature), mean = this.mean(feature);
    const variance = count > 0 ? Math.max(0, this.sumSquares[feature] / count - mean * mean) : 0;
    const values = this.quantiles(feature, qs);
    return {
      feature,
      count,
      frequency: this.frequency(feature),
      logFrequency: this.logFrequency(feature),
      mean,
      std: Math.sqrt(variance),
      max: this.max[feature],
      quantiles: qs.map((q, j) => ({ q, value: values[j] })),
    };
  }

  /** The top examples of a feature, highest activation first (ties: earlier token first). */
  topExamples(feature: number, k = this.config.topK): FeatureExample[] {
    this.#check(feature);
    const K = this.config.topK, n = this.topSize[feature];
    const out: { v: number; t: number }[] = [];
    for (let j = 0; j < n; j++) {
      out.push({ v: this.topValues[feature * K + j], t: this.topTokens[feature * K + j] });
    }
    out.sort((a, b) => b.v - a.v || a.t - b.t);
    return out.slice(0, Math.max(0, k)).map((e) => this.#example(e.v, e.t));
  }

  /** Every band sample of a feature (all buckets), highest activation first. */
  bandSamples(feature: number): FeatureExample[] {
    this.#check(feature);
    const R = this.config.bandSamples, out: { v: number; t: number }[] = [];
    for (let b = 0; b < NUM_BUCKETS; b++) {
      const slot = feature * NUM_BUCKETS + b;
      for (let j = 0; j < this.bandSize[slot]; j++) {
        out.push({ v: this.bandValues[slot * R + j], t: this.bandTokens[slot * R + j] });
      }
    }
    out.sort((a, b) => b.v - a.v || a.t - b.t);
    return out.map((e) => this.#example(e.v, e.t));
  }

  /**
   * Examples spread over a feature's activation range: `(0, max]` cut into `numBands` equal
   * bands (highest first), each with the fraction of firing tokens in it and up to `perBand`
   * examples, chosen among the band samples and top examples as those nearest to `perBand`
   * evenly spaced values inside the band.
   */
  bandExamples(
    feature: number,
    { numBands = 5, perBand = 5 }: { numBands?: number; perBand?: number } = {},
  ): ActivationBand[] {
    this.#check(feature);
    if (!Number.isInteger(numBands) || numBands < 1) {
      throw new RangeError(`numBands must be a positive integer, got ${numBands}`);
    }
    if (!Number.isInteger(perBand) || perBand < 0) {
      throw new RangeError(`perBand must be a non-negative integer, got ${perBand}`);
    }
    const c = this.count[feature], max = this.max[feature];
    if (c === 0) return [];
    const seen = new Set<number>();
    const candidates: FeatureExample[] = [];
    const p = this.config.seqLen;
    for (const e of [...this.topExamples(feature), ...this.bandSamples(feature)]) {
      const t = e.row * p + e.pos;
      if (!seen.has(t)) {
        seen.add(t);
        candidates.push(e);
      }
    }
    candidates.sort((a, b) => b.value - a.value || a.row - b.row || a.pos - b.pos);
    const bands: ActivationBand[] = [];
    for (let j = numBands - 1; j >= 0; j--) {
      const low = (max * j) / numBands,
        high = j === numBands - 1 ? max : (max * (j + 1)) / numBands;
      const inBand = candidates.filter((e) => e.value > low && e.value <= high);
      const chosen: FeatureExample[] = [];
      if (inBand.length <= perBand) chosen.push(...inBand);
      else {
        const used = new Set<number>();
        for (let m = 0; m < perBand; m++) {
          const target = high - ((m + 0.5) * (high - low)) / perBand;
          let best = -1;
          for (let q = 0; q < inBand.length; q++) {
            if (used.has(q)) continue;
            if (
              best < 0 ||
              Math.abs(inBand[q].value - target) < Math.abs(inBand[best].value - target)
            ) best = q;
          }
          used.add(best);
          chosen.push(inBand[best]);
        }
        chosen.sort((a, b) => b.value - a.value || a.row - b.row || a.pos - b.pos);
      }
      const mass = histogramMass(this.hist, feature * NUM_BINS, low, high, max);
      bands.push({ low, high, fraction: Math.min(1, mass / c), examples: chosen });
    }
    return bands;
  }

  /** Features whose log10(frequency + 1e-10) exceeds the threshold (default -4), ascending. */
  liveFeatures({ threshold = LIVE_THRESHOLD }: { threshold?: number } = {}): Int32Array {
    const out: number[] = [];
    for (let i = 0; i < this.dSae; i++) {
      const f = this.tokens > 0 ? this.count[i] / this.tokens : 0;
      if (Math.log10(f + 1e-10) > threshold) out.push(i);
    }
    return Int32Array.from(out);
  }

  /** The `k` most frequently firing features, most frequent first (ties: lower index). */
  mostFrequent(k: number): Int32Array {
    const idx = Array.from({ length: this.dSae }, (_, i) => i)
      .filter((i) => this.count[i] > 0)
      .sort((a, b) => this.count[b] - this.count[a] || a - b);
    return Int32Array.from(idx.slice(0, Math.max(0, k)));
  }

  /** The local index in `tokenRows` of a corpus row, or -1. */
  localRow(row: number): number {
    if (!this.#rowLookup) {
      this.#rowLookup = new Map();
      this.rowIndices.forEach((r, i) => this.#rowLookup!.set(r, i));
    }
    return this.#rowLookup.get(row) ?? -1;
  }

  /** The tokens around an example (needs the token rows kept). */
  context(example: FeatureExample, window = 8): ExampleContext {
    if (!this.tokenRows) {
      throw new RangeError("these feature stats do not keep their token rows (keepRows: false)");
    }
    const local = this.localRow(example.row);
    if (local < 0) throw new RangeError(`corpus row ${example.row} is not in these feature stats`);
    return exampleContext(this.tokenRows, { row: local, pos: example.pos, window });
  }
}

/** Options of `computeFeatureStats`. */
export interface FeatureStatsOptions {
  /** Rows per forward pass (default 8). */
  batchSize?: number;
  /** Top examples kept per feature (default 20). */
  topK?: number;
  /** K of the in-graph top-k per token (default 128, at most d_sae). */
  maxActive?: number;
  /** Raise K and rerun a batch when a token has more active features (default true). */
  adaptive?: boolean;
  /** Band samples kept per log-spaced bucket (default 4). */
  bandSamples?: number;
  /** Seed of the band-sample priorities (default 0). */
  seed?: number;
  /**
   * Leave tokens with this id out of the statistics entirely (not counted in `tokens` either),
   * e.g. `BOS_TOKEN_ID` (50256) to ignore `<|endoftext|>`, on which many features fire (the
   * reference's `ignore_endoftext`, which never matched). Default: none.
   */
  ignoreToken?: number;
  /** Corpus row index of each row (default `rowOffset + i`). */
  rowIndices?: Int32Array;
  /** Corpus row index of the first row (default 0). */
  rowOffset?: number;
  /** Keep the token rows in the result, to show examples later (default true). */
  keepRows?: boolean;
  /** Where the rows came from, recorded in the result. */
  corpus?: CorpusInfo;
  /** No progress line on stderr (default false). */
  quiet?: boolean;
}

/**
 * Computes the statistics of every feature of a transcoder over token rows `[n, n_ctx]` in one
 * streaming pass (see the module notes).
 *
 * @example
 * ```ts
 * import { computeFeatureStats } from "./feature_stats.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The Congress and the people of the State"]); // [1, 9]
 * const stats = await computeFeatureStats(model, transcoders[0]!, rows, { quiet: true });
 * stats.frequency(37); // 2 / 9: fraction of tokens where feature 37 fires
 * const top = stats.topExamples(37, 5); // [{ row: 0, pos: 2, value: 0.48 }, { row: 0, pos: 8, ...
 * const ctx = stats.context(top[0], 1).strings; // ["The", " Congress", " and"]
 * stats.bandExamples(37, { numBands: 2 }); // [{ low, high, fraction, examples }, ...]
 * stats.liveFeatures(); // log10 frequency > -4
 * assert.equal(stats.frequency(37), 2 / 9);
 * assert.deepEqual(top.map((e) => e.pos), [2, 8]);
 * assert.deepEqual(ctx, ["The", " Congress", " and"]);
 * ```
 */
export async function computeFeatureStats(
  model: HookedModel,
  tc: Transcoder,
  rows: Tensor<"int32">,
  options: FeatureStatsOptions = {},
): Promise<LayerFeatureStats> {
  const {
    batchSize = 8,
    topK = 20,
    adaptive = true,
    bandSamples = 4,
    seed = 0,
    ignoreToken = -1,
    rowOffset = 0,
    keepRows = true,
    quiet = false,
  } = options;
  checkTranscoder(model, tc);
  checkRows(model, rows);
  const S = tc.cfg.d_sae;
  if (S > 2 ** 24) throw new RangeError(`d_sae ${S} exceeds 2^24`);
  const maxActive = Math.min(options.maxActive ?? 128, S);
  for (
    const [name, v, min] of [
      ["batchSize", batchSize, 1],
      ["topK", topK, 0],
      ["maxActive", maxActive, 1],
      ["bandSamples", bandSamples, 0],
    ] as const
  ) {
    if (!Number.isInteger(v) || v < min) {
      throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
    }
  }
  const [n, p] = rows.shape;
  const rowIndices = options.rowIndices ?? Int32Array.from({ length: n }, (_, i) => rowOffset + i);
  if (rowIndices.length !== n) {
    throw new RangeError(`rowIndices has ${rowIndices.length} entries for ${n} rows`);
  }
  for (let i = 1; i < n; i++) {
    if (!(rowIndices[i] > rowIndices[i - 1])) {
      throw new RangeError(
        `rowIndices must be strictly increasing (entry ${i} is ${rowIndices[i]})`,
      );
    }
  }
  if (n > 0 && rowIndices[0] < 0) throw new RangeError(`row index ${rowIndices[0]} is negative`);
  const stats = LayerFeatureStats.empty({
    layer: tc.layer,
    dSae: S,
    seqLen: p,
    topK,
    bandSamples,
    seed,
    ignoreToken,
    transcoderFingerprint: tensorFingerprint([tc.W_enc, tc.b_enc, tc.b_dec]),
    modelFingerprint: tensorFingerprint([model.W_E, model.W_pos]),
  }, { maxActive, corpus: options.corpus });
  stats.rowIndices = Int32Array.from(rowIndices);
  if (keepRows) stats.tokenRows = { dtype: "int32", shape: [n, p], data: rows.data.slice() };

  const feeds = encoderFeeds(tc);
  let K = maxActive;
  const label = `feature stats L${tc.layer}`;
  await streamRows(rows, { batchSize, label, quiet }, async ({ rows: batch, start }) => {
    let res: Record<string, Tensor>;
    for (;;) {
      const k = K;
      res = await runProbe(model, batch, {
        key: `stats:${encoderKey(tc)}:${k}`,
        ...encoderStop(tc),
        build(g, probe) {
          const { z } = spliceEncoder(g, probe, tc); // [b, p, d_sae]
          const [values, ids] = g.topk(z, k, -1); // [b, p, K]
          g.output("values", values);
          g.output("ids", g.cast(ids, "int32"));
          g.output("l0", g.reduceSum(g.cast(g.greater(z, g.scalar(0)), "float32"), [-1])); // [b, p]
        },
      }, feeds);
      const l0 = res.l0.data as Float32Array;
      let maxL0 = 0, overK = 0;
      for (let t = 0; t < l0.length; t++) {
        if (batch.data[t] === ignoreToken) continue;
        if (l0[t] > maxL0) maxL0 = l0[t];
        if (l0[t] > k) overK++;
      }
      if (overK === 0 || !adaptive || k >= S) break;
      K = Math.min(S, 2 ** Math.ceil(Math.log2(maxL0)));
    }
    const l0 = res.l0.data as Float32Array;
    const values = res.values.data as Float32Array, ids = res.ids.data as Int32Array;
    const k = values.length / l0.length;
    for (let t = 0; t < l0.length; t++) {
      if (batch.data[t] === ignoreToken) continue;
      stats.tokens++;
      stats.l0Sum += l0[t];
      if (l0[t] > maxActive) stats.overflowTokens++;
      if (l0[t] > k) stats.droppedActivations += l0[t] - k;
      const b = Math.floor(t / p), pos = t - b * p;
      const token = rowIndices[start + b] * p + pos;
      const base = t * k;
      for (let j = 0; j < k; j++) {
        const v = values[base + j];
        if (!(v > 0)) break;
        stats.observe(ids[base + j], v, token);
      }
    }
    stats.maxActiveUsed = Math.max(stats.maxActiveUsed, K);
    return { L0: stats.meanL0, K, overflow: stats.overflowTokens };
  });
  return stats;
}

/**
 * The blind comparison's sample and its key (the reference's interp-comparison notebook):
 *
 * 1. From each dictionary's statistics over the same token rows, its live features (log10 firing
 *    frequency > -4, `LIVE_THRESHOLD`) are shuffled with a seeded {@link Rng}.
 * 2. The first `n` of that order with at least `MIN_EXAMPLES` (4) activating tokens are taken; a
 *    live feature with fewer is passed over and the next one in the order takes its place, which
 *    is the reference's "resample it" (a uniform draw among the features not yet chosen).
 * 3. The 2n (dictionary, feature) pairs are shuffled into one list: item `i` of the session is
 *    entry `i` of the key. One generator draws dictionary A's order, then B's, then the items'
 *    order, so a seed and the two statistics give the same key on every machine.
 *
 * @module
 */
import { Rng } from "../tensor/random.ts";
import { LIVE_THRESHOLD } from "../dashboards/feature_stats.ts";

/**
 * The fewest activating tokens a sampled feature may have (the reference's rule).
 *
 * @example
 * ```ts
 * import { MIN_EXAMPLES } from "./sampling.ts";
 * MIN_EXAMPLES; // 4
 * ```
 */
export const MIN_EXAMPLES = 4;

/** The two dictionaries of a comparison, as the command line names them (`--a`, `--b`). */
export type DictionaryLabel = "A" | "B";

/** One item of the key: which dictionary and feature the session's item `item` shows. */
export interface KeyEntry {
  item: number;
  dictionary: DictionaryLabel;
  feature: number;
}

/** What sampling needs of a dictionary's statistics (`LayerFeatureStats` has it). */
export interface FeatureCounts {
  /** Live features (log10 frequency above the threshold), ascending. */
  liveFeatures(): ArrayLike<number>;
  /** Activating tokens of a feature. */
  firingCount(feature: number): number;
}

/**
 * Too few live features (with enough examples) for the sample asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../tensor/random.ts";
 * import { sampleLiveFeatures, SamplingError } from "./sampling.ts";
 * const one = { liveFeatures: () => [4], firingCount: () => 9 };
 * assert.throws(() => sampleLiveFeatures(one, 2, new Rng(0), "A"), SamplingError); // 1 live, 2 asked
 * ```
 */
export class SamplingError extends Error {
  override name = "SamplingError";
}

/** One dictionary's sample: the features taken, and how many live ones were passed over. */
export interface DictionarySample {
  features: number[];
  /** Live features of the dictionary. */
  live: number;
  /** Live features passed over (fewer than `MIN_EXAMPLES` activating tokens) before n were found. */
  resampled: number;
}

/**
 * `n` live features of one dictionary in random order, each with at least `minExamples`
 * activating tokens (see the module notes); throws a SamplingError naming `what` and how many
 * are live when there are fewer than `n`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../tensor/random.ts";
 * import { sampleLiveFeatures, SamplingError } from "./sampling.ts";
 * // Features 0..9 are live; feature 3 fired on only 2 tokens.
 * const counts = { liveFeatures: () => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], firingCount: (f: number) => f === 3 ? 2 : 10 };
 * const s = sampleLiveFeatures(counts, 9, new Rng(0), "dictionary A");
 * assert.equal(s.features.length, 9);
 * assert.ok(!s.features.includes(3)); // passed over: fewer than 4 examples
 * assert.deepEqual(sampleLiveFeatures(counts, 9, new Rng(0), "A").features, s.features); // seeded
 * assert.throws(() => sampleLiveFeatures(counts, 11, new Rng(0), "dictionary A"), SamplingError);
 * ```
 */
export function sampleLiveFeatures(
  counts: FeatureCounts,
  n: number,
  rng: Rng,
  what: string,
  { minExamples = MIN_EXAMPLES }: { minExamples?: number } = {},
): DictionarySample {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be >= 1, got ${n}`);
  const live = Array.from(counts.liveFeatures());
  if (n > live.length) {
    throw new SamplingError(
      `${what} has ${live.length} live features (log10 frequency > ${LIVE_THRESHOLD} on these rows), fewer than the ${n} asked: lower --n or use more --rows`,
    );
  }
  const order = rng.shuffle(live);
  const features: number[] = [];
  let resampled = 0;
  for (const f of order) {
    if (features.length === n) break;
    if (counts.firingCount(f) >= minExamples) features.push(f);
    else resampled++;
  }
  if (features.length < n) {
    throw new SamplingError(
      `${what} has ${live.length} live features but only ${features.length} with at least ${minExamples} activating examples on these rows, fewer than the ${n} asked: lower --n or use more --rows`,
    );
  }
  return { features, live: live.length, resampled };
}

/** The sample of a comparison: each dictionary's features and the shuffled key. */
export interface ComparisonSample {
  A: DictionarySample;
  B: DictionarySample;
  key: KeyEntry[];
}

/**
 * Samples `n` features of each dictionary and shuffles the 2n into the session's items, with
 * one seeded generator (see the module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleComparison } from "./sampling.ts";
 * const counts = { liveFeatures: () => [0, 1, 2, 3, 4, 5], firingCount: () => 8 };
 * const { key } = sampleComparison(counts, counts, { n: 3, seed: 1 });
 * key.length; // 6 items: 3 of A and 3 of B, in random order
 * assert.deepEqual(key.map((k) => k.item), [0, 1, 2, 3, 4, 5]);
 * assert.equal(key.filter((k) => k.dictionary === "A").length, 3);
 * assert.deepEqual(sampleComparison(counts, counts, { n: 3, seed: 1 }).key, key); // same seed, same key
 * ```
 */
export function sampleComparison(
  a: FeatureCounts,
  b: FeatureCounts,
  { n, seed }: { n: number; seed: number },
): ComparisonSample {
  const rng = new Rng(seed);
  const A = sampleLiveFeatures(a, n, rng, "dictionary A (--a)");
  const B = sampleLiveFeatures(b, n, rng, "dictionary B (--b)");
  const pairs = [
    ...A.features.map((feature) => ({ dictionary: "A" as const, feature })),
    ...B.features.map((feature) => ({ dictionary: "B" as const, feature })),
  ];
  const key = rng.shuffle(pairs).map((p, item) => ({ item, ...p }));
  return { A, B, key };
}

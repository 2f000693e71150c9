/**
 * The comparison's sample: seeded, live features only, features with fewer than 4 activating
 * examples passed over (resampled), and a clear error when n is more than a dictionary holds.
 */
import assert from "node:assert/strict";
import { LayerFeatureStats } from "../../lib/dashboards/feature_stats.ts";
import {
  type FeatureCounts,
  MIN_EXAMPLES,
  sampleComparison,
  sampleLiveFeatures,
  SamplingError,
} from "../../lib/comparison/sampling.ts";
import { Rng } from "../../lib/tensor/random.ts";

/** Features 0..n-1, all live; feature f fired `count(f)` times. */
function counts(n: number, count: (f: number) => number): FeatureCounts {
  return { liveFeatures: () => Array.from({ length: n }, (_, f) => f), firingCount: count };
}

Deno.test("sampleComparison() is a function of the seed and the statistics", () => {
  const a = counts(200, () => 10), b = counts(150, () => 10);
  const one = sampleComparison(a, b, { n: 20, seed: 3 });
  assert.deepEqual(sampleComparison(a, b, { n: 20, seed: 3 }), one);
  const other = sampleComparison(a, b, { n: 20, seed: 4 });
  assert.notDeepEqual(other.key, one.key);
  // 2n items numbered in order, n of each dictionary, no feature twice, all live.
  assert.deepEqual(one.key.map((k) => k.item), Array.from({ length: 40 }, (_, i) => i));
  for (const [label, live] of [["A", 200], ["B", 150]] as const) {
    const features = one.key.filter((k) => k.dictionary === label).map((k) => k.feature);
    assert.equal(features.length, 20);
    assert.equal(new Set(features).size, 20);
    assert.ok(features.every((f) => f >= 0 && f < live));
    assert.deepEqual(
      [...features].sort((x, y) => x - y),
      [...one[label].features].sort((x, y) => x - y),
    );
  }
  // Shuffled: the two dictionaries' items interleave (not A's block then B's).
  const firstHalf = one.key.slice(0, 20).filter((k) => k.dictionary === "A").length;
  assert.ok(firstHalf > 0 && firstHalf < 20, `${firstHalf} of A's items in the first half`);
});

Deno.test("sampleLiveFeatures() passes over features with fewer than 4 examples, drawing others", () => {
  assert.equal(MIN_EXAMPLES, 4);
  // Even features fired 3 times (too few), odd ones 4 times (enough).
  const c = counts(40, (f) => (f % 2 === 0 ? 3 : 4));
  const s = sampleLiveFeatures(c, 20, new Rng(9), "A");
  assert.equal(s.features.length, 20);
  assert.ok(s.features.every((f) => f % 2 === 1), `${s.features}`);
  assert.equal(s.live, 40);
  assert.equal(s.resampled, 20); // every even feature came up before the 20th odd one
  // With room to spare, the passed-over ones are those drawn before the n-th good one.
  const t = sampleLiveFeatures(c, 5, new Rng(9), "A");
  assert.deepEqual(t.features, s.features.slice(0, 5)); // the same draw order
  assert.ok(t.resampled <= s.resampled);
});

Deno.test("sampleLiveFeatures() refuses n above the live features, saying how many there are", () => {
  assert.throws(
    () => sampleLiveFeatures(counts(7, () => 10), 8, new Rng(0), "dictionary A (--a)"),
    {
      name: "SamplingError",
      message:
        /^dictionary A \(--a\) has 7 live features \(log10 frequency > -4 on these rows\), fewer than the 8 asked/,
    },
  );
  // Enough live features, too few with 4 examples.
  assert.throws(() => sampleLiveFeatures(counts(10, (f) => (f < 3 ? 9 : 1)), 4, new Rng(0), "B"), {
    message: /^B has 10 live features but only 3 with at least 4 activating examples/,
  });
  assert.throws(
    () => sampleComparison(counts(10, () => 5), counts(3, () => 5), { n: 4, seed: 0 }),
    {
      message: /^dictionary B \(--b\) has 3 live features/,
    },
  );
  assert.ok(new SamplingError("x") instanceof Error);
});

Deno.test("sampling reads LayerFeatureStats: live is log10 frequency > -4 on the rows used", () => {
  const stats = LayerFeatureStats.empty({
    layer: 0,
    dSae: 4,
    seqLen: 100,
    topK: 4,
    bandSamples: 0,
    seed: 0,
    ignoreToken: -1,
    transcoderFingerprint: "",
    modelFingerprint: "",
  });
  stats.tokens = 20_000;
  for (let t = 0; t < 5; t++) stats.observe(0, 1, t); // 5 examples: live, enough
  stats.observe(1, 1, 7); // frequency 5e-5: log10 < -4, not live
  for (let t = 0; t < 3; t++) stats.observe(2, 1, t); // live, too few examples
  assert.deepEqual(Array.from(stats.liveFeatures()), [0, 2]);
  assert.deepEqual(sampleLiveFeatures(stats, 1, new Rng(1), "A").features, [0]);
  assert.throws(() => sampleLiveFeatures(stats, 2, new Rng(1), "A"), /only 1 with at least 4/);
  assert.throws(() => sampleLiveFeatures(stats, 3, new Rng(1), "A"), /has 2 live features/);
});

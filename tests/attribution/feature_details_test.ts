/**
 * Feature-detail files from streaming feature statistics of the tiny random dashboard fixture,
 * checked against the direct dense activations (`denseActs`): every example window's
 * activations (1e-5, float32 graph against float32 encode), its tokens and focus; the
 * statistics' numbers (exact); the histogram holds every firing token (1e-9); the logit tokens
 * are `featureLogitEffects`'; files land at `features/{scan}/{cantorId}.json`.
 */
import assert from "node:assert/strict";
import {
  featureDetail,
  featureDetails,
  writeFeatureDetails,
} from "../../lib/attribution/feature_details.ts";
import { cantorId } from "../../lib/attribution/graph_json.ts";
import { computeFeatureStats, LayerFeatureStats } from "../../lib/dashboards/feature_stats.ts";
import { featureLogitEffects } from "../../lib/dashboards/logit_effects.ts";
import { tokenStrings } from "../../lib/tokenizer/gpt2_tokenizer.ts";
import { D_SAE, denseActs, model, randomRows, transcoders } from "../dashboards/fixture.ts";

const rows = randomRows(10, 12, 3);
const [, P] = rows.shape;
const stats = await Promise.all(
  [0, 1].map((l) => computeFeatureStats(model, transcoders[l], rows, { quiet: true, topK: 6 })),
);
const dense = await Promise.all([0, 1].map((l) => denseActs(transcoders[l], rows)));

/** Features of layer 1 that fire, and one that never does (if any). */
const firing = Array.from({ length: D_SAE }, (_, i) => i).filter((i) => stats[1].count[i] > 0);

Deno.test("featureDetails: windows, activations and numbers equal the dense computation", async () => {
  assert.ok(firing.length >= 5, "the fixture should have firing features");
  const picked = firing.slice(0, 6);
  const details = await featureDetails(model, transcoders[1], stats[1], picked, {
    window: 3,
    topExamples: 4,
    numBands: 3,
    perBand: 2,
  });
  assert.equal(details.length, picked.length);
  details.forEach((d, k) => {
    const f = picked[k];
    assert.equal(d.index, cantorId(1, f));
    assert.equal(d.transcoder_id, "mlp1tc");
    assert.equal(d.act_min, 0);
    assert.equal(d.act_max, stats[1].maxActivation(f));
    assert.equal(d.activation_frequency, stats[1].count[f] / (10 * 12));
    // Examples: "Top activations" then the bands, highest first.
    assert.equal(d.examples_quantiles[0].quantile_name, "Top activations");
    assert.deepEqual(
      d.examples_quantiles[0].examples.map((e) => e.tokens_acts_list[e.train_token_ind]),
      stats[1].topExamples(f, 4).map((e) => e.value),
    );
    const bands = stats[1].bandExamples(f, { numBands: 3, perBand: 2 });
    assert.equal(d.examples_quantiles.length, 1 + bands.length);
    const refs = [stats[1].topExamples(f, 4), ...bands.map((b) => b.examples)];
    const seen = new Set<string>();
    d.examples_quantiles.forEach((q, g) => {
      q.examples.forEach((e, j) => {
        const ref = refs[g][j];
        const start = Math.max(0, ref.pos - 3), end = Math.min(P, ref.pos + 4);
        assert.equal(e.train_token_ind, ref.pos - start);
        const ids = rows.data.subarray(ref.row * P + start, ref.row * P + end);
        assert.deepEqual(e.tokens, tokenStrings(ids));
        assert.equal(e.tokens_acts_list.length, end - start);
        e.tokens_acts_list.forEach((a, q2) => {
          const z = dense[1].z[(ref.row * P + start + q2) * D_SAE + f];
          assert.ok(Math.abs(a - z) < 1e-5, `feature ${f} group ${g} example ${j} token ${q2}`);
        });
        const key = `${ref.row}:${ref.pos}`;
        assert.equal(e.is_repeated_datapoint, seen.has(key), `repeat flag ${key}`);
      });
      q.examples.forEach((_, j) => seen.add(`${refs[g][j].row}:${refs[g][j].pos}`));
    });
    // Percentiles: 100, nondecreasing, the last the max; the statistics' own quantiles.
    assert.equal(d.quantile_values.length, 100);
    for (let q = 1; q < 100; q++) assert.ok(d.quantile_values[q] >= d.quantile_values[q - 1]);
    assert.equal(d.quantile_values[99], d.act_max);
    assert.deepEqual(d.quantile_values.slice(49, 50), stats[1].quantiles(f, [0.5]));
    // The histogram: 50 equal bins of [0, max] holding every firing token.
    assert.equal(d.histogram.length, 50);
    const total = d.histogram.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - stats[1].count[f]) < 1e-9 * stats[1].count[f], `histogram ${f}`);
    assert.ok(d.histogram.every((c) => c >= 0) && d.histogram[49] > 0);
    // Logit tokens: featureLogitEffects' top and bottom 10.
    const fx = featureLogitEffects(model, transcoders[1], f, { k: 10 });
    assert.deepEqual(d.top_logits, fx.top.map((t) => t.str));
    assert.deepEqual(d.bottom_logits, fx.bottom.map((t) => t.str));
    assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
  });
  // One pass per feature gives the same records.
  const single = await featureDetails(model, transcoders[1], stats[1], picked, {
    window: 3,
    topExamples: 4,
    numBands: 3,
    perBand: 2,
    featuresPerPass: 1,
  });
  assert.deepEqual(single, details);
});

Deno.test("featureDetail without a model: the example's own activation only; a silent feature", () => {
  const f = firing[0];
  const d = featureDetail(stats[1], f, {
    window: 2,
    topExamples: 3,
    histogramBins: 8,
    quantiles: 4,
  });
  for (const e of d.examples_quantiles[0].examples) {
    assert.ok(e.tokens_acts_list[e.train_token_ind] > 0);
    assert.equal(e.tokens_acts_list.filter((a) => a !== 0).length, 1);
  }
  assert.equal(d.histogram.length, 8);
  assert.deepEqual(d.quantile_values, stats[1].quantiles(f, [0.25, 0.5, 0.75, 1]));
  assert.deepEqual([d.top_logits, d.bottom_logits], [[], []]);
  // Statistics in which nothing fired.
  const empty = LayerFeatureStats.empty({ ...stats[0].config });
  empty.tokenRows = rows;
  empty.rowIndices = Int32Array.from({ length: 10 }, (_, i) => i);
  empty.tokens = 120;
  const s = featureDetail(empty, 3);
  assert.equal(s.act_max, 0);
  assert.equal(s.activation_frequency, 0);
  assert.ok(s.histogram.every((c) => c === 0) && s.quantile_values.every((v) => v === 0));
  assert.deepEqual(s.examples_quantiles.map((q) => q.examples.length), [0]);
  assert.throws(() => featureDetail(stats[1], D_SAE), RangeError);
  assert.throws(() => featureDetail(stats[1], f, { histogramBins: 0 }), RangeError);
  const noRows = Object.assign(Object.create(Object.getPrototypeOf(stats[1])), stats[1], {
    tokenRows: undefined,
  });
  assert.throws(() => featureDetail(noRows, f), /token rows/);
});

Deno.test("writeFeatureDetails writes features/{scan}/{cantorId}.json for (layer, feature) pairs", async () => {
  const f0 = Array.from({ length: D_SAE }, (_, i) => i).filter((i) => stats[0].count[i] > 0);
  const pairs: [number, number][] = [[1, firing[1]], [0, f0[0]], [1, firing[0]], [1, firing[1]]];
  const dir = await Deno.makeTempDir();
  try {
    const paths = await writeFeatureDetails(dir, {
      scan: "fixture-tc",
      model,
      transcoders,
      stats,
      features: pairs,
      window: 2,
      transcoderIdOf: (l) => `fixture/layer_${l}`,
    });
    assert.deepEqual(
      paths,
      pairs.map(([l, f]) => `${dir}/features/fixture-tc/${cantorId(l, f)}.json`),
    );
    const files = [...Deno.readDirSync(`${dir}/features/fixture-tc`)].map((e) => e.name).sort();
    assert.equal(files.length, 3); // the duplicate once
    for (const [l, f] of pairs) {
      const d = JSON.parse(
        await Deno.readTextFile(`${dir}/features/fixture-tc/${cantorId(l, f)}.json`),
      );
      const [want] = await featureDetails(model, transcoders[l], stats[l], [f], {
        window: 2,
        transcoderId: `fixture/layer_${l}`,
      });
      assert.deepEqual(d, want);
    }
    await assert.rejects(
      writeFeatureDetails(dir, { scan: "x", model, transcoders, stats, features: [[2, 0]] }),
      /no transcoder of layer 2|no feature stats of layer 2/,
    );
    await assert.rejects(
      writeFeatureDetails(dir, { scan: "../x", model, transcoders, stats, features: [] }),
      RangeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

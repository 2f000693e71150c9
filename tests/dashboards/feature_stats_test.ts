/**
 * Streaming feature statistics against a direct dense computation on a tiny random model:
 * counts, sums, maxima, L0 and top examples exactly; histograms consistent with the counts and
 * the documented bin edges; band samples are real firing tokens; shards merge into one pass;
 * save/load round trip; bad input.
 */
import assert from "node:assert/strict";
import {
  computeFeatureStats,
  type LayerFeatureStats,
  loadFeatureStats,
  mergeAllFeatureStats,
  mergeFeatureStats,
  saveFeatureStats,
} from "../../lib/dashboards/mod.ts";
import { BIN_EDGES, binOf, NUM_BINS } from "../../lib/dashboards/_activation_bins.ts";
import { D_SAE, denseActs, model, randomRows, transcoders } from "./fixture.ts";

const tc = transcoders[1];
const rows = randomRows(10, 12, 1);
const [N, P] = rows.shape;
const dense = await denseActs(tc, rows);
const full = await computeFeatureStats(model, tc, rows, {
  quiet: true,
  batchSize: 3,
  maxActive: 4,
  topK: 5,
});

/** The dense references: per feature the firing (value, token) list in token order. */
function firing(i: number): { v: number; t: number }[] {
  const out: { v: number; t: number }[] = [];
  for (let t = 0; t < N * P; t++) {
    const v = dense.z[t * D_SAE + i];
    if (v > 0) out.push({ v, t });
  }
  return out;
}

Deno.test("computeFeatureStats equals a dense computation (counts, sums, max, L0, top examples)", () => {
  assert.equal(full.tokens, N * P);
  assert.equal(full.layer, 1);
  assert.equal(full.dSae, D_SAE);
  let l0 = 0;
  for (let i = 0; i < D_SAE; i++) {
    const f = firing(i);
    l0 += f.length;
    let sum = 0, sq = 0, max = 0;
    for (const { v } of f) {
      sum += v;
      sq += v * v;
      max = Math.max(max, v);
    }
    assert.equal(full.count[i], f.length, `count of feature ${i}`);
    assert.ok(Math.abs(full.sum[i] - sum) <= 1e-12 * Math.abs(sum), `sum of feature ${i}`);
    assert.ok(Math.abs(full.sumSquares[i] - sq) <= 1e-12 * sq, `sum of squares of ${i}`);
    assert.equal(full.max[i], max);
    assert.equal(full.frequency(i), f.length / (N * P));
    assert.equal(full.maxActivation(i), max);
    const top = [...f].sort((a, b) => b.v - a.v || a.t - b.t).slice(0, 5);
    assert.deepEqual(
      full.topExamples(i),
      top.map(({ v, t }) => ({ row: Math.floor(t / P), pos: t % P, value: v })),
    );
  }
  assert.equal(full.l0Sum, l0);
  assert.ok(full.meanL0 > 4, "the fixture should overflow K = 4");
});

Deno.test("the in-graph top-K grows until every active feature is seen, and overflow is counted", async () => {
  let over = 0, dropped = 0;
  for (let t = 0; t < N * P; t++) {
    let c = 0;
    for (let i = 0; i < D_SAE; i++) if (dense.z[t * D_SAE + i] > 0) c++;
    if (c > 4) {
      over++;
      dropped += c - 4;
    }
  }
  assert.equal(full.overflowTokens, over);
  assert.equal(full.droppedActivations, 0);
  assert.ok(full.maxActiveUsed > 4);
  const fixed = await computeFeatureStats(model, tc, rows, {
    quiet: true,
    batchSize: 5,
    maxActive: 4,
    adaptive: false,
  });
  assert.equal(fixed.overflowTokens, over);
  assert.equal(fixed.droppedActivations, dropped);
  assert.equal(fixed.maxActiveUsed, 4);
  let seen = 0;
  for (let i = 0; i < D_SAE; i++) seen += fixed.count[i];
  assert.equal(seen, full.l0Sum - dropped);
  assert.equal(fixed.l0Sum, full.l0Sum, "L0 is counted in the graph, exactly");
});

Deno.test("an ignored token id is left out of every statistic", async () => {
  const skip = rows.data[3];
  const s = await computeFeatureStats(model, tc, rows, { quiet: true, ignoreToken: skip });
  const kept = Array.from({ length: N * P }, (_, t) => t).filter((t) => rows.data[t] !== skip);
  assert.ok(kept.length < N * P);
  assert.equal(s.tokens, kept.length);
  for (let i = 0; i < D_SAE; i++) {
    const f = kept.filter((t) => dense.z[t * D_SAE + i] > 0);
    assert.equal(s.count[i], f.length);
    for (const e of s.topExamples(i)) assert.notEqual(rows.data[e.row * P + e.pos], skip);
  }
  assert.equal(s.config.ignoreToken, skip);
});

Deno.test("histograms hold every firing token in the bin of the documented edges", () => {
  assert.equal(BIN_EDGES.length, NUM_BINS + 1);
  for (let i = 0; i < D_SAE; i++) {
    const { edges, counts } = full.histogram(i);
    const want = new Float64Array(NUM_BINS);
    for (const { v } of firing(i)) {
      const b = binOf(v);
      assert.ok(edges[b] <= v && v < edges[b + 1], `${v} in bin ${b}`);
      want[b]++;
    }
    assert.deepEqual(counts, want);
    assert.equal(counts.reduce((a, c) => a + c, 0), full.count[i]);
    const [q50, q100] = full.quantiles(i, [0.5, 1]);
    assert.equal(q100, full.max[i]);
    assert.ok(q50 >= 0 && q50 <= full.max[i]);
  }
  assert.equal(binOf(1e-3), 1);
  assert.equal(binOf(0.99999e-3), 0);
  assert.equal(binOf(1), 31);
  assert.equal(binOf(1e3), 61);
});

Deno.test("band examples are firing tokens inside their bands, fractions sum to one", () => {
  for (let i = 0; i < D_SAE; i++) {
    const bands = full.bandExamples(i, { numBands: 3, perBand: 2 });
    if (full.count[i] === 0) {
      assert.deepEqual(bands, []);
      continue;
    }
    assert.equal(bands.length, 3);
    assert.equal(bands[0].high, full.max[i]);
    const total = bands.reduce((a, b) => a + b.fraction, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `fractions of ${i} sum to ${total}`);
    for (const b of bands) {
      assert.ok(b.examples.length <= 2);
      for (const e of b.examples) {
        assert.ok(e.value > b.low && e.value <= b.high);
        assert.equal(dense.z[(e.row * P + e.pos) * D_SAE + i], e.value);
      }
    }
    const nonEmpty = bands.filter((b) => b.examples.length > 0).length;
    assert.ok(nonEmpty >= 1);
  }
  const live = full.liveFeatures();
  assert.deepEqual(
    Array.from(live),
    Array.from({ length: D_SAE }, (_, i) => i).filter((i) => full.count[i] > 0),
  );
  assert.deepEqual(Array.from(full.liveFeatures({ threshold: 0 })), []);
});

function assertSameStats(a: LayerFeatureStats, b: LayerFeatureStats): void {
  assert.deepEqual(a.config, b.config);
  assert.equal(a.tokens, b.tokens);
  assert.equal(a.l0Sum, b.l0Sum);
  assert.deepEqual(a.rowIndices, b.rowIndices);
  assert.deepEqual(a.tokenRows, b.tokenRows);
  assert.deepEqual(a.count, b.count);
  assert.deepEqual(a.max, b.max);
  assert.deepEqual(a.hist, b.hist);
  for (let i = 0; i < a.dSae; i++) {
    assert.ok(Math.abs(a.sum[i] - b.sum[i]) <= 1e-12 * Math.abs(b.sum[i]));
    assert.deepEqual(a.topExamples(i), b.topExamples(i));
    assert.deepEqual(a.bandSamples(i), b.bandSamples(i));
    assert.deepEqual(a.bandExamples(i), b.bandExamples(i));
  }
}

Deno.test("merging two shards equals one pass over both", async () => {
  const sub = (s: number, e: number) => ({
    dtype: "int32" as const,
    shape: [e - s, P],
    data: rows.data.slice(s * P, e * P),
  });
  const opts = { quiet: true, batchSize: 3, maxActive: 4, topK: 5 };
  const a = await computeFeatureStats(model, tc, sub(0, 4), opts);
  const b = await computeFeatureStats(model, tc, sub(4, 10), { ...opts, rowOffset: 4 });
  assertSameStats(mergeFeatureStats(a, b), full);
  assertSameStats(mergeFeatureStats(b, a), full);
  const c = await computeFeatureStats(model, tc, sub(4, 7), { ...opts, rowOffset: 4 });
  const d = await computeFeatureStats(model, tc, sub(7, 10), { ...opts, rowOffset: 7 });
  assertSameStats(mergeAllFeatureStats([d, a, c]), full);
  assert.throws(() => mergeFeatureStats(a, a), /corpus row 0 appears in both partial results/);
  const other = await computeFeatureStats(model, tc, sub(4, 10), { ...opts, topK: 3 });
  assert.throws(() => mergeFeatureStats(a, other), /different topK: 5 vs 3/);
  const otherTc = await computeFeatureStats(model, transcoders[2], sub(4, 10), {
    ...opts,
    rowOffset: 4,
  });
  assert.throws(() => mergeFeatureStats(a, otherTc), /different layer: 1 vs 2/);
});

Deno.test("feature stats survive a save/load round trip exactly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/stats.safetensors`;
    full.corpus = { source: "random", rows: N };
    await saveFeatureStats(path, full);
    const back = await loadFeatureStats(path);
    assertSameStats(back, full);
    for (const k of ["sum", "sumSquares", "topValues", "topTokens", "bandPriority"] as const) {
      assert.deepEqual(back[k], full[k]);
    }
    assert.deepEqual(back.corpus, { source: "random", rows: N });
    assert.equal(back.overflowTokens, full.overflowTokens);
    assert.equal(back.maxActiveUsed, full.maxActiveUsed);
    assert.deepEqual(back.context({ row: 2, pos: 5, value: 1 }, 2).tokens, rows.data.slice(27, 32));
    await Deno.writeTextFile(`${dir}/bad.safetensors`, "not a file");
    await assert.rejects(loadFeatureStats(`${dir}/bad.safetensors`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("feature stats reject bad input with exact messages", async () => {
  assert.throws(() => full.frequency(30), {
    name: "RangeError",
    message: "feature 30 out of range for d_sae 24",
  });
  assert.throws(() => full.topExamples(-1), /feature -1 out of range for d_sae 24/);
  assert.throws(() => full.bandExamples(1.5), /feature 1.5 out of range for d_sae 24/);
  await assert.rejects(
    computeFeatureStats(model, tc, { dtype: "int32", shape: [0, 12], data: new Int32Array(0) }),
    { name: "RangeError", message: "rows [0, 12] hold no tokens" },
  );
  await assert.rejects(
    computeFeatureStats(model, tc, rows, { quiet: true, topK: -1 }),
    /topK must be an integer >= 0, got -1/,
  );
  const bad = { dtype: "int32" as const, shape: [1, 2], data: Int32Array.of(1, 99) };
  await assert.rejects(computeFeatureStats(model, tc, bad, { quiet: true }), /99/);
  const far = Object.create(transcoders[0]);
  Object.defineProperty(far, "layer", { get: () => 5 });
  await assert.rejects(
    computeFeatureStats(model, far, rows, { quiet: true }),
    /transcoder for layer 5, but the model has layers 0..2/,
  );
});

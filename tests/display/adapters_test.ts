/** Adapters from feature statistics (structural, faked here) and ranked shapes to the display. */
import assert from "node:assert/strict";
import {
  dashboardFromStats,
  exampleFromWindow,
  type ExampleRef,
  type FeatureStatsLike,
  summaryTable,
} from "../../lib/display/adapters.ts";
import { showDashboard } from "../../lib/display/dashboard_html.ts";
import { histogramSvg } from "../../lib/display/charts.ts";
import { tokensTable } from "../../lib/display/tables.ts";
import { countInGroup } from "./fixtures.ts";

const row = Array.from({ length: 40 }, (_, i) => ` w${i}`);
const summary = {
  feature: 89,
  count: 20,
  frequency: 0.002,
  logFrequency: -2.699,
  mean: 4,
  std: 2,
  max: 9,
  quantiles: [{ q: 0.5, value: 3.5 }],
};
const fakeStats: FeatureStatsLike = {
  layer: 8,
  summary: () => summary,
  histogram: () => ({
    edges: Float64Array.from([0, 1, 2, 4, 8, 16]),
    counts: Float64Array.from([0, 5, 10, 0, 5]),
  }),
  topExamples: (_f, k = 20) =>
    [{ row: 3, pos: 20, value: 9 }, { row: 4, pos: 2, value: 8 }].slice(0, k),
  bandExamples: (_f, { numBands = 5 } = {}) =>
    Array.from({ length: numBands }, (_, j) => ({
      low: (9 * (numBands - 1 - j)) / numBands,
      high: (9 * (numBands - j)) / numBands,
      fraction: 1 / numBands,
      examples: j === 0 ? [{ row: 7, pos: 30, value: 8.5 }] : [],
    })),
  context: (e: ExampleRef, window = 8) => {
    const start = Math.max(0, e.pos - window), end = Math.min(row.length, e.pos + window + 1);
    return { strings: row.slice(start, end), focus: e.pos - start, start, end };
  },
};

Deno.test("dashboardFromStats() builds the dashboard from stored examples", () => {
  const d = dashboardFromStats(fakeStats, 89, {
    title: "mlp8tc[89] <digits>",
    description: "digits",
    topK: 1,
    numBands: 3,
    window: 2,
  });
  assert.deepEqual(
    [d.layer, d.feature, d.title, d.description, d.summary],
    [8, 89, "mlp8tc[89] <digits>", "digits", summary],
  );
  assert.deepEqual(Array.from(d.histogram!.counts), [0, 5, 10, 0, 5]);
  assert.equal(d.logits, undefined); // the statistics' parts only
  assert.equal(d.inputs, undefined);
  assert.equal(d.topExamples.length, 1);
  assert.equal(d.bands.length, 3);
  const e = d.topExamples[0];
  assert.deepEqual(e.strings, [" w18", " w19", " w20", " w21", " w22"]);
  assert.deepEqual([e.row, e.pos, e.value, e.start, e.focus], [3, 20, 9, 18, 2]);
  assert.ok(Number.isNaN(e.acts[0]) && e.acts[2] === 9);
  const view = showDashboard(d);
  assert.ok(view.text.startsWith("mlp8tc[89] <digits>\ndigits\nFiring frequency: 0.2000%"));
  assert.ok(
    view.text.includes("Top examples\n  Example 3, token 20: 9.00:  w18 w19[[ w20]](9.00) w21 w22"),
  );
  assert.ok(view.text.includes("Activation histogram (log-spaced bins)"));
  assert.ok(
    view.html.includes("Between 6.00 and 9.00: 33.33%") &&
      view.html.includes("Example 7, token 30: 8.50"),
  );
  // Unknown context scores: white, without a hover value.
  const ex = view.html.slice(view.html.indexOf("Example 3"));
  assert.ok(ex.includes('<span style="background-color:#ffffff'));
  const withScores = dashboardFromStats(fakeStats, 89, {
    topK: 0,
    numBands: 1,
    window: 1,
    scores: (_e, w) => w.strings.map(() => 1),
  });
  assert.equal(withScores.title, undefined); // shown as mlp8tc[89]
  assert.ok(showDashboard(withScores).text.startsWith("mlp8tc[89]\n"));
  assert.deepEqual(withScores.topExamples, []);
  assert.deepEqual(Array.from(withScores.bands[0].examples[0].acts), [1, 1, 1]);
  assert.throws(
    () => exampleFromWindow({ row: 0, pos: 0, value: 1 }, { strings: ["a"], focus: 0 }, [1, 2]),
    /2 scores for a window of 1 tokens/,
  );
  const ids = Int32Array.from([11, 12]);
  assert.equal(
    exampleFromWindow({ row: 0, pos: 1, value: 1 }, { strings: ["a", "b"], focus: 1, tokens: ids })
      .ids,
    ids,
  );
});

Deno.test("ranked tokens with ids and precomputed histograms display directly", () => {
  const t = tokensTable({
    top: [{ token: 2, str: " caught", value: 9.371 }],
    bottom: [{ token: 5, value: -1 }],
  });
  assert.ok(t.text.includes('" caught"') && t.text.includes('"#5"'));
  const svg = histogramSvg({ edges: [-2, -1, 0, 1], counts: [3, 0, 4] }, { signColors: true });
  assert.equal(countInGroup(svg, "rect", "rect"), 2);
  assert.throws(() => histogramSvg({ edges: [0, 1], counts: [1, 2] }), /one more edge than counts/);
});

Deno.test("summaryTable() prints a feature's statistics", () => {
  const t = summaryTable({
    feature: 89,
    count: 14,
    frequency: 0.001137,
    logFrequency: -2.944,
    mean: 3.1,
    std: 1.2,
    max: 8.62,
    quantiles: [{ q: 0.5, value: 2.9 }, { q: 0.999, value: 8 }],
  });
  for (const s of ["feature 89", "14", "0.1137%", "-2.944", "8.620", "q50", "q99.9"]) {
    assert.ok(t.text.includes(s), s);
  }
});

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
const fakeStats: FeatureStatsLike = {
  frequency: () => 0.002,
  maxActivation: () => 9,
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
    title: "mlp8tc[89]",
    topK: 1,
    numBands: 3,
    window: 2,
  });
  assert.equal(d.topExamples!.length, 1);
  assert.equal(d.bands!.length, 3);
  const e = d.topExamples![0];
  assert.deepEqual(e.tokens, [" w18", " w19", " w20", " w21", " w22"]);
  assert.equal(e.position, 2);
  assert.ok(Number.isNaN(e.values[0]) && e.values[2] === 9);
  const view = showDashboard(d);
  assert.ok(view.text.includes("Firing frequency: 0.2000%"));
  assert.ok(view.text.includes("Example 3, token 20: 9.00:  w18 w19[[ w20]](9.00) w21 w22"));
  assert.ok(
    view.html.includes("Between 6.00 and 9.00: 33.33%") &&
      view.html.includes("Example 7, token 30: 8.50"),
  );
  // Unknown context scores: white, without a hover value.
  const ex = view.html.slice(view.html.indexOf("Example 3"));
  assert.ok(ex.includes('<span style="background-color:#ffffff'));
  const withScores = dashboardFromStats(fakeStats, 89, {
    topK: 1,
    numBands: 1,
    window: 1,
    scores: (_e, w) => w.strings.map(() => 1),
  });
  assert.deepEqual(Array.from(withScores.topExamples![0].values), [1, 1, 1]);
  assert.throws(
    () => exampleFromWindow({ row: 0, pos: 0, value: 1 }, { strings: ["a"], focus: 0 }, [1, 2]),
    /2 scores for a window of 1 tokens/,
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

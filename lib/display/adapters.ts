/**
 * Adapters from the feature statistics of `lib/dashboards` to the display. They are written
 * against structural interfaces (what the display reads), so that hand-made or other statistics
 * fit too; `LayerFeatureStats`, `FeatureExample`, `ExampleContext` and `FeatureSummary` fit them.
 *
 * - `dashboardFromStats(stats, feature)`: a `FeatureDashboard` (the one dashboard type, rendered
 *   by `showDashboard` and `renderDashboardReport`) with the statistics' parts: summary,
 *   activation histogram, top examples and activation bands, each example cropped to `±window`
 *   tokens. Stored examples keep only their own activation, so the other tokens' scores are
 *   unknown (NaN: white, no hover value) unless `scores` supplies them (e.g. from
 *   `featureScores` on the example's row). `buildFeatureDashboards` (lib/dashboards) fills
 *   every part, logit effects and de-embeddings included.
 * - `summaryTable(summary)`: a feature's count, frequency, mean, std, max and quantiles.
 *
 * Ranked tokens (`rankTokens`: `{ token: id, str, value }`), ranked features and value
 * histograms (`{ edges, counts }`) are accepted directly by `tokensTable` / `showTopTokens`,
 * `featuresTable` / `showTopFeatures` and `histogramSvg` / `showHistogram`.
 *
 * @module
 */
import type { DashboardExample, FeatureDashboard } from "../dashboards/dashboard.ts";
import type { FeatureSummary } from "../dashboards/feature_stats.ts";
import type { ValueHistogram } from "../dashboards/ranking.ts";
import { formatFixed, formatPercent, htmlTable, textTable } from "./format.ts";
import { Displayable } from "./jupyter.ts";

/** A stored example: a corpus row, a position in it and the activation there. */
export interface ExampleRef {
  /** Corpus row index. */
  row: number;
  /** Position in the row. */
  pos: number;
  /** The feature's activation at that token. */
  value: number;
}

/** The tokens around an example. */
export interface ExampleWindow {
  /** Token strings of the window. */
  strings: readonly string[];
  /** Index of the example's token within `strings`. */
  focus: number;
  /** Token ids of the window, when known. */
  tokens?: Int32Array;
}

/** What `dashboardFromStats` reads from feature statistics. */
export interface FeatureStatsLike {
  /** The transcoder's layer. */
  readonly layer: number;
  /** A feature's summary numbers. */
  summary(feature: number): FeatureSummary;
  /** Its log-spaced histogram of firing activations. */
  histogram(feature: number): ValueHistogram;
  /** Its top examples, highest first. */
  topExamples(feature: number, k?: number): ExampleRef[];
  /** Its activation bands, highest first. */
  bandExamples(
    feature: number,
    opts?: { numBands?: number; perBand?: number },
  ): { low: number; high: number; fraction: number; examples: ExampleRef[] }[];
  /** The tokens around an example. */
  context(example: ExampleRef, window?: number): ExampleWindow;
}

/** Options of `dashboardFromStats`. */
export interface StatsDashboardOptions {
  /** Title (default, when shown: `mlp{layer}tc[{feature}]`). */
  title?: string;
  /** Free text under the title. */
  description?: string;
  /** Top examples shown (default 5; 0 for none). */
  topK?: number;
  /** Activation bands (default 5). */
  numBands?: number;
  /** Examples per band (default 5). */
  perBand?: number;
  /** Tokens kept either side of each example (default 5). */
  window?: number;
  /** The scores of an example's window tokens, when known (one per `window.strings`). */
  scores?: (example: ExampleRef, window: ExampleWindow) => ArrayLike<number> | undefined;
}

/**
 * A dashboard example from a stored example and its window: the window's scores are `scores`
 * when given, else NaN (unknown) except the example's own activation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exampleFromWindow } from "./adapters.ts";
 * const ref = { row: 17, pos: 40, value: 8.62 }; // a stored top example
 * const w = { strings: [" L", "115", "A", "1"], focus: 2 }; // the tokens around it
 * const e = exampleFromWindow(ref, w);
 * e.acts; // Float64Array [NaN, NaN, 8.62, NaN]: the other tokens' scores are unknown
 * assert.deepEqual(
 *   { row: e.row, pos: e.pos, start: e.start, focus: e.focus },
 *   { row: 17, pos: 40, start: 38, focus: 2 },
 * );
 * assert.deepEqual(exampleFromWindow(ref, w, [0, 0.5, 8.62, 0]).acts, [0, 0.5, 8.62, 0]);
 * assert.throws(() => exampleFromWindow(ref, w, [8.62]), RangeError); // one score per token
 * ```
 */
export function exampleFromWindow(
  ref: ExampleRef,
  w: ExampleWindow,
  scores?: ArrayLike<number>,
): DashboardExample {
  if (scores !== undefined && scores.length !== w.strings.length) {
    throw new RangeError(
      `${scores.length} scores for a window of ${w.strings.length} tokens; expected one per token`,
    );
  }
  const acts = scores ??
    Float64Array.from(w.strings, (_, i) => (i === w.focus ? ref.value : NaN));
  return {
    row: ref.row,
    pos: ref.pos,
    value: ref.value,
    start: ref.pos - w.focus,
    ...(w.tokens === undefined ? {} : { ids: w.tokens }),
    strings: w.strings,
    acts,
    focus: w.focus,
  };
}

/**
 * The dashboard (a `FeatureDashboard`, shown by `showDashboard`) of one feature from streaming
 * feature statistics: summary, histogram, top examples and bands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFeatureStats } from "../dashboards/feature_stats.ts";
 * import { featureScores } from "../dashboards/feature_scores.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { dashboardFromStats } from "./adapters.ts";
 * import { showDashboard } from "./dashboard_html.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The cat sat on the mat.", "A dog ran in the park."]); // [2, 8]
 * const stats = await computeFeatureStats(model, transcoders[1]!, rows, { quiet: true });
 * const d = dashboardFromStats(stats, 11, { title: "mlp1tc[11]", topK: 2, numBands: 2, window: 2 });
 * const top = d.topExamples[0];
 * [top.strings, top.row, top.pos]; // [[" the", " mat", "."], 0, 7]: feature 11 fires on "."
 * assert.deepEqual([top.strings, top.row, top.pos], [[" the", " mat", "."], 0, 7]);
 * assert.equal(top.acts[top.focus], stats.maxActivation(11));
 * assert.ok(Number.isNaN(top.acts[0])); // the stats keep only the example's own activation
 * // The window tokens' scores, from the feature's score on every token:
 * const all = await featureScores(model, transcoders[1]!, rows, 11); // [2, 8]
 * const p = rows.shape[1];
 * const scored = dashboardFromStats(stats, 11, {
 *   topK: 2,
 *   window: 2,
 *   scores: (ref, w) => all.data.subarray(ref.row * p + ref.pos - w.focus, ref.row * p + ref.pos - w.focus + w.strings.length),
 * });
 * assert.equal(scored.topExamples[0].acts[0], 0);
 * const text = showDashboard(scored).text;
 * text.split("\n").slice(0, 2); // ["mlp1tc[11]", "Firing frequency: 18.7500% (3 tokens; log10 -0.727)"]
 * assert.ok(text.includes("Top examples\n  Example 0, token 7: 0.189:  the mat[[.]](0.19)"));
 * ```
 */
export function dashboardFromStats(
  stats: FeatureStatsLike,
  feature: number,
  { title, description, topK = 5, numBands = 5, perBand = 5, window = 5, scores }:
    StatsDashboardOptions = {},
): FeatureDashboard {
  const toExample = (ref: ExampleRef) => {
    const w = stats.context(ref, window);
    return exampleFromWindow(ref, w, scores?.(ref, w));
  };
  return {
    layer: stats.layer,
    feature,
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
    summary: stats.summary(feature),
    histogram: stats.histogram(feature),
    topExamples: topK > 0 ? stats.topExamples(feature, topK).map(toExample) : [],
    bands: stats.bandExamples(feature, { numBands, perBand }).map((b) => ({
      low: b.low,
      high: b.high,
      fraction: b.fraction,
      examples: b.examples.map(toExample),
    })),
  };
}

/**
 * A table of a feature's summary numbers.
 *
 * @example
 * ```ts
 * import { summaryTable } from "./adapters.ts";
 * const t = summaryTable({ feature: 89, count: 14, frequency: 0.001137, logFrequency: -2.944, mean: 3.1, std: 1.2, max: 8.62, quantiles: [{ q: 0.5, value: 2.9 }] });
 * t.text.includes("0.1137%") && t.text.includes("q50"); // true
 * ```
 */
export function summaryTable(
  s: FeatureSummary,
  { title }: { title?: string } = {},
): Displayable {
  const rows: string[][] = [
    ["firing tokens", String(s.count)],
    ["frequency", formatPercent(s.frequency, 4)],
    ["log10 frequency", formatFixed(s.logFrequency, 3)],
    ["mean", formatFixed(s.mean, 3)],
    ["std", formatFixed(s.std, 3)],
    ["max", formatFixed(s.max, 3)],
    ...s.quantiles.map((q) => [`q${Number((q.q * 100).toFixed(2))}`, formatFixed(q.value, 3)]),
  ];
  const t = title ?? `feature ${s.feature}`;
  const align = ["left", "right"] as const;
  return new Displayable(
    htmlTable(["statistic", "value"], rows, { align, caption: t }),
    `${t}\n${textTable(["statistic", "value"], rows, align)}`,
  );
}

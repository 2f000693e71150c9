/**
 * Adapters from the feature statistics of `lib/dashboards` to the display's plain data. They are
 * written against structural interfaces (what the display reads), not imported types, so the
 * display builds on its own; `LayerFeatureStats`, `FeatureExample`, `ExampleContext` and
 * `FeatureSummary` fit them.
 *
 * - `dashboardFromStats(stats, feature)`: firing frequency, top examples and activation bands,
 *   each example cropped to `±window` tokens. Stored examples keep only their own activation, so
 *   the other tokens' scores are unknown (NaN: white, no hover value) unless `scores` supplies
 *   them (e.g. from `featureScores` on the example's row).
 * - `summaryTable(summary)`: a feature's count, frequency, mean, std, max and quantiles.
 *
 * Ranked tokens (`rankTokens`: `{ token: id, str, value }`), ranked features and value
 * histograms (`{ edges, counts }`) are accepted directly by `tokensTable` / `showTopTokens`,
 * `featuresTable` / `showTopFeatures` and `histogramSvg` / `showHistogram`.
 *
 * @module
 */
import type { FeatureSummary } from "../dashboards/feature_stats.ts";
import type { ActivationDashboard, ActivationExample } from "./dashboard_html.ts";
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
}

/** What `dashboardFromStats` reads from feature statistics. */
export interface FeatureStatsLike {
  /** Fraction of tokens on which the feature fired. */
  frequency(feature: number): number;
  /** Its largest activation. */
  maxActivation(feature: number): number;
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
  /** Title (default `feature {i}`; e.g. `mlp8tc[89]`). */
  title?: string;
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
 * An example for the dashboard from a stored example and its window: the window's scores are
 * `scores` when given, else NaN (unknown) except the example's own activation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exampleFromWindow } from "./adapters.ts";
 * const ref = { row: 17, pos: 40, value: 8.62 }; // a stored top example
 * const w = { strings: [" L", "115", "A", "1"], focus: 2 }; // the tokens around it
 * const e = exampleFromWindow(ref, w);
 * e.values; // Float64Array [NaN, NaN, 8.62, NaN]: the other tokens' scores are unknown
 * assert.deepEqual(
 *   { position: e.position, example: e.example, token: e.token },
 *   { position: 2, example: 17, token: 40 },
 * );
 * assert.deepEqual(exampleFromWindow(ref, w, [0, 0.5, 8.62, 0]).values, [0, 0.5, 8.62, 0]);
 * assert.throws(() => exampleFromWindow(ref, w, [8.62]), RangeError); // one score per token
 * ```
 */
export function exampleFromWindow(
  ref: ExampleRef,
  w: ExampleWindow,
  scores?: ArrayLike<number>,
): ActivationExample {
  if (scores !== undefined && scores.length !== w.strings.length) {
    throw new RangeError(
      `${scores.length} scores for a window of ${w.strings.length} tokens; expected one per token`,
    );
  }
  const values = scores ??
    Float64Array.from(w.strings, (_, i) => (i === w.focus ? ref.value : NaN));
  return { tokens: w.strings, values, position: w.focus, example: ref.row, token: ref.pos };
}

/**
 * A dashboard (see `showDashboard`) of one feature from streaming feature statistics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFeatureStats } from "../dashboards/feature_stats.ts";
 * import { featureScores } from "../dashboards/feature_scores.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { dashboardFromStats } from "./adapters.ts";
 * import { showDashboard } from "./show.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The cat sat on the mat.", "A dog ran in the park."]); // [2, 8]
 * const stats = await computeFeatureStats(model, transcoders[1]!, rows, { quiet: true });
 * const d = dashboardFromStats(stats, 11, { title: "mlp1tc[11]", topK: 2, numBands: 2, window: 2 });
 * const top = d.topExamples![0];
 * [top.tokens, top.example, top.token]; // [[" the", " mat", "."], 0, 7]: feature 11 fires on "."
 * assert.deepEqual([top.tokens, top.example, top.token], [[" the", " mat", "."], 0, 7]);
 * assert.equal(top.values[top.position], stats.maxActivation(11));
 * assert.ok(Number.isNaN(top.values[0])); // the stats keep only the example's own activation
 * // The window tokens' scores, from the feature's score on every token:
 * const all = await featureScores(model, transcoders[1]!, rows, 11); // [2, 8]
 * const p = rows.shape[1];
 * const scored = dashboardFromStats(stats, 11, {
 *   topK: 2,
 *   window: 2,
 *   scores: (ref, w) => all.data.subarray(ref.row * p + ref.pos - w.focus, ref.row * p + ref.pos - w.focus + w.strings.length),
 * });
 * assert.equal(scored.topExamples![0].values[0], 0);
 * showDashboard(scored).text.split("\n").slice(0, 3); // ["feature 11", "Firing frequency: 18.7500%", "Top examples"]
 * assert.equal(showDashboard(scored).text.split("\n")[3], "  Example 0, token 7: 0.19:  the mat[[.]](0.19)");
 * ```
 */
export function dashboardFromStats(
  stats: FeatureStatsLike,
  feature: number,
  { title, topK = 5, numBands = 5, perBand = 5, window = 5, scores }: StatsDashboardOptions = {},
): ActivationDashboard {
  const toExample = (ref: ExampleRef) => {
    const w = stats.context(ref, window);
    return exampleFromWindow(ref, w, scores?.(ref, w));
  };
  return {
    title: title ?? `feature ${feature}`,
    firingFrequency: stats.frequency(feature),
    maxActivation: stats.maxActivation(feature),
    topExamples: topK > 0 ? stats.topExamples(feature, topK).map(toExample) : undefined,
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

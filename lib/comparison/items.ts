/**
 * What the rater sees of one feature, blinded: its top activating examples and examples across
 * its activation bands, as highlighted token sequences, and nothing else.
 *
 * - **Normalised per feature.** Every activation is divided by the feature's largest activation
 *   on the rows used and rounded to two decimals, so the colours (and the hover values) run from
 *   0 to 1 for every feature, whatever the dictionary's scale; bands are labelled by their share
 *   of the maximum ("60-80% of the maximum").
 * - **No identity.** No feature id, dictionary, layer, hook, frequency, count or raw activation is
 *   in a view; the session's item number (its position in the shuffled list) is the only handle.
 *
 * @module
 */
import type { DashboardExample, FeatureDashboard } from "../dashboards/dashboard.ts";
import { tokensHtml } from "../display/tokens_html.ts";

/** One band of a blinded view: its share of the maximum and its examples' HTML. */
export interface ItemBand {
  /** E.g. "80-100% of the maximum". */
  label: string;
  examples: string[];
}

/** One feature as the rater sees it: examples only, as HTML of highlighted tokens. */
export interface ItemView {
  /** The top activating examples, strongest first. */
  top: string[];
  /** Examples across activation bands, highest band first (bands without examples left out). */
  bands: ItemBand[];
}

/** A value divided by the maximum, clamped to [0, 1] and rounded to 0.01. */
function normalised(x: number, max: number): number {
  if (!(max > 0) || !(x > 0)) return 0;
  return Math.round(Math.min(1, x / max) * 100) / 100;
}

function exampleHtml(e: DashboardExample, max: number): string {
  const values = Array.from(e.acts, (x) => normalised(x, max));
  return tokensHtml({ tokens: e.strings, values, current: e.focus }, { min: 0, max: 1 });
}

/**
 * The blinded view of a feature's dashboard (see the module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blindView } from "./items.ts";
 * import type { FeatureDashboard } from "../dashboards/dashboard.ts";
 * const example = { row: 0, pos: 1, value: 8, start: 0, strings: ["The", " cat"], acts: [2, 8], focus: 1 };
 * const d = {
 *   layer: 1, feature: 1234,
 *   summary: { feature: 1234, count: 4, frequency: 0.1, logFrequency: -1, mean: 5, std: 1, max: 8, quantiles: [] },
 *   topExamples: [example],
 *   bands: [{ low: 4, high: 8, fraction: 0.5, examples: [example] }, { low: 0, high: 4, fraction: 0.5, examples: [] }],
 * } as FeatureDashboard;
 * const view = blindView(d);
 * view.bands.map((b) => b.label); // ["50-100% of the maximum"] (the empty band is left out)
 * assert.ok(view.top[0].includes('title="0.25"') && view.top[0].includes('title="1.00"')); // 2/8, 8/8
 * assert.ok(!JSON.stringify(view).includes("1234") && !JSON.stringify(view).includes("8.00"));
 * ```
 */
export function blindView(d: FeatureDashboard): ItemView {
  const max = d.summary.max;
  const pct = (x: number) => Math.round((x / max) * 100);
  return {
    top: d.topExamples.map((e) => exampleHtml(e, max)),
    bands: d.bands.filter((b) => b.examples.length > 0).map((b) => ({
      label: `${pct(b.low)}-${pct(b.high)}% of the maximum`,
      examples: b.examples.map((e) => exampleHtml(e, max)),
    })),
  };
}

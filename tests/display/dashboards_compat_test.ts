/**
 * The display's structural adapter types accept what `lib/dashboards` produces (a compile-time
 * check: this file fails to type-check if either side drifts).
 */
import assert from "node:assert/strict";
import type { FeatureStatsLike, FeatureSummaryLike } from "../../lib/display/adapters.ts";
import type { HistogramInput } from "../../lib/display/charts.ts";
import type { RankedFeature, RankedToken } from "../../lib/display/tables.ts";
import type { FeatureSummary, LayerFeatureStats } from "../../lib/dashboards/feature_stats.ts";
import type { FeatureValue, TokenValue, ValueHistogram } from "../../lib/dashboards/ranking.ts";

Deno.test("lib/dashboards' stats, summaries, rankings and histograms fit the display's inputs", () => {
  const accept = (
    _s: FeatureStatsLike,
    _m: FeatureSummaryLike,
    _t: RankedToken,
    _f: RankedFeature,
    _h: HistogramInput,
  ) => {};
  const fromDashboards = (
    s: LayerFeatureStats,
    m: FeatureSummary,
    t: TokenValue,
    f: FeatureValue,
    h: ValueHistogram,
  ) => accept(s, m, t, f, h);
  assert.equal(typeof fromDashboards, "function");
});

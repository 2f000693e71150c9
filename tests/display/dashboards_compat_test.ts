/**
 * The display's structural adapter types accept what `lib/dashboards` produces (a compile-time
 * check: this file fails to type-check if either side drifts).
 */
import assert from "node:assert/strict";
import type { FeatureStatsLike } from "../../lib/display/adapters.ts";
import type { HistogramInput } from "../../lib/display/charts.ts";
import type { RankedFeature, RankedToken } from "../../lib/display/tables.ts";
import type { LayerFeatureStats } from "../../lib/dashboards/feature_stats.ts";
import type { FeatureValue, TokenValue, ValueHistogram } from "../../lib/dashboards/ranking.ts";

Deno.test("lib/dashboards' stats, rankings and histograms fit the display's inputs", () => {
  const accept = (
    _s: FeatureStatsLike,
    _t: RankedToken,
    _f: RankedFeature,
    _h: HistogramInput,
  ) => {};
  const fromDashboards = (
    s: LayerFeatureStats,
    t: TokenValue,
    f: FeatureValue,
    h: ValueHistogram,
  ) => accept(s, t, f, h);
  assert.equal(typeof fromDashboards, "function");
});

/**
 * The display's structural adapter types accept what `lib/dashboards` produces, and both ways of
 * making a dashboard give the one type that both renderers take (compile-time checks: this file
 * fails to type-check if either side drifts).
 */
import assert from "node:assert/strict";
import type { buildFeatureDashboards, FeatureDashboard } from "../../lib/dashboards/dashboard.ts";
import type { dashboardFromStats, FeatureStatsLike } from "../../lib/display/adapters.ts";
import type { showDashboard } from "../../lib/display/dashboard_html.ts";
import type { renderDashboardReport } from "../../lib/display/dashboard_report.ts";
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

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

Deno.test("one dashboard type: built, adapted, shown and reported", () => {
  const checks: [
    Same<Awaited<ReturnType<typeof buildFeatureDashboards>>[number], FeatureDashboard>,
    Same<ReturnType<typeof dashboardFromStats>, FeatureDashboard>,
    Same<Parameters<typeof showDashboard>[0], FeatureDashboard>,
    Same<Parameters<typeof renderDashboardReport>[1], readonly FeatureDashboard[]>,
  ] = [true, true, true, true];
  assert.deepEqual(checks, [true, true, true, true]);
});

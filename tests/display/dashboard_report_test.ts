/**
 * `renderDashboardReport`: one self-contained page whose feature sections are exactly what
 * `showDashboard` shows inline, with an index whose links all land on a section.
 */
import assert from "node:assert/strict";
import type { FeatureDashboard } from "../../lib/dashboards/dashboard.ts";
import { showDashboard } from "../../lib/display/dashboard_html.ts";
import {
  type FeatureIndexRow,
  renderDashboardReport,
  type ReportInfo,
} from "../../lib/display/dashboard_report.ts";
import { fullDashboard, statsDashboard } from "./fixtures.ts";

const info = (index?: FeatureIndexRow[]): ReportInfo => ({
  title: "Layer 8 <dashboards>",
  layer: 8,
  dSae: 6,
  tokens: 12312,
  rows: 96,
  meanL0: 28.857,
  liveFeatures: 4,
  maxActive: 128,
  maxActiveUsed: 256,
  overflowTokens: 3,
  droppedActivations: 0,
  corpus: { source: "builtin", split: "validation" },
  notes: ["model tiny & transcoder <x>"],
  index,
});

const dashboards = (): FeatureDashboard[] => {
  const other = { ...statsDashboard(), feature: 2, title: "second" };
  other.summary = { ...other.summary, feature: 2 };
  return [fullDashboard(), other];
};

const index: FeatureIndexRow[] = [
  { feature: 5, frequency: 0.01, max: 2.5, topToken: "\n" },
  { feature: 0, frequency: 0, max: 0 },
  { feature: 89, frequency: 0.001137, max: 8.62, topToken: " <A>" },
  { feature: 2, frequency: 0.25, max: 1.125 },
  { feature: 3, frequency: 0, max: 0 },
];

Deno.test("the report's sections are the inline dashboards", () => {
  const ds = dashboards();
  const html = renderDashboardReport(info(index), ds);
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.ok(html.trimEnd().endsWith("</body></html>"));
  const sections = [...html.matchAll(/<section id="([^"]+)">/g)].map((m) => m[1]);
  assert.deepEqual(sections, ["feature-89", "feature-2"]);
  for (const d of ds) {
    const want = `<section id="feature-${d.feature}">${showDashboard(d).html}</section>`;
    assert.ok(html.includes(want), `the section of feature ${d.feature} is not showDashboard's`);
  }
  // Nothing loaded from outside: no scripts, sources, external links or CSS URLs.
  assert.doesNotMatch(html, /<script|\ssrc=|<link|@import|url\(/i);
  for (const m of html.matchAll(/href="([^"]*)"/g)) assert.match(m[1], /^#/);
  // Header text is escaped.
  assert.ok(html.includes("<title>Layer 8 &lt;dashboards&gt;</title>"));
  assert.ok(html.includes("model tiny &amp; transcoder &lt;x&gt;"));
  assert.ok(html.includes("12312 tokens in 96 rows (source builtin, split validation)"));
  assert.ok(html.includes("mean L0 28.86; 4 live features"));
  assert.ok(html.includes("3 tokens had more than K = 128 active features; K was raised to 256"));
});

Deno.test("every link of the report lands on a section; the index lists every feature", () => {
  const html = renderDashboardReport(info(index), dashboards());
  const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  const links = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
  assert.ok(links.length >= 4); // the navigation's 2 and the index's 2
  for (const l of links) assert.ok(ids.has(l), `#${l} links to nothing`);
  const nav = /<nav>([\s\S]*?)<\/nav>/.exec(html)![1];
  assert.deepEqual([...nav.matchAll(/href="#feature-(\d+)"/g)].map((m) => m[1]), ["89", "2"]);
  const idx = /<details id="index">([\s\S]*?)<\/details>/.exec(html)![1];
  assert.ok(idx.includes("Index of all 5 features (3 fired, 2 never fired)"));
  // Fired features in id order; those with a dashboard link to it.
  const rows = [...idx.matchAll(/<tr>(.*?)<\/tr>/g)].slice(1).map((m) =>
    [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1])
  );
  assert.deepEqual(rows, [
    ['<a href="#feature-2">2</a>', "25.0000%", "1.125", "-"],
    ["5", "1.0000%", "2.500", "<code>↵</code>"],
    ['<a href="#feature-89">89</a>', "0.1137%", "8.620", "<code> &lt;A&gt;</code>"],
  ]);
  assert.ok(idx.includes("Never fired: 0, 3"));
  // Without an index there is none, and the navigation still links every section.
  const bare = renderDashboardReport(info(), dashboards());
  assert.ok(!bare.includes('id="index"'));
  assert.equal((bare.match(/href="#feature-/g) ?? []).length, 2);
});

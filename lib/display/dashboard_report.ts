/**
 * The static HTML report of `deno task dashboards`: one self-contained page (inline CSS and SVG,
 * no scripts, no external resources) with a header about the layer and its statistics, an index
 * of every feature (frequency, max activation, top token; features with a dashboard link to
 * it), and one section per `FeatureDashboard` holding exactly the HTML that `showDashboard`
 * shows inline in a notebook. Every token string and other text is HTML-escaped.
 *
 * @module
 */
import type { FeatureDashboard } from "../dashboards/dashboard.ts";
import { showDashboard } from "./dashboard_html.ts";
import { escapeHtml, formatFixed, formatPercent, htmlTable, visibleWhitespace } from "./format.ts";

/** What the report's header says about the layer and the statistics. */
export interface ReportInfo {
  /** The page's title and heading. */
  title: string;
  /** The transcoder's layer. */
  layer: number;
  /** Its number of features. */
  dSae: number;
  /** Tokens and rows the statistics were computed over. */
  tokens: number;
  rows: number;
  /** Mean number of active features per token. */
  meanL0: number;
  /** Features with log10 frequency > -4. */
  liveFeatures: number;
  /** K of the in-graph top-k, and the largest K used after raising it. */
  maxActive: number;
  maxActiveUsed: number;
  /** Tokens with more than K active features, and activations not recorded because of them. */
  overflowTokens: number;
  droppedActivations: number;
  /** Where the tokens come from (source, split, rows, ...). */
  corpus?: Record<string, unknown>;
  /** Free-form lines (model and transcoder paths, timings). */
  notes?: string[];
  /** One row per feature of the layer, for the report's index. */
  index?: FeatureIndexRow[];
}

/** A feature in the report's index. */
export interface FeatureIndexRow {
  /** The feature index. */
  feature: number;
  /** Fraction (0..1) of tokens on which it fired. */
  frequency: number;
  /** Its largest activation. */
  max: number;
  /** The token of its strongest example, when the statistics kept their token rows. */
  topToken?: string;
}

const anchor = (feature: number) => `feature-${feature}`;

/** A token in the index (styled by the page's CSS, as the index can have 10^5 rows). */
function tokenCode(t: string): string {
  return `<code>${escapeHtml(visibleWhitespace(t === "" ? "∅" : t))}</code>`;
}

/**
 * The index of every feature: frequency, max activation and top token, sorted by feature id;
 * features that have a dashboard in the report link to it. Features that never fired are listed
 * together on one line.
 */
function indexSection(rows: readonly FeatureIndexRow[], shown: ReadonlySet<number>): string {
  const sorted = [...rows].sort((a, b) => a.feature - b.feature);
  const fired = sorted.filter((r) => r.frequency > 0);
  const dead = sorted.filter((r) => r.frequency === 0).map((r) => r.feature);
  const table = htmlTable(
    ["feature", "frequency", "max", "top token"],
    fired.map((r) => [
      shown.has(r.feature) ? `<a href="#${anchor(r.feature)}">${r.feature}</a>` : String(r.feature),
      formatPercent(r.frequency, 4),
      formatFixed(r.max, 3),
      r.topToken === undefined ? "-" : tokenCode(r.topToken),
    ]),
    { align: ["right", "right", "right", "left"], htmlColumns: [0, 3] },
  );
  return `<details id="index"><summary>Index of all ${rows.length} features (${fired.length} fired, ${dead.length} never fired)</summary>
${table}
${dead.length ? `<p class="muted">Never fired: ${dead.join(", ")}</p>` : ""}</details>`;
}

const CSS = `body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1100px;color:#222}
section{border-top:1px solid #ccc;padding-top:.4em;margin-top:1em}.muted{color:#888}
summary{cursor:pointer}nav a{margin-right:.6em}
code{white-space:pre;background:#f2f2f2;color:#000;padding:0 2px}`;

/**
 * The whole report as one HTML document; each feature's section (`id="feature-{i}"`, which the
 * navigation and the index link to) holds `showDashboard(d).html`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showDashboard } from "./dashboard_html.ts";
 * import { renderDashboardReport } from "./dashboard_report.ts";
 * const d = {
 *   layer: 2,
 *   feature: 7,
 *   summary: { feature: 7, count: 3, frequency: 0.25, logFrequency: -0.602, mean: 1, std: 0.5, max: 1.5, quantiles: [] },
 *   topExamples: [{ row: 0, pos: 1, value: 1.5, start: 0, strings: ["a", " <b>"], acts: [0, 1.5], focus: 1 }],
 *   bands: [],
 * };
 * const html = renderDashboardReport({
 *   title: "Layer 2", layer: 2, dSae: 8, tokens: 12, rows: 1, meanL0: 1.5, liveFeatures: 2,
 *   maxActive: 128, maxActiveUsed: 128, overflowTokens: 0, droppedActivations: 0,
 *   index: [{ feature: 7, frequency: 0.25, max: 1.5, topToken: " <b>" }, { feature: 3, frequency: 0, max: 0 }],
 * }, [d]);
 * html.startsWith("<!DOCTYPE html>"); // true
 * assert.ok(html.includes(`<section id="feature-7">${showDashboard(d).html}</section>`));
 * assert.ok(html.includes('<a href="#feature-7">7</a>') && html.includes("Never fired: 3"));
 * ```
 */
export function renderDashboardReport(
  info: ReportInfo,
  dashboards: readonly FeatureDashboard[],
): string {
  const corpus = info.corpus
    ? Object.entries(info.corpus).map(([k, v]) => `${k} ${v}`).join(", ")
    : "unknown";
  const overflow = info.overflowTokens > 0
    ? `<p>${info.overflowTokens} tokens had more than K = ${info.maxActive} active features; ${
      info.droppedActivations > 0
        ? `<b>${info.droppedActivations} of their activations were not recorded</b> (raise --max-active)`
        : `K was raised to ${info.maxActiveUsed}, so all were recorded`
    }.</p>`
    : "";
  const nav = dashboards.map((d) => `<a href="#${anchor(d.feature)}">${d.feature}</a>`).join("");
  const sections = dashboards.map((d) =>
    `<section id="${anchor(d.feature)}">${showDashboard(d).html}</section>`
  );
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>${CSS}</style></head><body>
<h1>${escapeHtml(info.title)}</h1>
<p>Layer ${info.layer} transcoder, d_sae ${info.dSae}: ${info.tokens} tokens in ${info.rows} rows (${
    escapeHtml(corpus)
  }); mean L0 ${
    formatFixed(info.meanL0, 2)
  }; ${info.liveFeatures} live features (log10 frequency &gt; -4).</p>
${overflow}${(info.notes ?? []).map((n) => `<p class="muted">${escapeHtml(n)}</p>`).join("")}
<p class="muted">Token colour: white (0) to orange (the feature's max activation); the example's token is bold and outlined; hover a token for its activation.</p>
<nav>Features: ${nav}</nav>
${info.index ? indexSection(info.index, new Set(dashboards.map((d) => d.feature))) : ""}
${sections.join("\n")}
</body></html>
`;
}

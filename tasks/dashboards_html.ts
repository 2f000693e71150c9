/**
 * The static HTML report of `deno task dashboards`: one self-contained file (inline CSS and SVG,
 * no scripts, no external resources) rendering the plain `FeatureDashboard` data of
 * `lib/dashboards`. Every token string and other text is HTML-escaped.
 *
 * @module
 */
import type { DashboardExample, FeatureDashboard, TokenValue } from "../lib/dashboards/mod.ts";

/** What the report's header says about the layer and the statistics. */
export interface ReportInfo {
  title: string;
  layer: number;
  dSae: number;
  tokens: number;
  rows: number;
  meanL0: number;
  liveFeatures: number;
  maxActive: number;
  maxActiveUsed: number;
  overflowTokens: number;
  droppedActivations: number;
  corpus?: Record<string, unknown>;
  /** Free-form lines (model and transcoder paths, timings). */
  notes?: string[];
  /** One row per feature of the layer, for the report's index. */
  index?: FeatureIndexRow[];
}

/** A feature in the report's index. */
export interface FeatureIndexRow {
  feature: number;
  frequency: number;
  max: number;
  /** The token of its strongest example, when the statistics kept their token rows. */
  topToken?: string;
}

/**
 * The index of every feature: frequency, max activation and top token, sorted by feature id;
 * features that have a dashboard in the report link to it. Features that never fired are listed
 * together on one line.
 */
function indexSection(rows: FeatureIndexRow[], shown: ReadonlySet<number>): string {
  const fired = rows.filter((r) => r.frequency > 0);
  const dead = rows.filter((r) => r.frequency === 0).map((r) => r.feature);
  const body = fired.map((r) => {
    const id = shown.has(r.feature)
      ? `<a href="#feature-${r.feature}">${r.feature}</a>`
      : String(r.feature);
    return `<tr><td class="num">${id}</td><td class="num">${pct(r.frequency)}</td><td class="num">${
      num(r.max, 4)
    }</td><td class="tok">${r.topToken === undefined ? "-" : tokenText(r.topToken)}</td></tr>`;
  }).join("");
  return `<details id="index"><summary>Index of all ${rows.length} features (${fired.length} fired, ${dead.length} never fired)</summary>
<table class="tt index"><thead><tr><th>feature</th><th>frequency</th><th>max</th><th>top token</th></tr></thead><tbody>${body}</tbody></table>
${dead.length ? `<p class="muted">Never fired: ${dead.join(", ")}</p>` : ""}</details>`;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const num = (x: number, digits = 3) =>
  Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : "-";
const pct = (x: number) => `${Number((100 * x).toPrecision(3))}%`;

/** A token for display: whitespace made visible, escaped. */
function tokenText(s: string): string {
  return escapeHtml(s.replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5"));
}

/** One example as highlighted tokens: orange intensity by activation, the example token bold. */
function exampleHtml(e: DashboardExample, max: number): string {
  const spans = e.strings.map((s, j) => {
    const a = e.acts[j];
    const alpha = max > 0 && a > 0 ? Math.min(1, a / max) : 0;
    const bg = alpha > 0 ? ` style="background:rgba(255,140,0,${alpha.toFixed(3)})"` : "";
    const cls = j === e.focus ? ` class="focus"` : "";
    return `<span${cls}${bg} title="${escapeHtml(num(a, 4))}">${tokenText(s)}</span>`;
  }).join("");
  return `<div class="ex"><span class="meta">row ${e.row}, pos ${e.pos}: <b>${
    num(e.value, 4)
  }</b></span> <span class="toks">${spans}</span></div>`;
}

/** A bar chart as inline SVG. */
function barsSvg(
  counts: ArrayLike<number>,
  labels: { left: string; right: string },
  color: (j: number) => string,
  { width = 320, height = 90, title = "" } = {},
): string {
  const n = counts.length;
  let max = 0;
  for (let j = 0; j < n; j++) max = Math.max(max, counts[j]);
  const bw = width / Math.max(1, n), h = height - 16;
  const bars = Array.from({ length: n }, (_, j) => {
    const bh = max > 0 ? (h * counts[j]) / max : 0;
    return `<rect x="${(j * bw).toFixed(2)}" y="${(h - bh).toFixed(2)}" width="${
      Math.max(0.5, bw - 0.5).toFixed(2)
    }" height="${bh.toFixed(2)}" fill="${color(j)}"><title>${counts[j]}</title></rect>`;
  }).join("");
  return `<svg class="hist" width="${width}" height="${height}" role="img" aria-label="${
    escapeHtml(title)
  }"><title>${escapeHtml(title)}</title>${bars}<text x="0" y="${height - 3}">${
    escapeHtml(labels.left)
  }</text><text x="${width}" y="${height - 3}" text-anchor="end">${
    escapeHtml(labels.right)
  }</text></svg>`;
}

function activationHistogram(d: FeatureDashboard): string {
  const { edges, counts } = d.histogram;
  let lo = counts.findIndex((c) => c > 0), hi = -1;
  for (let j = counts.length - 1; j >= 0; j--) if (counts[j] > 0 && hi < 0) hi = j;
  if (lo < 0) return `<p class="muted">never fired</p>`;
  lo = Math.max(0, lo);
  const shown = counts.slice(lo, hi + 1);
  return barsSvg(
    shown,
    { left: num(edges[lo]), right: num(Math.min(edges[hi + 1], d.summary.max)) },
    () => "#ff8c00",
    { title: "activation histogram (log-spaced bins)" },
  );
}

function logitHistogram(d: FeatureDashboard): string {
  const { edges, counts } = d.logits.histogram;
  return barsSvg(
    counts,
    { left: num(edges[0]), right: num(edges[edges.length - 1]) },
    (j) => ((edges[j] + edges[j + 1]) / 2 < 0 ? "#d62728" : "#1f77b4"),
    { title: "direct logit effects, all tokens" },
  );
}

function tokenTable(title: string, rows: TokenValue[]): string {
  const body = rows.map((t) =>
    `<tr><td class="tok">${tokenText(t.str)}</td><td class="num">${num(t.value, 4)}</td></tr>`
  ).join("");
  return `<table class="tt"><caption>${escapeHtml(title)}</caption>${body}</table>`;
}

function ovHeatmap(norms: Float64Array[]): string {
  let max = 0;
  for (const r of norms) for (const x of r) max = Math.max(max, x);
  const heads = norms[0]?.length ?? 0;
  const head = `<tr><th>layer \\ head</th>${
    Array.from({ length: heads }, (_, h) => `<th>${h}</th>`).join("")
  }</tr>`;
  const body = norms.map((r, l) =>
    `<tr><th>${l}</th>${
      Array.from(r, (x) =>
        `<td style="background:rgba(31,119,180,${(max > 0 ? x / max : 0).toFixed(3)})" title="${
          num(x, 4)
        }">${num(x, 2)}</td>`).join("")
    }</tr>`
  ).join("");
  return `<table class="ov"><caption>OV de-embedding norms ||OV[l,h] W_enc[:, i]||</caption>${head}${body}</table>`;
}

function featureSection(d: FeatureDashboard): string {
  const s = d.summary, max = s.max;
  const quant = s.quantiles.map((q) => `p${Math.round(q.q * 100)} ${num(q.value)}`).join(", ");
  const top = d.topExamples.map((e) => exampleHtml(e, max)).join("");
  const bands = d.bands.map((b) =>
    `<details><summary>Between ${num(b.low)} and ${num(b.high)}: ${pct(b.fraction)}</summary>${
      b.examples.length
        ? b.examples.map((e) => exampleHtml(e, max)).join("")
        : `<p class="muted">no examples sampled</p>`
    }</details>`
  ).join("");
  const heads = d.inputs.heads.map((h) =>
    tokenTable(`via head ${h.layer}.${h.head} (norm ${num(h.norm)})`, h.deembedding.top)
  ).join("");
  return `<section id="feature-${d.feature}">
<h2>Feature ${d.feature} <small>mlp${d.layer}tc[${d.feature}]</small></h2>
<p class="stats">Firing frequency: <b>${pct(s.frequency)}</b> (${s.count} tokens; log10 ${
    num(s.logFrequency)
  }) &middot; max ${num(max, 4)} &middot; mean ${num(s.mean)} &middot; std ${num(s.std)} &middot; ${
    escapeHtml(quant)
  }</p>
<div class="row">${activationHistogram(d)}</div>
<h3>Top activating examples</h3>${top || `<p class="muted">none</p>`}
<h3>Activation bands</h3>${bands || `<p class="muted">none</p>`}
<h3>Direct logit effects (W_dec[i] W_U)</h3>
<div class="row">${tokenTable("most positive", d.logits.top)}${
    tokenTable("most negative", d.logits.bottom)
  }${logitHistogram(d)}</div>
<h3>De-embeddings (W_E W_enc[:, i])</h3>
<div class="row">${tokenTable("most positive", d.inputs.direct.top)}${
    tokenTable("most negative", d.inputs.direct.bottom)
  }${heads}</div>
<div class="row">${ovHeatmap(d.inputs.ovNorms)}</div>
</section>`;
}

const CSS = `body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1100px;color:#222}
h2{border-top:1px solid #ccc;padding-top:.6em}h2 small{color:#777;font-weight:normal}
.ex{margin:.15em 0;font-size:13px}.meta{color:#666;display:inline-block;min-width:12em}
.toks span{white-space:pre;font-family:ui-monospace,monospace;border-radius:2px}
.focus{font-weight:bold;text-decoration:underline}.muted{color:#888}
.row{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}
table{border-collapse:collapse;font-size:13px}caption{font-weight:bold;text-align:left}
td,th{padding:1px 6px}.tt td.tok{font-family:ui-monospace,monospace;white-space:pre;background:#f4f4f4}
.num{text-align:right}.ov td{text-align:right;min-width:2.5em}
svg.hist text{font-size:10px;fill:#555}details{margin:.2em 0}summary{cursor:pointer}
nav a{margin-right:.6em}`;

/**
 * The whole report as one HTML document.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("reports/layer-2.html", renderDashboardReport(info, dashboards));
 * ```
 */
export function renderDashboardReport(info: ReportInfo, dashboards: FeatureDashboard[]): string {
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
  const nav = dashboards.map((d) => `<a href="#feature-${d.feature}">${d.feature}</a>`).join("");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>${CSS}</style></head><body>
<h1>${escapeHtml(info.title)}</h1>
<p>Layer ${info.layer} transcoder, d_sae ${info.dSae}: ${info.tokens} tokens in ${info.rows} rows (${
    escapeHtml(corpus)
  }); mean L0 ${num(info.meanL0)}; ${info.liveFeatures} live features (log10 frequency &gt; -4).</p>
${overflow}${(info.notes ?? []).map((n) => `<p class="muted">${escapeHtml(n)}</p>`).join("")}
<p class="muted">Token colour: orange intensity proportional to the activation (relative to the feature's max); the example's token is bold; hover a token for its value.</p>
<nav>Features: ${nav}</nav>
${info.index ? indexSection(info.index, new Set(dashboards.map((d) => d.feature))) : ""}
${dashboards.map(featureSection).join("\n")}
</body></html>
`;
}

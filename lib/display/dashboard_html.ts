/**
 * A feature dashboard (`FeatureDashboard`, lib/dashboards/dashboard.ts) as one displayable: what
 * a notebook shows inline and what the static report of `deno task dashboards` shows per feature
 * (`renderDashboardReport` puts this same HTML in each feature's section).
 *
 * In order, each part only when the data has it: the title and description; the summary
 * ("Firing frequency: X%", count, log10 frequency, max, mean, std, quantiles); the activation
 * histogram (log-spaced bins on a log10 axis); the top examples (open) and one collapsible
 * `<details>` per activation band ("Between a and b: p%"), as the reference's
 * `display_activating_examples_dash`, each example headed "Example i, token j: v" (corpus row,
 * position, activation); the direct logit effects with their histogram; the de-embeddings,
 * direct and through attention heads; the OV de-embedding norms.
 *
 * All examples of a dashboard share one colour scale (0 to the feature's max activation), so
 * colours compare across bands.
 *
 * @module
 */
import type { DashboardExample, FeatureDashboard } from "../dashboards/dashboard.ts";
import type { ValueHistogram } from "../dashboards/ranking.ts";
import { histogramSvg, histogramText } from "./charts.ts";
import { escapeHtml, formatFixed, formatPercent } from "./format.ts";
import { Displayable, row, stack } from "./jupyter.ts";
import { showHeatmap } from "./show.ts";
import { tokensTable } from "./tables.ts";
import { tokensAnsi, tokensHtml, tokensText } from "./tokens_html.ts";

/** Options of `showDashboard`. */
export interface DashboardOptions {
  /** Crop each example further to `±window` tokens around its token (default: its whole context). */
  window?: number;
  /** Heading level of the title (default 3). */
  headerLevel?: number;
  /** Label before the frequency (default "Firing frequency"; the case studies say "Sparsity"). */
  frequencyLabel?: string;
  /** Open the bands' `<details>` (default: only the top examples are open). */
  openBands?: boolean;
}

/** Bins of the text histogram of activations (adjacent log-spaced bins merged). */
const TEXT_BINS = 12;

/**
 * Decimals of activation values: 2 from a max activation of 1 up, more below (3 for 0.5, 5 for
 * 0.003), so that small-scale features do not print as zeros.
 */
function activationDecimals(max: number): number {
  return max >= 1 || !(max > 0) ? 2 : Math.min(6, 2 + Math.ceil(-Math.log10(max)));
}

function exampleLabel(e: DashboardExample, decimals: number): string {
  return `Example ${e.row}, token ${e.pos}: ${formatFixed(e.value, decimals)}`;
}

function headerPart(d: FeatureDashboard, opts: DashboardOptions): Displayable {
  const { headerLevel = 3, frequencyLabel = "Firing frequency" } = opts;
  const h = Math.min(6, Math.max(1, Math.trunc(headerLevel)));
  const s = d.summary, dp = activationDecimals(s.max) + 1;
  const title = d.title ?? `mlp${d.layer}tc[${d.feature}]`;
  const lines = [
    `${frequencyLabel}: ${formatPercent(s.frequency, 4)} (${s.count} tokens; log10 ${
      formatFixed(s.logFrequency, 3)
    })`,
    `max ${formatFixed(s.max, dp)}, mean ${formatFixed(s.mean, dp)}, std ${formatFixed(s.std, dp)}${
      s.quantiles.length > 0 ? "; " : ""
    }${
      s.quantiles.map((q) => `q${Number((q.q * 100).toFixed(2))} ${formatFixed(q.value, dp)}`)
        .join(", ")
    }`,
  ];
  const text = [title, ...(d.description === undefined ? [] : [d.description]), ...lines];
  const html = `<h${h} style="margin:4px 0">${escapeHtml(title)}</h${h}>${
    d.description === undefined
      ? ""
      : `<div style="margin:2px 0;font-style:italic">${escapeHtml(d.description)}</div>`
  }${lines.map((l) => `<div style="margin:2px 0">${escapeHtml(l)}</div>`).join("")}`;
  return new Displayable(`<div>${html}</div>`, text.join("\n"));
}

/**
 * The nonzero range of a log-spaced histogram with positive, finite edges: an underflow bin
 * starting at 0 gets the lower edge one bin width below, an overflow bin ending at infinity ends
 * at the max activation.
 */
function firingRange(
  h: ValueHistogram,
  max: number,
): { edges: number[]; counts: number[] } | undefined {
  const { edges, counts } = h;
  let lo = -1, hi = -1;
  for (let j = 0; j < counts.length; j++) {
    if (counts[j] > 0) {
      if (lo < 0) lo = j;
      hi = j;
    }
  }
  if (lo < 0) return undefined;
  let ratio = 10 ** 0.1;
  for (let j = 0; j + 1 < edges.length; j++) {
    if (edges[j] > 0 && Number.isFinite(edges[j + 1]) && edges[j + 1] > edges[j]) {
      ratio = edges[j + 1] / edges[j];
      break;
    }
  }
  const e = Array.from(edges.subarray(lo, hi + 2));
  const n = e.length - 1;
  if (!(e[0] > 0)) e[0] = e[1] / ratio;
  if (!Number.isFinite(e[n])) e[n] = max > e[n - 1] ? max : e[n - 1] * ratio;
  return { edges: e, counts: Array.from(counts.subarray(lo, hi + 1)) };
}

function histogramPart(d: FeatureDashboard): Displayable | undefined {
  if (!d.histogram) return undefined;
  const r = firingRange(d.histogram, d.summary.max);
  if (!r) return undefined;
  const title = "Activation histogram (log-spaced bins)";
  const svg = histogramSvg(
    { edges: r.edges.map(Math.log10), counts: r.counts },
    { xLabel: "log10 activation", yLabel: "tokens", color: "#ff8c00", width: 480, height: 200 },
  );
  return new Displayable(
    `<div><div style="font-weight:bold;margin:4px 0">${escapeHtml(title)}</div>${svg}</div>`,
    `${title}\n${histogramText(mergeBins(r), { xLabel: "firing activations" })}`,
  );
}

/** Adjacent bins merged, to at most `TEXT_BINS` (for the text renderings). */
function mergeBins(
  h: { edges: ArrayLike<number>; counts: ArrayLike<number> },
): { edges: number[]; counts: number[] } {
  const n = h.counts.length, g = Math.max(1, Math.ceil(n / TEXT_BINS));
  const edges: number[] = [], counts: number[] = [];
  for (let j = 0; j < n; j += g) {
    edges.push(h.edges[j]);
    let c = 0;
    for (let k = j; k < Math.min(n, j + g); k++) c += h.counts[k];
    counts.push(c);
  }
  edges.push(h.edges[n]);
  return { edges, counts };
}

function logitsPart(d: FeatureDashboard): Displayable | undefined {
  if (!d.logits) return undefined;
  const title = "Direct logit effects (W_dec[i] W_U)";
  const table = tokensTable(d.logits, "logits", { title });
  const h = d.logits.histogram;
  if (!h) return table;
  const xLabel = "logit effect";
  return row([
    table,
    new Displayable(
      histogramSvg(h, { signColors: true, xLabel, yLabel: "tokens", width: 480, height: 240 }),
      histogramText(mergeBins(h), { xLabel: "logit effects on all tokens" }),
    ),
  ]);
}

function examplesPart(d: FeatureDashboard, opts: DashboardOptions): Displayable {
  const { window, openBands = false } = opts;
  const max = d.summary.max, dp = activationDecimals(max);
  const label = (e: DashboardExample) => exampleLabel(e, dp);
  const html: string[] = [], text: string[] = [], ansi: string[] = [];
  const section = (summary: string, examples: readonly DashboardExample[], open: boolean) => {
    const seqs = examples.map((e) => ({
      e,
      seq: { tokens: e.strings, values: e.acts },
      o: { current: e.focus, window, min: 0, max },
    }));
    html.push(
      `<details${open ? " open" : ""} style="margin:4px 0"><summary style="cursor:pointer">${
        escapeHtml(summary)
      }</summary>${
        seqs.map(({ e, seq, o }) =>
          `<div style="margin:4px 0 4px 12px"><div style="font-size:11px;color:#666">${
            escapeHtml(label(e))
          }</div>${tokensHtml(seq, o)}</div>`
        ).join("")
      }${
        examples.length === 0 ? `<div style="margin-left:12px;color:#888">no examples</div>` : ""
      }</details>`,
    );
    text.push(summary), ansi.push(summary);
    for (const { e, seq, o } of seqs) {
      text.push(`  ${label(e)}: ${tokensText(seq, o)}`);
      ansi.push(`  ${label(e)}: ${tokensAnsi(seq, o)}`);
    }
  };
  section("Top examples", d.topExamples, true);
  for (const b of d.bands) {
    section(
      `Between ${formatFixed(b.low, dp)} and ${formatFixed(b.high, dp)}: ${
        formatPercent(b.fraction, 2)
      }`,
      b.examples,
      openBands,
    );
  }
  return new Displayable(`<div>${html.join("")}</div>`, text.join("\n"), ansi.join("\n"));
}

function inputParts(d: FeatureDashboard): Displayable[] {
  const inputs = d.inputs;
  if (!inputs) return [];
  const parts: Displayable[] = [];
  const tables = [
    ...(inputs.direct
      ? [tokensTable(inputs.direct, "deembeddings", { title: "De-embeddings (W_E W_enc[:, i])" })]
      : []),
    ...(inputs.heads ?? []).map((h) =>
      tokensTable(h.deembedding, "deembeddings", {
        title: `Through head ${h.layer}.${h.head} (OV norm ${formatFixed(h.norm, 3)})`,
      })
    ),
  ];
  if (tables.length > 0) parts.push(row(tables));
  if (inputs.ovNorms && inputs.ovNorms.length > 0) {
    parts.push(
      showHeatmap(inputs.ovNorms, { title: "OV de-embedding norms ||OV[l,h] W_enc[:, i]||" }),
    );
  }
  return parts;
}

/**
 * A feature dashboard as a displayable: every part the data has (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showDashboard } from "./dashboard_html.ts";
 * const example = { row: 17, pos: 40, value: 8.62, start: 38, strings: [" L", "115", "A", "1"], acts: [0, 0.5, 8.62, 0], focus: 2 };
 * const d = showDashboard({
 *   layer: 8,
 *   feature: 89,
 *   summary: { feature: 89, count: 14, frequency: 0.001137, logFrequency: -2.944, mean: 3.1, std: 1.2, max: 8.62, quantiles: [{ q: 0.5, value: 2.9 }] },
 *   topExamples: [example],
 *   bands: [{ low: 4, high: 8.62, fraction: 0.25, examples: [example] }],
 *   logits: { top: [{ token: 1, str: " guns", value: 1.25 }], bottom: [{ token: 2, str: " the", value: -0.5 }] },
 * });
 * d.text.split("\n").slice(0, 4);
 * // ["mlp8tc[89]", "Firing frequency: 0.1137% (14 tokens; log10 -2.944)", "max 8.620, mean 3.100, std 1.200; q50 2.900", ""]
 * assert.ok(d.text.includes("Top examples\n  Example 17, token 40: 8.62:  L115(0.50)[[A]](8.62)1"));
 * assert.ok(d.text.includes("Between 4.00 and 8.62: 25.00%") && d.text.includes("Top logit tokens"));
 * assert.ok(d.html.includes("<details open") && d.html.includes('title="8.62"'));
 * ```
 */
export function showDashboard(d: FeatureDashboard, opts: DashboardOptions = {}): Displayable {
  const parts: Displayable[] = [headerPart(d, opts)];
  const hist = histogramPart(d);
  if (hist) parts.push(hist);
  parts.push(examplesPart(d, opts));
  const logits = logitsPart(d);
  if (logits) parts.push(logits);
  parts.push(...inputParts(d));
  const body = stack(parts);
  return new Displayable(
    `<div style="border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:8px 0">${body.html}</div>`,
    body.text,
    body.ansi,
  );
}

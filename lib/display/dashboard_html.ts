/**
 * Feature dashboards from plain data: the reference's `display_activating_examples_dash`
 * ("Firing frequency: X%", then one collapsible `<details>` per activation band, "Between a and
 * b: p%", holding example snippets "Example i, token j" cropped to `±window` tokens around the
 * activation), and a feature card that adds top examples, logit effects, de-embeddings, a logit
 * histogram and OV de-embedding norms.
 *
 * All examples of a dashboard share one colour scale (0 to the largest activation shown), so
 * colours compare across bands.
 *
 * @module
 */
import { escapeHtml, formatFixed, formatPercent } from "./format.ts";
import {
  heatmapSvg,
  heatmapText,
  type HistogramInput,
  histogramSvg,
  histogramText,
} from "./charts.ts";
import { Displayable, stack } from "./jupyter.ts";
import { type RankedToken, tokensTable, type TopBottom } from "./tables.ts";
import { tokensAnsi, tokensHtml, tokensText } from "./tokens_html.ts";

/** One example: a token window with the feature's activation on every token. */
export interface ActivationExample {
  /** Token strings of the window. */
  tokens: readonly string[];
  /** The activation on each token. */
  values: ArrayLike<number>;
  /** The position (in `tokens`) of the activation this example was chosen for. */
  position: number;
  /** The example's row in the corpus ("Example i"). */
  example?: number;
  /** The token's position in its corpus row ("token j"; default `position`). */
  token?: number;
}

/** An activation band `[low, high]` with the share of firing tokens in it and some examples. */
export interface ExampleBand {
  /** Lower activation bound. */
  low: number;
  /** Upper activation bound. */
  high: number;
  /** Fraction (0..1) of the feature's firing tokens whose activation falls in the band. */
  fraction: number;
  /** Examples in the band. */
  examples: readonly ActivationExample[];
}

/** The data of an activation-examples dashboard. */
export interface ActivationDashboard {
  /** E.g. `mlp8tc[89]`. */
  title?: string;
  /** Fraction (0..1) of corpus tokens on which the feature fires. */
  firingFrequency?: number;
  /** The largest activation seen (colour scale maximum; default the largest value shown). */
  maxActivation?: number;
  /** The strictly top-activating examples, shown first (open). */
  topExamples?: readonly ActivationExample[];
  /** Activation bands in display order. */
  bands?: readonly ExampleBand[];
}

/** Options of `showDashboard`. */
export interface DashboardOptions {
  /** Tokens kept either side of each example's activation (default 5, as the reference). */
  window?: number;
  /** Heading level of the title (default 3). */
  headerLevel?: number;
  /** Label before the frequency (default "Firing frequency"; the case studies say "Sparsity"). */
  frequencyLabel?: string;
  /** Open the bands' `<details>` (default: only the top examples are open). */
  openBands?: boolean;
}

function exampleLabel(e: ActivationExample): string {
  const v = e.values[e.position];
  const where = e.example === undefined
    ? `token ${e.token ?? e.position}`
    : `Example ${e.example}, token ${e.token ?? e.position}`;
  return `${where}: ${formatFixed(v, 2)}`;
}

function allExamples(d: ActivationDashboard): ActivationExample[] {
  return [...(d.topExamples ?? []), ...(d.bands ?? []).flatMap((b) => [...b.examples])];
}

function colourMax(d: ActivationDashboard): number {
  if (d.maxActivation !== undefined) return d.maxActivation;
  let m = 0;
  for (const e of allExamples(d)) {
    for (let i = 0; i < e.values.length; i++) m = Math.max(m, e.values[i]);
  }
  return m;
}

/**
 * The activation-examples dashboard as a displayable.
 *
 * @example
 * ```ts
 * import { showDashboard } from "./dashboard_html.ts";
 * const d = showDashboard({
 *   title: "mlp8tc[89]",
 *   firingFrequency: 0.001137,
 *   bands: [{ low: 4, high: 8.62, fraction: 0.25, examples: [
 *     { tokens: [" L", "115", "A", "1"], values: [0, 0, 8.62, 0], position: 2, example: 17, token: 40 },
 *   ] }],
 * });
 * d.text.includes("Firing frequency: 0.1137%") && d.html.includes("<details"); // true
 * ```
 */
export function showDashboard(
  d: ActivationDashboard,
  opts: DashboardOptions = {},
): Displayable {
  const { window = 5, headerLevel = 3, frequencyLabel = "Firing frequency", openBands = false } =
    opts;
  const h = Math.min(6, Math.max(1, headerLevel));
  const max = colourMax(d);
  const tokOpts = (e: ActivationExample) => ({ current: e.position, window, min: 0, max });
  const html: string[] = [], text: string[] = [], ansi: string[] = [];
  const both = (s: string) => (text.push(s), ansi.push(s));
  if (d.title !== undefined) {
    html.push(`<h${h} style="margin:4px 0">${escapeHtml(d.title)}</h${h}>`);
    both(d.title);
  }
  if (d.firingFrequency !== undefined) {
    const f = `${frequencyLabel}: ${formatPercent(d.firingFrequency, 4)}`;
    html.push(`<div style="margin:2px 0">${escapeHtml(f)}</div>`);
    both(f);
  }
  const section = (summary: string, examples: readonly ActivationExample[], open: boolean) => {
    html.push(
      `<details${open ? " open" : ""} style="margin:4px 0"><summary style="cursor:pointer">${
        escapeHtml(summary)
      }</summary>${
        examples.map((e) =>
          `<div style="margin:4px 0 4px 12px"><div style="font-size:11px;color:#666">${
            escapeHtml(exampleLabel(e))
          }</div>${tokensHtml(e, tokOpts(e))}</div>`
        ).join("")
      }${
        examples.length === 0 ? `<div style="margin-left:12px;color:#888">no examples</div>` : ""
      }</details>`,
    );
    both(`${summary}`);
    for (const e of examples) {
      text.push(`  ${exampleLabel(e)}: ${tokensText(e, tokOpts(e))}`);
      ansi.push(`  ${exampleLabel(e)}: ${tokensAnsi(e, tokOpts(e))}`);
    }
  };
  if (d.topExamples) section("Top examples", d.topExamples, true);
  for (const b of d.bands ?? []) {
    section(
      `Between ${formatFixed(b.low, 2)} and ${formatFixed(b.high, 2)}: ${
        formatPercent(b.fraction, 2)
      }`,
      b.examples,
      openBands,
    );
  }
  return new Displayable(`<div>${html.join("")}</div>`, text.join("\n"), ansi.join("\n"));
}

/** The data of a feature card; every part is optional. */
export interface FeatureCardData {
  /** E.g. `mlp8tc[89]`. */
  title: string;
  /** Free text under the title (e.g. an interpretation). */
  description?: string;
  /** log10 firing frequency (the reference's sidecar value). */
  logFrequency?: number;
  /** Activation examples. */
  dashboard?: ActivationDashboard;
  /** Top/bottom direct logit effects `W_dec[i] @ W_U`. */
  logits?: TopBottom<RankedToken>;
  /** All logit effects or their histogram, for the histogram chart (negative red, positive blue). */
  logitValues?: HistogramInput;
  /** Top/bottom de-embeddings `W_E @ W_enc[:, i]`. */
  deembeddings?: TopBottom<RankedToken>;
  /** OV de-embedding norms `[layers][heads]`. */
  ovNorms?: readonly ArrayLike<number>[];
}

/**
 * A feature card: title, frequency, activation examples, logit effects (table + histogram),
 * de-embeddings and OV norms, as one displayable.
 *
 * @example
 * ```ts
 * import { showFeatureCard } from "./dashboard_html.ts";
 * const card = showFeatureCard({
 *   title: "mlp0tc[7829]",
 *   deembeddings: { top: [{ token: " rifles", value: 10.275 }], bottom: [{ token: "aters", value: -3.79 }] },
 * });
 * card.text.includes("+10.275"); // true
 * ```
 */
export function showFeatureCard(data: FeatureCardData, opts: DashboardOptions = {}): Displayable {
  const parts: Displayable[] = [];
  const info: string[] = [];
  if (data.description) info.push(data.description);
  if (data.logFrequency !== undefined) {
    info.push(
      `log10 frequency: ${formatFixed(data.logFrequency, 3)} (${
        formatPercent(10 ** data.logFrequency, 4)
      })`,
    );
  }
  if (info.length > 0) {
    parts.push(
      new Displayable(info.map((s) => `<div>${escapeHtml(s)}</div>`).join(""), info.join("\n")),
    );
  }
  if (data.dashboard) {
    parts.push(showDashboard({ ...data.dashboard, title: undefined }, { ...opts }));
  }
  if (data.logits) parts.push(tokensTable(data.logits, "logits", { title: "Logit effects" }));
  if (data.logitValues) {
    parts.push(
      new Displayable(
        histogramSvg(data.logitValues, { signColors: true, xLabel: "logit effect", height: 220 }),
        histogramText(data.logitValues, { splitAtZero: true, xLabel: "logit effects" }),
      ),
    );
  }
  if (data.deembeddings) {
    parts.push(tokensTable(data.deembeddings, "deembeddings", { title: "De-embeddings" }));
  }
  if (data.ovNorms) {
    parts.push(
      new Displayable(
        `<div style="font-weight:bold">OV de-embedding norms</div>${heatmapSvg(data.ovNorms)}`,
        `OV de-embedding norms\n${heatmapText(data.ovNorms)}`,
      ),
    );
  }
  const card = stack(parts, { title: data.title });
  return new Displayable(
    `<div style="border:1px solid #ddd;border-radius:6px;padding:8px 12px">${card.html}</div>`,
    card.text,
    card.ansi,
  );
}

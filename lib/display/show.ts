/**
 * One call per result type, each returning a `Displayable`: rich HTML when it is a notebook
 * cell's value (or passed to `show`), readable text from `console.log`, `String()` or `show` in a
 * terminal.
 *
 * @example
 * ```ts ignore
 * showPaths(greedyTopPaths(ctx, fv, { numIters: 3, numBranches: 15 }));   // cell value: a table
 * showGraph(addErrorNodes(ctx, pathsToGraph(paths)), { tokens });         // the graph by layer
 * showEval(await evaluateTranscoders(model, transcoders, rows));
 * await show(showTokens(tokens, acts, { current: 9 }));                  // terminal: text
 * ```
 *
 * @module
 */
import type { FeatureVector } from "../circuits/feature_vector.ts";
import type { CircuitGraph } from "../circuits/graph.ts";
import type { AllLayersEval, LayerEval } from "../transcoder/evals.ts";
import {
  type CircuitGraphOptions,
  circuitGraphSvg,
  graphText,
  type HeatmapOptions,
  heatmapSvg,
  heatmapText,
  type HistogramInput,
  type HistogramOptions,
  histogramSvg,
  histogramText,
  type ScatterOptions,
  scatterSvg,
  scatterText,
} from "./charts.ts";
import {
  type ActivationDashboard,
  activationDashboard,
  type DashboardOptions,
  featureCard,
  type FeatureCardData,
} from "./dashboard_html.ts";
import { escapeHtml } from "./format.ts";
import { Displayable, row, stack } from "./jupyter.ts";
import {
  allLayersEvalTable,
  featuresTable,
  layerEvalTable,
  pathsTable,
  type RankedFeature,
  type RankedToken,
  tokensTable,
  type TokenTableKind,
  type TopBottom,
  type TopBottomLabels,
} from "./tables.ts";
import {
  tokensAnsi,
  type TokenSequence,
  tokensHtml,
  type TokensOptions,
  tokensText,
} from "./tokens_html.ts";

function titled(title: string | undefined, html: string, text: string): Displayable {
  return title === undefined ? new Displayable(html, text) : new Displayable(
    `<div><div style="font-weight:bold;margin:4px 0">${escapeHtml(title)}</div>${html}</div>`,
    `${title}\n${text}`,
  );
}

/**
 * Highlighted tokens (the reference's `make_sequence_html`): a sequence object, or tokens and
 * values.
 *
 * @example
 * ```ts
 * import { showTokens } from "./show.ts";
 * String(showTokens(["He", " was", " caught"], [0, 0, 19.97], { current: 2 })); // "He was[[ caught]](19.97)"
 * ```
 */
export function showTokens(
  seq: TokenSequence | readonly string[],
  values?: ArrayLike<number> | TokensOptions,
  opts: TokensOptions = {},
): Displayable {
  let s: TokenSequence, o: TokensOptions;
  if (Array.isArray(seq)) {
    if (values === undefined || !("length" in values)) {
      throw new TypeError("showTokens(tokens, values) needs one value per token");
    }
    s = { tokens: seq as readonly string[], values: values as ArrayLike<number> };
    o = opts;
  } else {
    s = seq as TokenSequence;
    o = (values as TokensOptions | undefined) ?? opts;
  }
  return new Displayable(tokensHtml(s, o), tokensText(s, o), tokensAnsi(s, o));
}

/** Options of `showTopTokens`. */
export interface TopTokensOptions extends TopBottomLabels {
  /** Table headers: "logits" (default) or "deembeddings". */
  kind?: TokenTableKind;
  /**
   * The full vector (e.g. all `W_dec[i] @ W_U`) or its precomputed histogram, to add a histogram
   * (negative red, positive blue).
   */
  values?: HistogramInput;
}

/**
 * Top and bottom tokens (logit effects, de-embeddings), with an optional histogram of all
 * values beside the table.
 */
export function showTopTokens(
  data: TopBottom<RankedToken>,
  opts: TopTokensOptions = {},
): Displayable {
  const table = tokensTable(data, opts.kind ?? "logits", opts);
  if (!opts.values) return table;
  const label = (opts.kind ?? "logits") === "logits" ? "logit effect" : "de-embedding score";
  return row([
    table,
    new Displayable(
      histogramSvg(opts.values, { signColors: true, xLabel: label, width: 480, height: 240 }),
      histogramText(opts.values, { splitAtZero: true, xLabel: label }),
    ),
  ]);
}

/** Options of `showTopFeatures`. */
export interface TopFeaturesOptions extends TopBottomLabels {
  /** The features' layer, to print them as `mlp{layer}tc[i]`. */
  layer?: number;
  /** The full `[d_sae]` vector (e.g. a pullback), to add the reference's scatter plot. */
  values?: ArrayLike<number>;
  /** Options of the scatter plot. */
  scatter?: ScatterOptions;
}

/** Most negative and positive features (pullbacks), with an optional scatter of all of them. */
export function showTopFeatures(
  data: TopBottom<RankedFeature>,
  opts: TopFeaturesOptions = {},
): Displayable {
  const table = featuresTable(data, opts);
  if (!opts.values) return table;
  return stack([
    table,
    new Displayable(
      scatterSvg(opts.values, opts.scatter),
      scatterText(opts.values, { label: opts.scatter?.yLabel ?? "Connection strength" }),
    ),
  ]);
}

/** Circuit paths (flat, or greedy search's per-iteration lists): `Path [i][j]: a <- b`. */
export function showPaths(
  paths: readonly FeatureVector[][] | readonly FeatureVector[][][],
  opts: { title?: string; limit?: number } = {},
): Displayable {
  return pathsTable(paths, opts);
}

/** A circuit graph laid out by layer (SVG), with a text listing of nodes and their children. */
export function showGraph(
  graph: CircuitGraph,
  opts: CircuitGraphOptions & { title?: string } = {},
): Displayable {
  return titled(opts.title, circuitGraphSvg(graph, opts), graphText(graph, opts));
}

/** What `evaluateTranscoders` returns, or parts of it. */
export type EvalResult =
  | readonly LayerEval[]
  | AllLayersEval
  | { perLayer: readonly LayerEval[]; all?: AllLayersEval; tokens?: number };

/**
 * Transcoder evaluations: the per-layer table, the all-layers table, and optionally one
 * histogram of log10 feature frequencies per layer.
 */
export function showEval(
  res: EvalResult,
  { frequencyHistograms = false, title }: { frequencyHistograms?: boolean; title?: string } = {},
): Displayable {
  let perLayer: readonly LayerEval[] = [],
    all: AllLayersEval | undefined,
    tokens: number | undefined;
  if (Array.isArray(res)) perLayer = res as readonly LayerEval[];
  else if ("perLayer" in res) ({ perLayer, all, tokens } = res);
  else all = res as AllLayersEval;
  const parts: Displayable[] = [];
  if (tokens !== undefined) {
    parts.push(
      new Displayable(`<div>${tokens} tokens evaluated</div>`, `${tokens} tokens evaluated`),
    );
  }
  if (perLayer.length > 0) parts.push(layerEvalTable(perLayer));
  if (all) parts.push(allLayersEvalTable(all));
  if (frequencyHistograms) {
    parts.push(row(perLayer.map((e) => {
      const opts = { xLabel: `layer ${e.layer}: log10 feature frequency` };
      return new Displayable(
        histogramSvg(e.logFrequencies, { ...opts, bins: 40, width: 360, height: 200 }),
        histogramText(e.logFrequencies, opts),
      );
    })));
  }
  return stack(parts, { title });
}

/** An activation-examples dashboard (see `activationDashboard`). */
export function showDashboard(d: ActivationDashboard, opts: DashboardOptions = {}): Displayable {
  return activationDashboard(d, opts);
}

/** A feature card (see `featureCard`). */
export function showFeatureCard(d: FeatureCardData, opts: DashboardOptions = {}): Displayable {
  return featureCard(d, opts);
}

/** A histogram (e.g. log10 feature frequencies, logit effects with `signColors`). */
export function showHistogram(
  values: HistogramInput,
  opts: HistogramOptions & { title?: string } = {},
): Displayable {
  return titled(
    opts.title,
    histogramSvg(values, opts),
    histogramText(values, {
      domain: opts.domain,
      splitAtZero: opts.splitAtZero ?? opts.signColors,
      xLabel: opts.xLabel,
    }),
  );
}

/** A heatmap (e.g. OV de-embedding norms `[layers][heads]`). */
export function showHeatmap(
  matrix: readonly ArrayLike<number>[],
  opts: HeatmapOptions & { title?: string } = {},
): Displayable {
  return titled(opts.title, heatmapSvg(matrix, opts), heatmapText(matrix));
}

/** A scatter of values against their index (e.g. a pullback over all transcoder features). */
export function showScatter(
  values: ArrayLike<number>,
  opts: ScatterOptions & { title?: string } = {},
): Displayable {
  return titled(
    opts.title,
    scatterSvg(values, opts),
    scatterText(values, { top: opts.labelTop, label: opts.yLabel ?? "Connection strength" }),
  );
}

/**
 * One call per result type, each returning a `Displayable`: rich HTML when it is a notebook
 * cell's value (or passed to `show`), readable text from `console.log`, `String()` or `show` in a
 * terminal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CircuitContext } from "../circuits/context.ts";
 * import { addErrorNodes, pathsToGraph } from "../circuits/graph.ts";
 * import { greedyTopPaths, transcoderFeatureVector } from "../circuits/paths.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { show } from "./jupyter.ts";
 * import { showGraph, showPaths, showTokens } from "./show.ts";
 * const { model, transcoders } = await loadPretrained("tiny"); // the committed 4-layer model
 * const prompt = "The cat sat on the mat";
 * const ctx = await CircuitContext.create(model, transcoders, prompt);
 * const tokens = model.toStrTokens(prompt);
 * const fv = transcoderFeatureVector(transcoders[3]!, 1103); // mlp3tc[1103]@-1
 * const paths = greedyTopPaths(ctx, fv, { numIters: 2, numBranches: 3 });
 * const table = showPaths(paths); // as a cell's value: a table
 * const graph = showGraph(addErrorNodes(ctx, pathsToGraph(paths)), ctx); // in the graph viewer
 * const acts = tokens.map((_, t) => ctx.featureActs(3, t)[1103]);
 * await show(showTokens(tokens, acts, { current: -1 })); // in a terminal: text
 * // prints "<|endoftext|>The cat sat(0.35) on(0.94) the(1.37)[[ mat]](0.91)"
 * assert.match(table.text, /^Path \[0\]\[0\]: mlp3tc\[1103\]@-1: 0\.91 <- /);
 * assert.ok(graph.html.includes("<iframe") && graph.text.includes("tc_error"));
 * ```
 *
 * @module
 */
import type { FeatureVector } from "../circuits/feature_vector.ts";
import type { CircuitGraph } from "../circuits/graph.ts";
import type { AllLayersEval, LayerEval } from "../transcoder/evals.ts";
import type { CircuitContext } from "../circuits/context.ts";
import { graphText } from "./circuit_text.ts";
import { circuitGraphToViewer } from "./circuit_graph_viewer.ts";
import { showGraphViewer } from "./graph_viewer.ts";
import {
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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showTopTokens } from "./show.ts";
 * const d = showTopTokens({
 *   top: [{ token: " rifles", value: 10.275 }, { token: " guns", value: 9.371 }],
 *   bottom: [{ token: "aters", value: -3.79 }],
 * }, { values: [10.275, 9.371, -3.79, 0.5, -1.2, 0.1] }); // values: all logit effects
 * d.text.split("\n")[2]; // '"aters"              -3.790  " rifles"         +10.275'
 * assert.ok(d.text.includes("logit effect: 6 finite values")); // the histogram's text
 * assert.ok(d.html.includes("<svg"));
 * ```
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

/**
 * Most negative and positive features (pullbacks), with an optional scatter of all of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showTopFeatures } from "./show.ts";
 * import { topBottomFeatures } from "./tables.ts";
 * const pullback = Float32Array.of(0.5, -2, 3, 0, 1.25); // e.g. W_dec @ v, one value per feature
 * const d = showTopFeatures(topBottomFeatures(pullback, 2), { layer: 2, values: pullback });
 * d.text.split("\n")[2]; // "mlp2tc[1]                          -2.000  mlp2tc[2]                          +3.000"
 * assert.ok(d.text.endsWith("top: 2 (3.0000), 4 (1.2500), 0 (0.5000), 3 (0.0000), 1 (-2.0000)"));
 * ```
 */
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

/**
 * Circuit paths (flat, or greedy search's per-iteration lists): `Path [i][j]: a <- b`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showPaths } from "./show.ts";
 * const fv = (layer: number, idx: number, token: number, contrib: number) => ({
 *   componentPath: [{ layer, type: "mlp" as const, token, featureType: "tc" as const, featureIndex: idx }],
 *   vector: new Float64Array(0), layer, sublayer: "resid_mid" as const, token, contrib, error: 0,
 * });
 * const root = fv(8, 89, -1, 7.57), a = fv(0, 8829, 9, 0.85), b = fv(2, 7620, 9, 0.41);
 * String(showPaths([[[root, a], [root, b]]])); // per-iteration lists, as greedyTopPaths returns
 * // "Path [0][0]: mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85\nPath [0][1]: mlp8tc[89]@-1: 7.6 <- mlp2tc[7620]@9: 0.41"
 * assert.equal(
 *   showPaths([[root, a], [root, b]], { limit: 1 }).text,
 *   "Path [0]: mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85\n… 1 more path",
 * );
 * const tokens = [..." abcdefgh", "M"]; // the prompt's token strings name each node's token
 * showPaths([[root, a]], { tokens }).text; // 'Path [0]: mlp8tc[89]@-1 "M": 7.6 <- mlp0tc[8829]@9 "M": 0.85'
 * ```
 */
export function showPaths(
  paths: readonly FeatureVector[][] | readonly FeatureVector[][][],
  opts: { title?: string; limit?: number; tokens?: readonly string[] } = {},
): Displayable {
  return pathsTable(paths, opts);
}

/**
 * A circuit graph of greedy paths (`addErrorNodes(ctx, pathsToGraph(paths))`) in the
 * attribution-graph viewer (layers up, positions across, hover for details, click to select,
 * pin and group), with a text listing of nodes and their children.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CircuitContext } from "../circuits/context.ts";
 * import { addErrorNodes, pathsToGraph } from "../circuits/graph.ts";
 * import { greedyTopPaths, transcoderFeatureVector } from "../circuits/paths.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { showGraph } from "./show.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat");
 * const paths = greedyTopPaths(ctx, transcoderFeatureVector(transcoders[3]!, 1103), { numIters: 2 });
 * const d = showGraph(addErrorNodes(ctx, pathsToGraph(paths)), ctx, { title: "mlp3tc[1103]" });
 * d.text.split("\n")[1]; // "Circuit graph: ... nodes, ... edges"
 * assert.match(d.text, /^mlp3tc\[1103\]\nCircuit graph: \d+ nodes, \d+ edges/);
 * assert.ok(d.html.startsWith("<iframe srcdoc="));
 * ```
 */
export function showGraph(
  graph: CircuitGraph,
  ctx: CircuitContext,
  opts: { title?: string; height?: number } = {},
): Displayable {
  const viewer = showGraphViewer(circuitGraphToViewer(graph, ctx), opts);
  const text = graphText(graph);
  return new Displayable(viewer.html, opts.title === undefined ? text : `${opts.title}\n${text}`);
}

/** What `evaluateTranscoders` returns, or parts of it. */
export type EvalResult =
  | readonly LayerEval[]
  | AllLayersEval
  | { perLayer: readonly LayerEval[]; all?: AllLayersEval; tokens?: number };

/**
 * Transcoder evaluations: the per-layer table, the all-layers table, and optionally one
 * histogram of log10 feature frequencies per layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showEval } from "./show.ts";
 * // What evaluateTranscoders(model, transcoders, rows) returns:
 * const res = {
 *   perLayer: [{
 *     layer: 8, l0: 84.2, nmse: 0.1032, explainedVariance: 0.8968, ceClean: 3.2571,
 *     ceReplaced: 3.3304, ceZeroAblated: 4.5032, ceScore: 0.9412, kl: 0.0791, deadFeatures: 12,
 *     liveFeatures: 3, logFrequencies: Float32Array.of(-2.1, -3.5, -3.9, -10),
 *   }],
 *   all: { layers: [8], ceClean: 3.2571, ceReplaced: 3.3304, ceZeroAblated: 4.5032, ceScore: 0.9412, kl: 0.0791 },
 *   tokens: 1024,
 * };
 * const d = showEval(res, { frequencyHistograms: true });
 * d.text.split("\n")[0]; // "1024 tokens evaluated"
 * assert.ok(d.text.includes("All layers replaced (8)"));
 * assert.ok(d.text.includes("layer 8: log10 feature frequency: 4 finite values"));
 * ```
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

/**
 * A histogram (e.g. log10 feature frequencies, logit effects with `signColors`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showHistogram } from "./show.ts";
 * const d = showHistogram([-2, -1, 1, 2, 3], { signColors: true, xLabel: "logit effect", title: "mlp8tc[89]" });
 * d.text.split("\n").slice(0, 2); // ["mlp8tc[89]", "logit effect: 5 finite values"]
 * assert.ok(d.html.includes(`fill="#d62728"`)); // negative bins red
 * ```
 */
export function showHistogram(
  values: HistogramInput,
  opts: HistogramOptions & { title?: string } = {},
): Displayable {
  return titled(
    opts.title,
    histogramSvg(values, opts),
    histogramText(values, {
      bins: opts.bins,
      domain: opts.domain,
      splitAtZero: opts.splitAtZero ?? opts.signColors,
      xLabel: opts.xLabel,
    }),
  );
}

/**
 * A heatmap (e.g. OV de-embedding norms `[layers][heads]`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showHeatmap } from "./show.ts";
 * const d = showHeatmap([[1, 2], [3, 4.5]], { title: "OV de-embedding norms" });
 * d.text; // "OV de-embedding norms\n     H0   H1\nL0 1.00 2.00\nL1 3.00 4.50\nlargest: L1H1 4.50, L1H0 3.00, L0H1 2.00"
 * assert.equal(d.html.match(/<rect/g)?.length, 4); // one cell each
 * ```
 */
export function showHeatmap(
  matrix: readonly ArrayLike<number>[],
  opts: HeatmapOptions & { title?: string } = {},
): Displayable {
  return titled(opts.title, heatmapSvg(matrix, opts), heatmapText(matrix));
}

/**
 * A scatter of values against their index (e.g. a pullback over all transcoder features).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showScatter } from "./show.ts";
 * const d = showScatter([0.1, -0.2, 0.3, 0], { labelTop: 2, title: "pullback" });
 * d.text; // "pullback\nConnection strength: 4 values, 3 nonzero, min -0.2000, max 0.3000\ntop: 2 (0.3000), 0 (0.1000)"
 * assert.equal(d.html.match(/<circle/g)?.length, 4);
 * ```
 */
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

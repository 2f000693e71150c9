/**
 * Charts as SVG strings, drawn with Observable Plot on a linkedom document (headless: no DOM
 * globals, no canvas, no permissions), so they work in tests, scripts and notebooks alike:
 *
 * - `histogramSvg`: counts in equal-width bins (e.g. log10 feature frequencies; logit effects with
 *   negative bins red and positive bins blue, 0 always a bin edge);
 * - `heatmapSvg`: a matrix as coloured cells (OV de-embedding norms `[layers][heads]`);
 * - `scatterSvg`: values against their index ("Transcoder feature index" vs "Connection strength"
 *   of a pullback), the top k labelled;
 * - `circuitGraphSvg`: a circuit graph laid out by layer as the reference's `plot_graph`
 *   (`graphLayout`): y = layer (+0.5 at resid_mid, -0.25 for error nodes, the reference's
 *   `layer_to_float`), x = token position (or order within a layer), arrows child -> parent with
 *   width proportional to |edge contribution|, nodes filled by contribution, labelled by id.
 *
 * Continuous colour legends are not drawn (Plot renders them through a canvas); every mark
 * carries a `<title>` tooltip with its value instead.
 *
 * @module
 */
import * as Plot from "npm:@observablehq/plot@0.6.17";
import { parseHTML } from "npm:linkedom@0.18.15";
import {
  type ComponentType,
  type FeatureVector,
  formatContrib,
} from "../circuits/feature_vector.ts";
import { type CircuitGraph, edgeEnds } from "../circuits/graph.ts";
import { formatFixed } from "./format.ts";

/** Observable Plot's options and colour schemes, as `plotToSvg` and `heatmapSvg` take them. */
export type { ColorScheme, PlotOptions } from "npm:@observablehq/plot@0.6.17";

type PlotDocument = NonNullable<Plot.PlotOptions["document"]>;
let doc: PlotDocument | undefined;

/** Common chart options. */
export interface ChartOptions {
  /** Width in pixels. */
  width?: number;
  /** Height in pixels. */
  height?: number;
}

/**
 * Renders Plot options to an SVG string on a shared linkedom document. The SVG gets an `xmlns`
 * (so it can be saved as a `.svg` file) and a white background with black text (so it reads the
 * same under dark notebook themes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as Plot from "npm:@observablehq/plot@0.6.17";
 * import { plotToSvg } from "./charts.ts";
 * const svg = plotToSvg({
 *   width: 320,
 *   height: 200,
 *   marks: [Plot.dot([{ x: 1, y: 2 }, { x: 2, y: 3 }], { x: "x", y: "y", title: "y" })],
 * });
 * svg.startsWith('<svg style="background:white;color:black" xmlns="http://www.w3.org/2000/svg"'); // true
 * assert.equal(svg.match(/<circle/g)?.length, 2); // one per dot
 * ```
 */
export function plotToSvg(options: Plot.PlotOptions): string {
  doc ??= (parseHTML("<html><body></body></html>") as unknown as { document: PlotDocument })
    .document;
  const el = Plot.plot({ ...options, document: doc });
  if (el.tagName.toLowerCase() !== "svg") {
    throw new Error(`Plot returned a <${el.tagName.toLowerCase()}>, expected an <svg>`);
  }
  el.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  el.setAttribute("style", "background:white;color:black");
  // Coordinates to 0.01 px inside attribute values (a third of the size of a 24576-dot scatter).
  return el.outerHTML.replace(
    /(\s[\w:-]+=")([^"]*)"/g,
    (_: string, name: string, value: string) => `${name}${value.replace(/(\d\.\d{2})\d+/g, "$1")}"`,
  );
}

/** One histogram bin `[x0, x1)` (the last bin is closed). */
export interface HistogramBin {
  /** Lower edge (inclusive). */
  x0: number;
  /** Upper edge (exclusive, inclusive for the last bin). */
  x1: number;
  /** Values in the bin. */
  count: number;
}

/** Options of `histogramBins`. */
export interface BinOptions {
  /** Number of bins (default 50). */
  bins?: number;
  /** Make 0 a bin edge, so that no bin mixes negative and positive values. */
  splitAtZero?: boolean;
  /** Only values inside `[lo, hi]` are binned. */
  domain?: [number, number];
}

/**
 * Equal-width bins of the finite values (all bins, empty ones included).
 *
 * @example
 * ```ts
 * import { histogramBins } from "./charts.ts";
 * histogramBins([0, 1, 1, 2], { bins: 2 }).map((b) => b.count); // [1, 3]
 * ```
 */
export function histogramBins(
  values: ArrayLike<number>,
  { bins = 50, splitAtZero = false, domain }: BinOptions = {},
): HistogramBin[] {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`bins ${bins} must be a positive integer`);
  }
  const xs: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (domain && (v < domain[0] || v > domain[1])) continue;
    xs.push(v);
  }
  if (xs.length === 0) return [];
  let lo = domain?.[0] ?? Infinity, hi = domain?.[1] ?? -Infinity;
  if (!domain) { for (const v of xs) lo = Math.min(lo, v), hi = Math.max(hi, v); }
  if (hi === lo) return [{ x0: lo - 0.5, x1: hi + 0.5, count: xs.length }];
  const w = (hi - lo) / bins;
  let start = lo, n = bins;
  if (splitAtZero && lo < 0 && hi > 0) {
    start = Math.floor(lo / w) * w;
    n = Math.ceil((hi - start) / w - 1e-9);
  }
  const out = Array.from(
    { length: n },
    (_, i) => ({ x0: start + i * w, x1: start + (i + 1) * w, count: 0 }),
  );
  for (const v of xs) out[Math.min(n - 1, Math.max(0, Math.floor((v - start) / w)))].count++;
  if (splitAtZero) {
    // Snap the edge nearest 0 exactly onto 0 (floating-point drift) so the colours split there.
    for (const b of out) {
      if (Math.abs(b.x0) < w * 1e-6) b.x0 = 0;
      if (Math.abs(b.x1) < w * 1e-6) b.x1 = 0;
    }
  }
  return out;
}

/**
 * What a histogram is drawn from: the values themselves, or a precomputed histogram
 * (`edges [bins + 1]`, `counts [bins]`, e.g. `lib/dashboards`' `valueHistogram`).
 */
export type HistogramInput =
  | ArrayLike<number>
  | { edges: ArrayLike<number>; counts: ArrayLike<number> };

/**
 * Bins of a precomputed histogram (`edges [bins + 1]`, `counts [bins]`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binsFromEdges } from "./charts.ts";
 * binsFromEdges([0, 0.5, 1], [3, 5]); // [{ x0: 0, x1: 0.5, count: 3 }, { x0: 0.5, x1: 1, count: 5 }]
 * assert.deepEqual(binsFromEdges([0, 0.5, 1], [3, 5])[1], { x0: 0.5, x1: 1, count: 5 });
 * assert.throws(() => binsFromEdges([0, 1], [3, 5]), RangeError); // needs one more edge than counts
 * ```
 */
export function binsFromEdges(edges: ArrayLike<number>, counts: ArrayLike<number>): HistogramBin[] {
  if (edges.length !== counts.length + 1) {
    throw new RangeError(
      `a histogram needs one more edge than counts, got ${edges.length} edges and ${counts.length} counts`,
    );
  }
  return Array.from(counts, (count, i) => ({ x0: edges[i], x1: edges[i + 1], count }));
}

function toBins(input: HistogramInput, opts: BinOptions): HistogramBin[] {
  return "edges" in input && "counts" in input
    ? binsFromEdges(input.edges, input.counts)
    : histogramBins(input as ArrayLike<number>, opts);
}

/** Options of `histogramSvg`. */
export interface HistogramOptions extends ChartOptions, BinOptions {
  /** x axis label (default "value"). */
  xLabel?: string;
  /** y axis label (default "count"). */
  yLabel?: string;
  /** Colour negative bins red and positive bins blue (implies `splitAtZero`). */
  signColors?: boolean;
  /** Bar colour without `signColors` (default steelblue). */
  color?: string;
  /** Logarithmic count axis. */
  logCount?: boolean;
}

/**
 * Negative values (red) and positive values (blue), as the reference's logit histogram.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { histogramSvg, NEGATIVE_COLOR } from "./charts.ts";
 * NEGATIVE_COLOR; // "#d62728"
 * assert.ok(histogramSvg([-2, -1, 1, 2], { signColors: true }).includes(`fill="${NEGATIVE_COLOR}"`));
 * ```
 */
export const NEGATIVE_COLOR = "#d62728";
/**
 * See `NEGATIVE_COLOR`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { histogramSvg, POSITIVE_COLOR } from "./charts.ts";
 * POSITIVE_COLOR; // "#1f77b4"
 * assert.ok(histogramSvg([-2, -1, 1, 2], { signColors: true }).includes(`fill="${POSITIVE_COLOR}"`));
 * ```
 */
export const POSITIVE_COLOR = "#1f77b4";

/**
 * A histogram as an SVG string: one `<rect>` per nonempty bin.
 *
 * @example
 * ```ts
 * import { histogramSvg } from "./charts.ts";
 * const svg = histogramSvg([-2, -1, 1, 2, 3], { bins: 5, signColors: true, xLabel: "logit effect" });
 * svg.startsWith("<svg"); // true
 * ```
 */
export function histogramSvg(values: HistogramInput, opts: HistogramOptions = {}): string {
  const { signColors = false, color = "steelblue", logCount = false } = opts;
  const bins = toBins(values, { ...opts, splitAtZero: opts.splitAtZero ?? signColors })
    .filter((b) => b.count > 0);
  const fill = signColors
    ? (b: HistogramBin) => (b.x0 + b.x1 < 0 ? NEGATIVE_COLOR : POSITIVE_COLOR)
    : () => color;
  return plotToSvg({
    width: opts.width ?? 640,
    height: opts.height ?? 300,
    marginLeft: 50,
    x: { label: opts.xLabel ?? "value" },
    y: { label: opts.yLabel ?? "count", type: logCount ? "log" : "linear", grid: true },
    marks: [
      Plot.rectY(bins, {
        x1: "x0",
        x2: "x1",
        y1: logCount ? 0.5 : 0,
        y2: "count",
        fill,
        inset: 0.5,
        title: (b: HistogramBin) => `[${b.x0.toPrecision(4)}, ${b.x1.toPrecision(4)}): ${b.count}`,
      }),
      ...(logCount ? [] : [Plot.ruleY([0])]),
    ],
  });
}

/** Options of `heatmapSvg`. */
export interface HeatmapOptions extends ChartOptions {
  /** Default "head". */
  xLabel?: string;
  /** Default "layer". */
  yLabel?: string;
  /** Write each cell's value in it (default true when there are at most 400 cells). */
  labels?: boolean;
  /** Plot colour scheme (default "blues"; a diverging one such as "rdbu" for signed data). */
  scheme?: Plot.ColorScheme;
}

/**
 * A heatmap of `matrix[row][col]` (rows on y from the top, e.g. layers; columns on x, e.g.
 * heads): one `<rect>` per cell, with its value as a tooltip.
 *
 * @example
 * ```ts
 * import { heatmapSvg } from "./charts.ts";
 * heatmapSvg([[1, 2], [3, 4]]).startsWith("<svg"); // true
 * ```
 */
export function heatmapSvg(
  matrix: readonly ArrayLike<number>[],
  opts: HeatmapOptions = {},
): string {
  const cols = matrix.length === 0 ? 0 : matrix[0].length;
  const cells: { r: number; c: number; v: number }[] = [];
  matrix.forEach((row, r) => {
    if (row.length !== cols) {
      throw new RangeError(`heatmap row ${r} has ${row.length} values, expected ${cols}`);
    }
    for (let c = 0; c < cols; c++) cells.push({ r, c, v: row[c] });
  });
  let max = -Infinity, min = Infinity;
  for (const { v } of cells) if (Number.isFinite(v)) max = Math.max(max, v), min = Math.min(min, v);
  const mid = (max + min) / 2;
  const labels = opts.labels ?? cells.length <= 400;
  const decimals = Math.abs(max) >= 100 ? 0 : Math.abs(max) >= 10 ? 1 : 2;
  return plotToSvg({
    width: opts.width ?? Math.max(240, 40 + 36 * cols),
    height: opts.height ?? Math.max(120, 50 + 24 * matrix.length),
    marginLeft: 50,
    padding: 0.04,
    x: { label: opts.xLabel ?? "head", domain: Array.from({ length: cols }, (_, i) => i) },
    y: {
      label: opts.yLabel ?? "layer",
      domain: Array.from({ length: matrix.length }, (_, i) => i),
    },
    color: { scheme: opts.scheme ?? "blues" },
    marks: [
      Plot.cell(cells, {
        x: "c",
        y: "r",
        fill: "v",
        title: (d: { r: number; c: number; v: number }) =>
          `${opts.yLabel ?? "layer"} ${d.r}, ${opts.xLabel ?? "head"} ${d.c}: ${
            formatFixed(d.v, 4)
          }`,
      }),
      ...(labels
        ? [Plot.text(cells, {
          x: "c",
          y: "r",
          text: (d: { v: number }) => formatFixed(d.v, decimals),
          fill: (d: { v: number }) => (d.v > mid ? "white" : "black"),
          fontSize: 9,
        })]
        : []),
    ],
  });
}

/** Options of `scatterSvg`. */
export interface ScatterOptions extends ChartOptions {
  /** Default "Transcoder feature index". */
  xLabel?: string;
  /** Default "Connection strength". */
  yLabel?: string;
  /** Label the k largest values with their index (default 5). */
  labelTop?: number;
  /** Draw only nonzero values (IxG connections are sparse). */
  onlyNonzero?: boolean;
  /** Dot radius (default 1.5). */
  r?: number;
}

/**
 * Values against their index as an SVG string: one `<circle>` per value drawn (the reference's
 * `plot_pulledback_feature`); the top `labelTop` values are labelled with their index.
 *
 * @example
 * ```ts
 * import { scatterSvg } from "./charts.ts";
 * scatterSvg([0.1, -0.2, 0.3], { labelTop: 1 }).includes(">2</text>"); // true
 * ```
 */
export function scatterSvg(values: ArrayLike<number>, opts: ScatterOptions = {}): string {
  const pts: { i: number; v: number }[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || (opts.onlyNonzero && v === 0)) continue;
    pts.push({ i, v });
  }
  const k = opts.labelTop ?? 5;
  const top = [...pts].sort((a, b) => b.v - a.v || a.i - b.i).slice(0, k);
  const titled = pts.length <= 5000;
  return plotToSvg({
    width: opts.width ?? 640,
    height: opts.height ?? 320,
    marginLeft: 55,
    marginRight: 30,
    x: { label: opts.xLabel ?? "Transcoder feature index" },
    y: { label: opts.yLabel ?? "Connection strength", grid: true },
    marks: [
      Plot.ruleY([0], { stroke: "#bbb" }),
      Plot.dot(pts, {
        x: "i",
        y: "v",
        r: opts.r ?? 1.5,
        fill: POSITIVE_COLOR,
        ...(titled
          ? { title: (d: { i: number; v: number }) => `${d.i}: ${formatFixed(d.v, 4)}` }
          : {}),
      }),
      Plot.text(top, {
        x: "i",
        y: "v",
        text: (d: { i: number }) => String(d.i),
        dy: -8,
        fontSize: 9,
      }),
    ],
  });
}

/**
 * Whether a component type is one of the error nodes (`tc_error`, `prune_error`, `bias_error`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrorType } from "./charts.ts";
 * isErrorType("prune_error"); // true
 * const types = ["tc_error", "bias_error", "mlp", "attn", undefined] as const;
 * assert.deepEqual(types.map(isErrorType), [true, true, false, false, false]);
 * ```
 */
export function isErrorType(t: ComponentType | undefined): boolean {
  return t === "tc_error" || t === "prune_error" || t === "bias_error";
}

/**
 * A node's height in the graph, as the reference's `layer_to_float`: its layer, +0.5 at
 * `resid_mid` (transcoder features read the residual stream between attention and MLP), -0.25
 * for error nodes (drawn just below the node they explain).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerToFloat } from "./charts.ts";
 * const feature = {
 *   componentPath: [{ layer: 8, type: "mlp" as const, token: -1, featureType: "tc" as const, featureIndex: 89 }],
 *   vector: new Float64Array(0), layer: 8, sublayer: "resid_mid" as const, token: -1, error: 0,
 * };
 * layerToFloat(feature); // 8.5
 * const tcError = { ...feature, componentPath: [...feature.componentPath, { layer: 8, type: "tc_error" as const }] };
 * assert.equal(layerToFloat(tcError), 8.25); // just below the node it explains
 * assert.equal(layerToFloat({ ...feature, componentPath: [], sublayer: "resid_pre" as const }), 8);
 * ```
 */
export function layerToFloat(fv: FeatureVector): number {
  let y = fv.layer;
  if (fv.sublayer === "resid_mid") y += 0.5;
  if (isErrorType(fv.componentPath[fv.componentPath.length - 1]?.type)) y -= 0.25;
  return y;
}

/** A placed node of `graphLayout`. */
export interface LayoutNode {
  /** The node id (`mlp0tc[8829]@9`). */
  id: string;
  /** Drawn position: the token column (or order) plus a small spread among slot neighbours. */
  x: number;
  /** Drawn height: `layer` plus a small zigzag among slot neighbours (at most ±0.1). */
  y: number;
  /** `layerToFloat` of the node. */
  layer: number;
  /** The token column (negative tokens resolved against the sequence length). */
  position: number;
  /** The node's contribution (the root's own activation). */
  contrib: number;
  /** The type of its last component ("vector" without components). */
  type: ComponentType | "vector";
  /** Whether it is an error node. */
  error: boolean;
}

/** A placed edge of `graphLayout` (from child to parent). */
export interface LayoutLink {
  /** Child node id (the source of the contribution). */
  child: string;
  /** Parent node id. */
  parent: string;
  /** Child x. */
  x1: number;
  /** Child y. */
  y1: number;
  /** Parent x. */
  x2: number;
  /** Parent y. */
  y2: number;
  /** The edge's contribution. */
  value: number;
  /** Stroke width, proportional to |value| (the largest edge gets `maxWidth`). */
  width: number;
}

/** Options of `graphLayout` and `circuitGraphSvg`. */
export interface GraphLayoutOptions {
  /**
   * x = token position, or the node's order within its layer row (the reference spreads each
   * layer's nodes evenly). `graphLayout` defaults to "order"; `circuitGraphSvg` to "token" when
   * it is given the tokens, else "order".
   */
  x?: "token" | "order";
  /** Sequence length, to place negative tokens (`@-1` = last); default: the largest token seen + 1. */
  nTokens?: number;
  /** Width of the widest arrow, in pixels (default 6). */
  maxWidth?: number;
}

/**
 * Places a circuit graph's nodes: height = `layerToFloat` (the reference's `layer_to_float`),
 * x = token position; nodes sharing a (height, token) slot are spread around it by decreasing
 * |contribution|, zigzagging ±0.1 in height so their labels stay apart (the reference jitters y
 * too); error nodes are shifted right of the node they explain. With `x: "order"` each row's
 * nodes are spread evenly instead, ordered by token then id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathsToGraph } from "../circuits/graph.ts";
 * import { graphLayout } from "./charts.ts";
 * const fv = (layer: number, idx: number, token: number, contrib: number) => ({
 *   componentPath: [{ layer, type: "mlp" as const, token, featureType: "tc" as const, featureIndex: idx }],
 *   vector: new Float64Array(0), layer, sublayer: "resid_mid" as const, token, contrib, error: 0,
 * });
 * const root = fv(8, 89, -1, 7.57), a = fv(0, 8829, 9, 0.85), b = fv(2, 7620, 9, 0.41);
 * const graph = pathsToGraph([[root, a], [root, b]]); // or greedyTopPaths(ctx, ...)'s result
 * const { nodes, links } = graphLayout(graph, { x: "token", nTokens: 10 });
 * nodes.map((n) => [n.id, n.x, n.y]); // [["mlp8tc[89]@-1", 9, 8.5], ["mlp0tc[8829]@9", 9, 0.5], ["mlp2tc[7620]@9", 9, 2.5]]
 * assert.deepEqual(nodes.map((n) => n.position), [9, 9, 9]); // @-1 is the last of 10 tokens
 * assert.deepEqual(links.map((l) => [l.child, l.width]), [["mlp0tc[8829]@9", 6], ["mlp2tc[7620]@9", 6 * 0.41 / 0.85]]);
 * ```
 */
export function graphLayout(
  graph: CircuitGraph,
  { x = "order", nTokens, maxWidth = 6 }: GraphLayoutOptions = {},
): { nodes: LayoutNode[]; links: LayoutLink[] } {
  let maxTok = -1;
  for (const fv of graph.nodes.values()) if (fv.token >= 0) maxTok = Math.max(maxTok, fv.token);
  const len = nTokens ?? (maxTok >= 0 ? maxTok + 1 : 0);
  const nodes: LayoutNode[] = [...graph.nodes].map(([id, fv]) => {
    const last = fv.componentPath[fv.componentPath.length - 1];
    const layer = layerToFloat(fv);
    return {
      id,
      x: 0,
      y: layer,
      layer,
      position: fv.token < 0 && len > 0 ? len + fv.token : fv.token,
      contrib: fv.contrib ?? 0,
      type: last?.type ?? "vector",
      error: isErrorType(last?.type),
    };
  });
  const groups = new Map<string, LayoutNode[]>();
  for (const n of nodes) {
    const key = x === "token" ? `${n.layer}|${n.position}` : `${n.layer}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(n);
  }
  for (const g of groups.values()) {
    if (x === "token") {
      g.sort((a, b) => Math.abs(b.contrib) - Math.abs(a.contrib) || (a.id < b.id ? -1 : 1));
      const step = Math.min(0.3, 0.8 / g.length);
      g.forEach((n, i) => {
        n.x = n.position + (i - (g.length - 1) / 2) * step + (n.error ? 0.3 : 0);
        if (g.length > 1) n.y = n.layer + (i % 2 === 0 ? 0.1 : -0.1);
      });
    } else {
      g.sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : 1));
      g.forEach((n, i) => (n.x = i - (g.length - 1) / 2));
    }
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  let maxAbs = 0;
  for (const v of graph.edges.values()) maxAbs = Math.max(maxAbs, Math.abs(v));
  const links: LayoutLink[] = [];
  for (const [key, value] of graph.edges) {
    const [child, parent] = edgeEnds(key);
    const a = byId.get(child), b = byId.get(parent);
    if (!a || !b) {
      throw new RangeError(
        `edge ${JSON.stringify(key)} refers to a node not in the graph: ${
          JSON.stringify(a ? parent : child)
        }`,
      );
    }
    links.push({
      child,
      parent,
      x1: a.x,
      y1: a.y,
      x2: b.x,
      y2: b.y,
      value,
      width: maxAbs > 0 ? Math.max(0.5, (maxWidth * Math.abs(value)) / maxAbs) : 1,
    });
  }
  // Thin arrows on top of thick ones, so that small edges stay visible.
  links.sort((p, q) => q.width - p.width);
  return { nodes, links };
}

/** Options of `circuitGraphSvg`. */
export interface CircuitGraphOptions extends ChartOptions, GraphLayoutOptions {
  /** Token strings: the x axis then shows every position, labelled with its token. */
  tokens?: readonly string[];
  /** Node radius (default 7; error nodes get 5). */
  r?: number;
  /** Arrow curvature in degrees (default 12), so arrows along one token column stay apart. */
  bend?: number;
}

/**
 * The circuit graph as an SVG string: one arrow (`<path>`) per edge (grey, red when negative,
 * width ∝ |contribution|), one `<circle>` per node (fill: diverging pink-green by contribution,
 * error nodes smaller with a grey outline), node ids as labels to the right (error nodes show
 * their kind), tooltips with values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathsToGraph } from "../circuits/graph.ts";
 * import { circuitGraphSvg } from "./charts.ts";
 * const fv = (layer: number, idx: number, token: number, contrib: number) => ({
 *   componentPath: [{ layer, type: "mlp" as const, token, featureType: "tc" as const, featureIndex: idx }],
 *   vector: new Float64Array(0), layer, sublayer: "resid_mid" as const, token, contrib, error: 0,
 * });
 * const root = fv(8, 89, -1, 7.57), a = fv(0, 8829, 9, 0.85), b = fv(2, 7620, 9, 0.41);
 * const graph = pathsToGraph([[root, a], [root, b]]); // or greedyTopPaths(ctx, ...)'s result
 * // with a model: circuitGraphSvg(addErrorNodes(ctx, graph), { tokens: model.toStrTokens(prompt) })
 * const tokens = ["<|endoftext|>", "Oh", ",", " that", " rifle", " model", " is", " a", " 6", "M"];
 * const svg = circuitGraphSvg(graph, { tokens });
 * svg.match(/<circle/g)?.length; // 3 (one per node)
 * assert.ok(svg.includes("<title>mlp0tc[8829]@9 -&gt; mlp8tc[89]@-1: 0.85</title>")); // an arrow's tooltip
 * assert.ok(svg.includes(`>9: "M"</text>`)); // the x axis is labelled with the tokens
 * ```
 */
export function circuitGraphSvg(graph: CircuitGraph, opts: CircuitGraphOptions = {}): string {
  const xMode = opts.x ?? (opts.tokens ? "token" : "order");
  const { nodes, links } = graphLayout(graph, {
    ...opts,
    x: xMode,
    nTokens: opts.nTokens ?? opts.tokens?.length,
  });
  const r = opts.r ?? 7, rErr = Math.max(2, r - 2);
  let maxContrib = 0, maxY = -Infinity, minY = Infinity, minX = Infinity, maxX = -Infinity;
  for (const n of nodes) {
    maxContrib = Math.max(maxContrib, Math.abs(n.contrib));
    maxY = Math.max(maxY, n.layer), minY = Math.min(minY, n.layer);
    minX = Math.min(minX, n.x), maxX = Math.max(maxX, n.x);
  }
  if (nodes.length === 0) {
    minX =
      maxX =
      minY =
      maxY =
        0;
  }
  const tokenMode = xMode === "token";
  const tokens = opts.tokens;
  const positions = tokens
    ? tokens.map((_, i) => i)
    : [...new Set(nodes.map((n) => n.position))].sort((a, b) => a - b);
  const layers: number[] = [];
  for (let l = Math.ceil(minY); l <= Math.floor(maxY); l++) layers.push(l);
  const tokenLabel = (p: number) => {
    const t = tokens?.[p];
    return t === undefined ? String(p) : `${p}: ${JSON.stringify(t)}`;
  };
  const plain = nodes.filter((n) => !n.error), errors = nodes.filter((n) => n.error);
  const rows = maxY - minY + 1;
  const xLo = Math.min(minX, positions[0] ?? minX) - 0.5;
  const xHi = Math.max(maxX, positions.at(-1) ?? maxX) + 0.9; // room for the labels on the right
  const contribTitle = (n: LayoutNode) => `${n.id}: ${formatContrib(n.contrib)}`;
  const dot = (data: LayoutNode[], radius: number, stroke: string) =>
    Plot.dot(data, { x: "x", y: "y", r: radius, fill: "contrib", stroke, title: contribTitle });
  return plotToSvg({
    width: opts.width ?? 800,
    height: opts.height ?? Math.min(1000, Math.max(300, Math.round(55 * rows + 110))),
    marginLeft: 50,
    marginRight: 20,
    marginTop: 30,
    marginBottom: tokenMode ? (tokens ? 70 : 40) : 20,
    x: tokenMode
      ? {
        label: "token position",
        domain: [xLo, xHi],
        ticks: positions,
        tickFormat: tokenLabel,
        tickRotate: tokens ? -35 : 0,
      }
      : { axis: null, domain: [minX - 0.7, maxX + 1.2] },
    y: { label: "layer", domain: [minY - 0.45, maxY + 0.45], ticks: layers, grid: true },
    color: {
      type: "diverging",
      scheme: "piyg",
      pivot: 0,
      domain: [-(maxContrib || 1), maxContrib || 1],
    },
    marks: [
      Plot.arrow(links, {
        x1: "x1",
        y1: "y1",
        x2: "x2",
        y2: "y2",
        bend: opts.bend ?? 12,
        strokeWidth: "width",
        stroke: (l: LayoutLink) => (l.value < 0 ? NEGATIVE_COLOR : "#777777"),
        strokeOpacity: 0.75,
        insetStart: r,
        insetEnd: r + 1,
        headLength: 6,
        title: (l: LayoutLink) => `${l.child} -> ${l.parent}: ${formatContrib(l.value)}`,
      }),
      dot(plain, r, "#333333"),
      dot(errors, rErr, "#999999"),
      Plot.text(plain, {
        x: "x",
        y: "y",
        text: "id",
        dx: r + 3,
        textAnchor: "start",
        fontSize: 8,
      }),
      Plot.text(errors, {
        x: "x",
        y: "y",
        text: (n: LayoutNode) => n.type,
        dx: rErr + 3,
        textAnchor: "start",
        fontSize: 7,
        fill: "#777777",
      }),
    ],
  });
}

// ---- Plain-text counterparts of the charts, for terminals and `text/plain`. ----

/**
 * A text histogram: one line per bin (at most `bins`, default 12) with a bar of `█`.
 *
 * @example
 * ```ts
 * import { histogramText } from "./charts.ts";
 * histogramText([0, 1, 1, 2], { bins: 2 }).split("\n").length; // 3
 * ```
 */
export function histogramText(
  values: HistogramInput,
  { bins = 12, splitAtZero, domain, xLabel, width = 40 }: BinOptions & {
    xLabel?: string;
    width?: number;
  } = {},
): string {
  const bs = toBins(values, { bins, splitAtZero, domain });
  let n = 0;
  if ("edges" in values) { for (const b of bs) n += b.count; }
  else for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) n++;
  const head = `${xLabel ?? "values"}: ${n} finite value${n === 1 ? "" : "s"}`;
  if (bs.length === 0) return head;
  const max = Math.max(...bs.map((b) => b.count));
  const lo = bs.map((b) => formatBound(b.x0)), hi = bs.map((b) => formatBound(b.x1));
  const wl = Math.max(...lo.map((s) => s.length)), wh = Math.max(...hi.map((s) => s.length));
  const wc = Math.max(...bs.map((b) => String(b.count).length));
  return [
    head,
    ...bs.map((b, i) =>
      `[${lo[i].padStart(wl)}, ${hi[i].padStart(wh)}${i === bs.length - 1 ? "]" : ")"} ${
        String(b.count).padStart(wc)
      } ${"█".repeat(Math.round((width * b.count) / max))}`
    ),
  ].join("\n");
}

function formatBound(x: number): string {
  return Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3)
    ? x.toExponential(2)
    : formatFixed(x, 3);
}

/**
 * A heatmap as a text grid (rows `L0..`, columns `H0..`), values with `decimals` decimals, and
 * the largest cells listed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heatmapText } from "./charts.ts";
 * heatmapText([[1, 2], [3, 4.5]]);
 * // "     H0   H1\nL0 1.00 2.00\nL1 3.00 4.50\nlargest: L1H1 4.50, L1H0 3.00, L0H1 2.00"
 * assert.equal(heatmapText([[1, 2], [3, 4.5]], { top: 1 }).split("\n")[3], "largest: L1H1 4.50");
 * ```
 */
export function heatmapText(
  matrix: readonly ArrayLike<number>[],
  { decimals = 2, rowPrefix = "L", colPrefix = "H", top = 3 }: {
    decimals?: number;
    rowPrefix?: string;
    colPrefix?: string;
    top?: number;
  } = {},
): string {
  const cols = matrix[0]?.length ?? 0;
  const cells = matrix.map((r) => Array.from(r, (v) => formatFixed(v, decimals)));
  const w = Math.max(
    `${colPrefix}${cols - 1}`.length,
    ...cells.flatMap((r) => r.map((c) => c.length)),
  );
  const rw = `${rowPrefix}${matrix.length - 1}`.length;
  const lines = [
    " ".repeat(rw) +
    Array.from({ length: cols }, (_, c) => ` ${`${colPrefix}${c}`.padStart(w)}`).join(""),
    ...cells.map((r, i) =>
      `${rowPrefix}${i}`.padEnd(rw) + r.map((c) => ` ${c.padStart(w)}`).join("")
    ),
  ];
  const flat = matrix.flatMap((r, i) => Array.from(r, (v, j) => ({ i, j, v })))
    .filter((c) => Number.isFinite(c.v)).sort((a, b) => b.v - a.v).slice(0, top);
  if (flat.length > 0) {
    lines.push(
      `largest: ${
        flat.map((c) => `${rowPrefix}${c.i}${colPrefix}${c.j} ${formatFixed(c.v, decimals)}`).join(
          ", ",
        )
      }`,
    );
  }
  return lines.join("\n");
}

/**
 * A scatter's text: count, range and the top k values with their indices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scatterText } from "./charts.ts";
 * scatterText([0.1, -0.2, 0.3, 0], { top: 2 });
 * // "value: 4 values, 3 nonzero, min -0.2000, max 0.3000\ntop: 2 (0.3000), 0 (0.1000)"
 * assert.equal(scatterText([NaN], { label: "IxG" }), "IxG: no finite values");
 * ```
 */
export function scatterText(
  values: ArrayLike<number>,
  { top = 5, label = "value" }: { top?: number; label?: string } = {},
): string {
  let n = 0, nz = 0, lo = Infinity, hi = -Infinity;
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    n++, lo = Math.min(lo, v), hi = Math.max(hi, v), idx.push(i);
    if (v !== 0) nz++;
  }
  if (n === 0) return `${label}: no finite values`;
  idx.sort((a, b) => values[b] - values[a] || a - b);
  const best = idx.slice(0, top).map((i) => `${i} (${formatFixed(values[i], 4)})`).join(", ");
  return `${label}: ${n} values, ${nz} nonzero, min ${formatFixed(lo, 4)}, max ${
    formatFixed(hi, 4)
  }\ntop: ${best}`;
}

/**
 * A circuit graph as text: nodes from the top layer down, each with its contribution and the
 * children feeding it (`<- child: contribution`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathsToGraph } from "../circuits/graph.ts";
 * import { graphText } from "./charts.ts";
 * const fv = (layer: number, idx: number, token: number, contrib: number) => ({
 *   componentPath: [{ layer, type: "mlp" as const, token, featureType: "tc" as const, featureIndex: idx }],
 *   vector: new Float64Array(0), layer, sublayer: "resid_mid" as const, token, contrib, error: 0,
 * });
 * const root = fv(8, 89, -1, 7.57), a = fv(0, 8829, 9, 0.85), b = fv(2, 7620, 9, 0.41);
 * const graph = pathsToGraph([[root, a], [root, b]]); // or greedyTopPaths(ctx, ...)'s result
 * graphText(graph).split("\n");
 * // ["Circuit graph: 3 nodes, 2 edges", "mlp8tc[89]@-1: 7.6  (layer 8.5)", "  <- mlp0tc[8829]@9: 0.85",
 * //  "  <- mlp2tc[7620]@9: 0.41", "mlp2tc[7620]@9: 0.41  (layer 2.5)", "mlp0tc[8829]@9: 0.85  (layer 0.5)"]
 * assert.equal(graphText(graph).split("\n")[2], "  <- mlp0tc[8829]@9: 0.85"); // largest child first
 * ```
 */
export function graphText(graph: CircuitGraph, opts: GraphLayoutOptions = {}): string {
  const { nodes } = graphLayout(graph, opts);
  const children = new Map<string, { child: string; value: number }[]>();
  for (const [key, value] of graph.edges) {
    const [child, parent] = edgeEnds(key);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent)!.push({ child, value });
  }
  const order = [...nodes].sort((a, b) =>
    b.layer - a.layer || a.position - b.position || a.x - b.x
  );
  const lines = [`Circuit graph: ${graph.nodes.size} nodes, ${graph.edges.size} edges`];
  for (const n of order) {
    lines.push(`${n.id}: ${formatContrib(n.contrib)}  (layer ${n.layer})`);
    const cs = (children.get(n.id) ?? []).sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
    for (const c of cs) lines.push(`  <- ${c.child}: ${formatContrib(c.value)}`);
  }
  return lines.join("\n");
}

/**
 * Charts as SVG strings, drawn with Observable Plot on a linkedom document (headless: no DOM
 * globals, no canvas, no permissions), so they work in tests, scripts and notebooks alike:
 *
 * - `histogramSvg`: counts in equal-width bins (e.g. log10 feature frequencies; logit effects with
 *   negative bins red and positive bins blue, 0 always a bin edge);
 * - `heatmapSvg`: a matrix as coloured cells (OV de-embedding norms `[layers][heads]`);
 * - `scatterSvg`: values against their index ("Transcoder feature index" vs "Connection strength"
 *   of a pullback), the top k labelled;
 * - circuit graphs are drawn by the attribution-graph viewer (graph_viewer.ts).
 *
 * Continuous colour legends are not drawn (Plot renders them through a canvas); every mark
 * carries a `<title>` tooltip with its value instead.
 *
 * @module
 */
import * as Plot from "npm:@observablehq/plot@0.6.17";
import { parseHTML } from "npm:linkedom@0.18.15";
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

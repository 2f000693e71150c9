/**
 * Circuit graphs drawn: `circuitGraphSvg` (Observable Plot SVG, nodes by layer and token as the
 * reference's `plot_graph`) and `graphText` (the same graph as text), both from
 * `graphLayout` (lib/circuits/graph_layout.ts).
 *
 * @module
 */
import * as Plot from "npm:@observablehq/plot@0.6.17";
import { formatContrib } from "../circuits/feature_vector.ts";
import { type CircuitGraph, edgeEnds } from "../circuits/graph.ts";
import {
  graphLayout,
  type GraphLayoutOptions,
  type LayoutLink,
  type LayoutNode,
} from "../circuits/graph_layout.ts";
import { type ChartOptions, NEGATIVE_COLOR, plotToSvg } from "./charts.ts";

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
 * import { circuitGraphSvg } from "./circuit_chart.ts";
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

/**
 * A circuit graph as text: nodes from the top layer down, each with its contribution and the
 * children feeding it (`<- child: contribution`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathsToGraph } from "../circuits/graph.ts";
 * import { graphText } from "./circuit_chart.ts";
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

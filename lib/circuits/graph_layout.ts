/**
 * Where each node of a circuit graph goes, as the reference's `plot_graph` places them: height by
 * layer (`layerToFloat`), x by token position or order within a layer, edges child -> parent with
 * widths proportional to |contribution|. lib/display's `graphText` lists nodes in this order
 * (the viewer, `showGraph`, lays graphs out itself).
 *
 * @module
 */
import type { ComponentType, FeatureVector } from "./feature_vector.ts";
import { type CircuitGraph, edgeEnds } from "./graph.ts";

/**
 * Whether a component type is one of the error nodes (`tc_error`, `prune_error`, `bias_error`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrorType } from "./graph_layout.ts";
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
 * import { layerToFloat } from "./graph_layout.ts";
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

/** Options of `graphLayout`. */
export interface GraphLayoutOptions {
  /**
   * x = token position, or the node's order within its layer row (the reference spreads each
   * layer's nodes evenly; default "order").
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
 * import { pathsToGraph } from "./graph.ts";
 * import { graphLayout } from "./graph_layout.ts";
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

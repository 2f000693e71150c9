/**
 * Circuit graphs from greedy paths as text (nodes from the top layer down, each with the
 * children feeding it). They are drawn by the attribution-graph viewer (`showGraph`).
 *
 * @module
 */
import { formatContrib } from "../circuits/feature_vector.ts";
import { type CircuitGraph, edgeEnds } from "../circuits/graph.ts";
import { graphLayout, type GraphLayoutOptions } from "../circuits/graph_layout.ts";

/**
 * A circuit graph as text: nodes from the top layer down, each with its contribution and the
 * children feeding it (`<- child: contribution`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathsToGraph } from "../circuits/graph.ts";
 * import { graphText } from "./circuit_text.ts";
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

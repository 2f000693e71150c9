/**
 * Circuit graphs from paths (the reference's `paths_to_graph`, `add_error_nodes_to_graph`,
 * `sum_over_tokens`, `get_raw_top_features_among_paths`):
 *
 * - Nodes are identified by their last component and token (`mlp0tc[8829]@9`); an edge
 *   (child, parent) sums the contributions of every distinct path prefix that ends with it.
 * - A node's value is the sum of its outgoing edges (the root keeps its own activation).
 * - Error nodes: each expanded node gets a transcoder-error child (`v . (mlp_out - tc_out)` summed
 *   over the transcoder layers that feed it), each transcoder feature a bias child
 *   (`b_enc[i] - W_enc[:, i] . b_dec`), and each node a pruning child (its value minus its other
 *   children's edges), so that every expanded node equals the sum of its children.
 *
 * @module
 */
import { dot } from "../tensor/ops.ts";
import { transcoderSourceLayers } from "./attribution.ts";
import type { CircuitContext } from "./context.ts";
import {
  type Component,
  type FeatureVector,
  featureVectorString,
  type PathCollection,
} from "./feature_vector.ts";
import { flattenPaths } from "./filters.ts";

/** A circuit graph: node ids to feature vectors, and edge contributions. */
export interface CircuitGraph {
  nodes: Map<string, FeatureVector>;
  /** Edges keyed by `edgeKey(child, parent)`. */
  edges: Map<string, number>;
}

/**
 * The id of a node (its last component and token).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeId } from "./graph.ts";
 * const fv = {
 *   componentPath: [
 *     { layer: 8, type: "mlp" as const, token: -1, featureType: "tc" as const, featureIndex: 89 },
 *     { layer: 0, type: "mlp" as const, token: 9, featureType: "tc" as const, featureIndex: 8829 },
 *   ],
 *   vector: new Float64Array(0), layer: 0, sublayer: "resid_mid" as const, token: 9, contrib: 0.85, error: 0,
 * };
 * nodeId(fv); // "mlp0tc[8829]@9"
 * assert.equal(nodeId(fv), "mlp0tc[8829]@9");
 * ```
 */
export function nodeId(fv: FeatureVector): string {
  return featureVectorString(fv, { showFull: false, showContrib: false });
}

/**
 * The key of an edge from a child node to its parent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { edgeKey } from "./graph.ts";
 * edgeKey("mlp0tc[8829]@9", "mlp8tc[89]@-1"); // "mlp0tc[8829]@9 -> mlp8tc[89]@-1"
 * assert.equal(edgeKey("embed0@9", "attn2[2]@9"), "embed0@9 -> attn2[2]@9");
 * ```
 */
export function edgeKey(child: string, parent: string): string {
  return `${child} -> ${parent}`;
}

/**
 * Splits an edge key into [child, parent].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { edgeEnds, edgeKey } from "./graph.ts";
 * edgeEnds("mlp0tc[8829]@9 -> mlp8tc[89]@-1"); // ["mlp0tc[8829]@9", "mlp8tc[89]@-1"]
 * assert.deepEqual(edgeEnds(edgeKey("embed0@9", "attn2[2]@9")), ["embed0@9", "attn2[2]@9"]);
 * ```
 */
export function edgeEnds(key: string): [string, string] {
  const i = key.indexOf(" -> ");
  return [key.slice(0, i), key.slice(i + 4)];
}

/**
 * Merges paths (or greedy search's per-iteration lists of them) into a graph with summed edges.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Component, FeatureVector } from "./feature_vector.ts";
 * import { pathsToGraph } from "./graph.ts";
 * const node = (c: Component, contrib: number): FeatureVector =>
 *   ({ componentPath: [c], vector: new Float64Array(0), layer: c.layer, sublayer: "resid_mid", token: c.token!, contrib, error: 0 });
 * const root = node({ layer: 3, type: "mlp", token: -1, featureType: "tc", featureIndex: 7 }, 2);
 * const tc = node({ layer: 1, type: "mlp", token: -1, featureType: "tc", featureIndex: 5 }, 0.5);
 * const embed = node({ layer: 0, type: "embed", token: -1 }, 0.25);
 * const { nodes, edges } = pathsToGraph([[root, tc], [root, tc, embed], [root, embed]]);
 * [...nodes.keys()]; // ["mlp3tc[7]@-1", "mlp1tc[5]@-1", "embed0@-1"]
 * edges.get("embed0@-1 -> mlp3tc[7]@-1"); // 0.25
 * assert.equal(edges.get("mlp1tc[5]@-1 -> mlp3tc[7]@-1"), 0.5); // the shared prefix counts once
 * assert.equal(nodes.get("embed0@-1")!.contrib, 0.5); // a node's value: the sum of its outgoing edges
 * ```
 */
export function pathsToGraph(paths: PathCollection): CircuitGraph {
  const nodes = new Map<string, FeatureVector>(), edges = new Map<string, number>();
  const seenPrefixes = new Set<string>();
  const outgoing = new Map<string, number>();
  const roots = new Set<string>();
  for (const path of flattenPaths(paths)) {
    const ids = path.map(nodeId);
    roots.add(ids[0]);
    if (!nodes.has(ids[0])) {
      nodes.set(ids[0], { ...path[0], componentPath: path[0].componentPath.slice(-1) });
    }
    for (let i = 1; i < path.length; i++) {
      const prefix = ids.slice(0, i + 1).join(" <- ");
      if (seenPrefixes.has(prefix)) continue;
      seenPrefixes.add(prefix);
      const key = edgeKey(ids[i], ids[i - 1]);
      const c = path[i].contrib ?? 0;
      edges.set(key, (edges.get(key) ?? 0) + c);
      outgoing.set(ids[i], (outgoing.get(ids[i]) ?? 0) + c);
      if (!nodes.has(ids[i])) {
        nodes.set(ids[i], { ...path[i], componentPath: path[i].componentPath.slice(-1) });
      }
    }
  }
  for (const [id, total] of outgoing) {
    if (!roots.has(id)) nodes.set(id, { ...nodes.get(id)!, contrib: total });
  }
  return { nodes, edges };
}

/**
 * Adds error nodes to a graph (a copy is returned).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * import { greedyTopPaths, transcoderFeatureVector } from "./paths.ts";
 * import { addErrorNodes, edgeEnds, pathsToGraph } from "./graph.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const paths = greedyTopPaths(ctx, transcoderFeatureVector(transcoders[3]!, 1477), { numIters: 2, numBranches: 3 });
 * const g = addErrorNodes(ctx, pathsToGraph(paths));
 * [...g.nodes.keys()].filter((id) => id.startsWith("mlp3tc[1477]") && id.includes("error"));
 * // ["mlp3tc[1477]tc_error3@-1", "mlp3tc[1477]bias_error3@-1", "mlp3tc[1477]prune_error3@-1"]
 * // Every expanded node now equals the sum of its children's edges.
 * let sum = 0;
 * for (const [key, c] of g.edges) if (edgeEnds(key)[1] === "mlp3tc[1477]@-1") sum += c;
 * assert.ok(Math.abs(sum - g.nodes.get("mlp3tc[1477]@-1")!.contrib!) < 1e-9);
 * ```
 */
export function addErrorNodes(
  ctx: CircuitContext,
  g: CircuitGraph,
  { bias = true } = {},
): CircuitGraph {
  const nodes = new Map(g.nodes), edges = new Map(g.edges);
  const children = new Map<string, number>();
  for (const [key, c] of g.edges) {
    const [, parent] = edgeEnds(key);
    children.set(parent, (children.get(parent) ?? 0) + c);
  }
  const add = (parentId: string, parent: FeatureVector, type: Component["type"], value: number) => {
    const comp: Component = { layer: parent.layer, type, token: parent.token };
    const fv: FeatureVector = {
      componentPath: [...parent.componentPath, comp],
      vector: new Float64Array(0),
      layer: parent.layer,
      sublayer: parent.sublayer,
      token: parent.token,
      contrib: value,
      error: 0,
    };
    const id = `${parentId.replace(/@-?\d+$/, "")}${type}${parent.layer}@${parent.token}`;
    nodes.set(id, fv);
    edges.set(edgeKey(id, parentId), value);
  };
  for (const [id, fv] of g.nodes) {
    const last = fv.componentPath[fv.componentPath.length - 1];
    if (last?.type === "embed" || !children.has(id)) continue; // leaves get no error children
    // Transcoder error of every transcoder layer that writes to this node's residual stream.
    const [tMin, tMax] = transcoderSourceLayers(fv);
    let err = 0;
    for (let l = tMin; l <= tMax; l++) {
      if (ctx.tcOut[l]) err += dot(fv.vector, ctx.transcoderError(l, fv.token));
    }
    add(id, fv, "tc_error", err);
    let accounted = children.get(id)! + err;
    if (
      bias && last?.featureType === "tc" && last.featureIndex !== undefined &&
      ctx.transcoders[fv.layer]
    ) {
      const tc = ctx.transcoder(fv.layer);
      const j = last.featureIndex, ds = tc.cfg.d_sae;
      let b = tc.b_enc.data[j];
      for (let i = 0; i < tc.cfg.d_in; i++) b -= tc.W_enc.data[i * ds + j] * tc.b_dec.data[i];
      add(id, fv, "bias_error", b);
      accounted += b;
    }
    // What the kept children and the errors above do not account for: the pruned sources.
    add(id, fv, "prune_error", (fv.contrib ?? 0) - accounted);
  }
  return { nodes, edges };
}

/**
 * Merges nodes that differ only by token (ids without `@token`), summing edges and values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Component, FeatureVector } from "./feature_vector.ts";
 * import { pathsToGraph, sumOverTokens } from "./graph.ts";
 * const node = (c: Component, contrib: number): FeatureVector =>
 *   ({ componentPath: [c], vector: new Float64Array(0), layer: c.layer, sublayer: "resid_pre", token: c.token!, contrib, error: 0 });
 * const root = node({ layer: 3, type: "mlp", token: 5, featureType: "tc", featureIndex: 7 }, 2);
 * const g = pathsToGraph([
 *   [root, node({ layer: 1, type: "attn", head: 0, token: 2 }, 0.5)],
 *   [root, node({ layer: 1, type: "attn", head: 0, token: 4 }, 0.25)],
 * ]);
 * const merged = sumOverTokens(g);
 * [...merged.edges]; // [["attn1[0] -> mlp3tc[7]", 0.75]]
 * assert.equal(merged.nodes.get("attn1[0]")!.contrib, 0.75);
 * ```
 */
export function sumOverTokens(g: CircuitGraph): CircuitGraph {
  const strip = (id: string) => id.replace(/@-?\d+$/, "");
  const nodes = new Map<string, FeatureVector>(), edges = new Map<string, number>();
  for (const [id, fv] of g.nodes) {
    const k = strip(id), prev = nodes.get(k);
    nodes.set(k, prev ? { ...prev, contrib: (prev.contrib ?? 0) + (fv.contrib ?? 0) } : { ...fv });
  }
  for (const [key, c] of g.edges) {
    const [child, parent] = edgeEnds(key);
    const k = edgeKey(strip(child), strip(parent));
    edges.set(k, (edges.get(k) ?? 0) + c);
  }
  return { nodes, edges };
}

/**
 * The top k distinct end nodes of paths by summed raw contribution (the reference's
 * `get_raw_top_features_among_paths`), optionally ignoring tokens or restricted to layers and
 * sublayers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Component, FeatureVector } from "./feature_vector.ts";
 * import { rawTopFeaturesAmongPaths } from "./graph.ts";
 * const node = (c: Component, contrib: number): FeatureVector =>
 *   ({ componentPath: [c], vector: new Float64Array(0), layer: c.layer, sublayer: "resid_pre", token: c.token!, contrib, error: 0 });
 * const root = node({ layer: 3, type: "mlp", token: 5, featureType: "tc", featureIndex: 7 }, 2);
 * const paths = [
 *   [root, node({ layer: 1, type: "attn", head: 0, token: 2 }, 0.5)],
 *   [root, node({ layer: 1, type: "attn", head: 0, token: 4 }, 0.25)],
 *   [root, node({ layer: 0, type: "embed", token: 5 }, 0.625)],
 * ];
 * rawTopFeaturesAmongPaths(paths).map((f) => [f.id, f.contrib]);
 * // [["embed0@5", 0.625], ["attn1[0]@2", 0.5], ["attn1[0]@4", 0.25]]
 * const top = rawTopFeaturesAmongPaths(paths, { useTokens: false, topK: 1 });
 * assert.deepEqual(top.map((f) => [f.id, f.contrib]), [["attn1[0]", 0.75]]);
 * ```
 */
export function rawTopFeaturesAmongPaths(
  paths: PathCollection,
  { useTokens = true, topK = 5, layers, sublayers }: {
    useTokens?: boolean;
    topK?: number;
    layers?: number[];
    sublayers?: string[];
  } = {},
): { id: string; contrib: number; feature: FeatureVector }[] {
  const sums = new Map<string, { contrib: number; feature: FeatureVector }>();
  for (const path of flattenPaths(paths)) {
    const last = path[path.length - 1];
    if (layers && !layers.includes(last.layer)) continue;
    if (sublayers && !sublayers.includes(last.sublayer)) continue;
    const id = useTokens ? nodeId(last) : nodeId(last).replace(/@-?\d+$/, "");
    const prev = sums.get(id);
    sums.set(id, {
      contrib: (prev?.contrib ?? 0) + (last.contrib ?? 0),
      feature: prev?.feature ?? last,
    });
  }
  return [...sums].map(([id, v]) => ({ id, ...v })).sort((a, b) => b.contrib - a.contrib).slice(
    0,
    topK,
  );
}

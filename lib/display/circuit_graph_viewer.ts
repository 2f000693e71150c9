/**
 * Greedy path graphs (`pathsToGraph`, `addErrorNodes`: lib/circuits/graph.ts) as the attribution
 * graph viewer's JSON (`ViewerGraph`, lib/display/graph_viewer.ts), so that they open in the same
 * interactive viewer as attribution graphs.
 *
 * - Transcoder features become "cross layer transcoder" nodes at their layer, attention heads
 *   "attention head" nodes at their layer, embeddings "embedding" nodes (row "Emb"), and the
 *   error nodes (`tc_error`, `bias_error`, `prune_error`) error nodes at the layer and position of
 *   the node they explain. A root that is a plain direction (no feature) is a "direction" node.
 * - Positions are the tokens (negative ones counted from the end of the prompt).
 * - Edges child -> parent become links source -> target with the contribution as weight.
 * - `influence` follows the viewer's convention (smaller = more important): roots get 0, every
 *   other node the cumulative share of |contribution| of the nodes ranked before it and itself,
 *   so the pruning slider hides the weakest nodes first.
 *
 * @module
 */
import type { CircuitContext } from "../circuits/context.ts";
import type { FeatureVector } from "../circuits/feature_vector.ts";
import { type CircuitGraph, edgeEnds } from "../circuits/graph.ts";
import type { ViewerGraph, ViewerLink, ViewerNode } from "./graph_viewer.ts";

/** Options of `circuitGraphToViewer`. */
export interface CircuitGraphViewerOptions {
  /** `metadata.slug` (default "circuit-graph"). */
  slug?: string;
  /** `metadata.scan`, the model or transcoder set's name (default "circuit-paths"). */
  scan?: string;
}

const ERROR_LABELS: Record<string, [string, string]> = {
  tc_error: ["mlp reconstruction error", "tc error"],
  bias_error: ["bias error", "bias"],
  prune_error: ["pruning error", "pruned"],
};

/**
 * A path graph (as `addErrorNodes(ctx, pathsToGraph(paths))` returns) as viewer JSON: node ids
 * are the graph's (`mlp0tc[8829]@9`), layers are numbers as strings ("E" for embeddings),
 * positions come from each node's token, and feature nodes carry their activation on the prompt.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CircuitContext } from "../circuits/context.ts";
 * import { addErrorNodes, pathsToGraph } from "../circuits/graph.ts";
 * import { greedyTopPaths, transcoderFeatureVector } from "../circuits/paths.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { circuitGraphToViewer } from "./circuit_graph_viewer.ts";
 * import { graphViewerHtml } from "./graph_viewer.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const paths = greedyTopPaths(ctx, transcoderFeatureVector(transcoders[3]!, 1477), { numIters: 2, numBranches: 3 });
 * const graph = addErrorNodes(ctx, pathsToGraph(paths));
 * const viewer = circuitGraphToViewer(graph, ctx);
 * viewer.nodes[0]; // the root: { node_id: "mlp3tc[1477]@-1", layer: "3", ctx_idx: 7, influence: 0, ... }
 * assert.equal(viewer.nodes.length, graph.nodes.size);
 * assert.equal(viewer.links.length, graph.edges.size);
 * assert.equal(viewer.metadata.prompt_tokens.length, ctx.length);
 * assert.ok(graphViewerHtml(viewer).includes('"node_id":"mlp3tc[1477]@-1"'));
 * ```
 */
export function circuitGraphToViewer(
  graph: CircuitGraph,
  ctx: CircuitContext,
  options: CircuitGraphViewerOptions = {},
): ViewerGraph {
  const n = ctx.length;
  const position = (t: number) => {
    const p = t < 0 ? t + n : t;
    return Math.min(Math.max(0, Math.trunc(p)), Math.max(0, n - 1));
  };
  // Roots (never a child) come first; the rest rank by |contribution|.
  const children = new Set<string>();
  for (const key of graph.edges.keys()) children.add(edgeEnds(key)[0]);
  const ids = [...graph.nodes.keys()];
  const abs = (id: string) => Math.abs(graph.nodes.get(id)!.contrib ?? 0);
  const ranked = ids.filter((id) => children.has(id)).sort((a, b) => abs(b) - abs(a));
  let total = 0;
  for (const id of ranked) total += abs(id);
  const influence = new Map<string, number>();
  let cum = 0;
  for (const [i, id] of ranked.entries()) {
    cum += abs(id);
    influence.set(id, total > 0 ? cum / total : (i + 1) / ranked.length);
  }
  const nodes: ViewerNode[] = ids.map((id) => {
    const fv = graph.nodes.get(id)!;
    return viewerNode(id, fv, position(fv.token), influence.get(id) ?? 0, ctx);
  });
  // Roots first (a stable sort: the rest keep the graph's order).
  nodes.sort((a, b) => Number(influence.has(a.node_id)) - Number(influence.has(b.node_id)));
  const links: ViewerLink[] = [];
  for (const [key, weight] of graph.edges) {
    const [source, target] = edgeEnds(key);
    links.push({ source, target, weight });
  }
  return {
    metadata: {
      slug: options.slug ?? "circuit-graph",
      scan: options.scan ?? "circuit-paths",
      transcoder_list: [],
      prompt_tokens: ctx.model.toStrTokens(ctx.tokens),
      prompt: ctx.model.toString(ctx.tokens),
      node_threshold: null,
      schema_version: 1,
    },
    qParams: { pinnedIds: [], supernodes: [], linkType: "both", clickedId: "", sg_pos: "" },
    nodes,
    links,
  };
}

function viewerNode(
  id: string,
  fv: FeatureVector,
  pos: number,
  influence: number,
  ctx: CircuitContext,
): ViewerNode {
  const last = fv.componentPath[fv.componentPath.length - 1];
  const base = {
    node_id: id,
    ctx_idx: pos,
    token_prob: 0,
    is_target_logit: false,
    run_idx: 0,
    reverse_ctx_idx: 0,
    jsNodeId: id,
    influence,
  };
  const type = last?.type;
  if (type === "embed") {
    return {
      ...base,
      feature: pos,
      layer: "E",
      feature_type: "embedding",
      clerp: "",
      activation: null,
    };
  }
  if (type && ERROR_LABELS[type]) {
    const [featureType, clerp] = ERROR_LABELS[type];
    return {
      ...base,
      feature: -1,
      layer: String(fv.layer),
      feature_type: featureType,
      clerp,
      activation: null,
    };
  }
  if (type === "attn") {
    return {
      ...base,
      feature: last.head ?? -1,
      layer: String(last.layer),
      feature_type: "attention head",
      clerp: `attn${last.layer}[${last.head ?? "?"}]`,
      activation: null,
    };
  }
  const layer = last?.layer ?? fv.layer;
  if (last?.featureIndex !== undefined) {
    const acts = last.featureType === "tc" ? ctx.acts[layer] : undefined;
    const dSae = ctx.transcoders[layer]?.cfg.d_sae;
    const activation = acts && dSae ? acts[pos * dSae + last.featureIndex] : undefined;
    return {
      ...base,
      feature: last.featureIndex,
      layer: String(layer),
      feature_type: "cross layer transcoder",
      clerp: "",
      activation: activation ?? null,
    };
  }
  return {
    ...base,
    feature: -1,
    layer: String(layer),
    feature_type: "direction",
    clerp: "direction",
    activation: fv.contrib ?? null,
  };
}

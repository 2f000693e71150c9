/**
 * The JSON export of attribution graphs that circuit-tracer's viewer and Neuronpedia load
 * (circuit-tracer `utils/create_graph_files.py`, `frontend/graph_models.py`; reference
 * `attribution_graphs.md` section 3 and P10): `{slug}.json` with `metadata`, `qParams`, `nodes`
 * and `links`, and the `graph-metadata.json` index of a folder of graphs.
 *
 * Node ids (schema version 1, with the error ids of circuit-tracer after PR #100/#102, which no
 * longer collide with layer-0 features):
 *
 * | node | `node_id` | `feature` | `layer` | `ctx_idx` | `jsNodeId` |
 * | ---- | --------- | --------- | ------- | --------- | ---------- |
 * | feature (l, p, f) | `{l}_{f}_{p}` | `cantorId(l, f)` | `"l"` | p | `{l}_{f}-0` |
 * | error (l, p) | `{l}_-1_{p}` | -1 | `"l"` | p | `{l}_-1-{p}` |
 * | token p | `E_{tokenId}_{p}` | p | `"E"` | p | `E_{tokenId}-{p}` |
 * | logit k | `{L+1}_{tokenId}_{T-1}` | tokenId | `"{L+1}"` | T-1 | `L_{tokenId}-{T-1}` |
 *
 * Every node field is always written: `token_prob` (the logit's probability, else 0),
 * `is_target_logit` (the first logit only), `run_idx` and `reverse_ctx_idx` (0), `clerp`
 * (`Output "tok" (p=0.123)` for logits, else empty), `influence` (the node's cumulative score,
 * `null` for logits) and `activation` (features only, else `null`). Links are the kept edges in
 * row-major (target, source) order with the raw signed direct effect; nodes in no link are left
 * out except embeddings and logits.
 *
 * @module
 */
import { type AttributionGraph, nodeCounts } from "./graph_types.ts";
import type { PrunedGraph } from "./prune.ts";

/** The `feature_type` of a node. */
export type GraphJsonFeatureType =
  | "cross layer transcoder"
  | "mlp reconstruction error"
  | "embedding"
  | "logit";

/** One node of the JSON (every field always written). */
export interface GraphJsonNode {
  node_id: string;
  /** Features: `cantorId(layer, feature)`; errors -1; embeddings the position; logits the id. */
  feature: number;
  /** The layer as a string: `"3"`, `"E"` for embeddings, `"{L+1}"` for logits. */
  layer: string;
  /** The position. */
  ctx_idx: number;
  feature_type: GraphJsonFeatureType;
  /** A logit's probability; 0 for other nodes. */
  token_prob: number;
  /** True for the first (most probable) logit only. */
  is_target_logit: boolean;
  run_idx: number;
  reverse_ctx_idx: number;
  jsNodeId: string;
  /** The label: `Output "tok" (p=0.123)` for logits, else "". */
  clerp: string;
  /** The cumulative influence score (small: important); `null` for logits. */
  influence: number | null;
  /** A feature's activation; `null` for other nodes. */
  activation: number | null;
}

/** One link: the raw signed direct effect of `source` on `target`. */
export interface GraphJsonLink {
  source: string;
  target: string;
  weight: number;
}

/** The `metadata` of a graph (also its entry in `graph-metadata.json`). */
export interface GraphJsonMetadata {
  slug: string;
  /** The transcoders' id (Neuronpedia treats it as the model id). */
  scan: string;
  transcoder_list: string[];
  /** Each token decoded separately, BOS included. */
  prompt_tokens: string[];
  /** The decoded prompt, BOS included. */
  prompt: string;
  /** The pruning node threshold; the viewer's slider maximum. */
  node_threshold: number | null;
  /** 1: `feature` is the Cantor-paired id. */
  schema_version: number;
  /** Where the viewer fetches feature details (Neuronpedia's optional field). */
  feature_details?: { feature_json_base_url?: string; neuronpedia_source_set?: string };
  /** Who made the graph (Neuronpedia's optional field). */
  info?: {
    creator_name?: string;
    source_urls?: string[];
    generator?: { name: string; version: string; url?: string };
    create_time_ms?: number;
  };
  /** How the graph was attributed (free-form). */
  generation_settings?: Record<string, unknown>;
  /** How it was pruned (free-form). */
  pruning_settings?: Record<string, unknown>;
}

/** The saved view state. */
export interface GraphJsonQParams {
  pinnedIds: string[];
  /** Each `[label, nodeId, ...]`. */
  supernodes: string[][];
  linkType: string;
  clickedId: string;
  /** Subgraph positions `"x y x y ..."`. */
  sg_pos: string;
}

/** A graph as the viewer loads it (`{slug}.json`). */
export interface GraphJson {
  metadata: GraphJsonMetadata;
  qParams: GraphJsonQParams;
  nodes: GraphJsonNode[];
  links: GraphJsonLink[];
}

/** Options of `graphToJson`. */
export interface GraphJsonOptions {
  /** The graph's name (its file is `{slug}.json`). */
  slug: string;
  /** The transcoders' id (default `graph.scan`). */
  scan?: string;
  /** The node threshold the graph was pruned with (the slider maximum), or null. */
  nodeThreshold: number | null;
  /** The transcoders, when `scan` names a set (default none). */
  transcoderList?: string[];
  /** Optional metadata fields written as given. */
  featureDetails?: GraphJsonMetadata["feature_details"];
  info?: GraphJsonMetadata["info"];
  generationSettings?: Record<string, unknown>;
  pruningSettings?: Record<string, unknown>;
}

/**
 * The Cantor pairing of (layer, feature), `(l + f)(l + f + 1) / 2 + f`: the `feature` of a
 * feature node in schema version 1, and the name of its feature-detail file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cantorId } from "./graph_json.ts";
 * cantorId(3, 1207); // 733862
 * assert.equal(cantorId(3, 1207), 733862);
 * assert.equal(cantorId(7, 88), 4648);
 * assert.notEqual(cantorId(1, 2), cantorId(2, 1)); // a pairing: one id per (layer, feature)
 * ```
 */
export function cantorId(layer: number, feature: number): number {
  if (!Number.isInteger(layer) || layer < 0 || !Number.isInteger(feature) || feature < 0) {
    throw new RangeError(`cantorId: layer ${layer} and feature ${feature} must be integers >= 0`);
  }
  const s = layer + feature;
  const id = (s * (s + 1)) / 2 + feature;
  if (!Number.isSafeInteger(id)) throw new RangeError(`cantorId(${layer}, ${feature}) is too big`);
  return id;
}

/**
 * `x` with three decimals as Python's `f"{x:.3f}"` writes it (exact ties to even, where
 * `toFixed` rounds them up).
 */
function pythonFixed3(x: number): string {
  const m = Math.abs(x) * 16;
  if (Number.isInteger(m) && m % 2 === 1) { // x = odd / 16: exactly halfway at the 3rd decimal
    const n = Math.floor(Math.abs(x) * 1000);
    const r = n % 2 === 0 ? n : n + 1;
    return `${x < 0 ? "-" : ""}${(r / 1000).toFixed(3)}`;
  }
  return x.toFixed(3);
}

/**
 * The label of a logit node: `Output "tok" (p=0.123)` (circuit-tracer's, the token unescaped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logitClerp } from "./graph_json.ts";
 * assert.equal(logitClerp(" sat", 0.1423), 'Output " sat" (p=0.142)');
 * assert.equal(logitClerp("x", 0.0625), 'Output "x" (p=0.062)'); // Python rounds ties to even
 * ```
 */
export function logitClerp(label: string, probability: number): string {
  return `Output "${label}" (p=${pythonFixed3(probability)})`;
}

/**
 * The `node_id` of every node of a graph, in node order (`[N]`; see the module table).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphNodeIds } from "./graph_json.ts";
 * const ids = graphNodeIds({
 *   nLayers: 1, tokens: Int32Array.of(50256, 464), activeFeatures: Int32Array.of(0, 1, 7),
 *   selectedFeatures: Int32Array.of(0), logitTargets: [{ tokenId: 9, label: "x", probability: 1 }],
 * });
 * assert.deepEqual(ids, ["0_7_1", "0_-1_0", "0_-1_1", "E_50256_0", "E_464_1", "2_9_1"]);
 * ```
 */
export function graphNodeIds(
  graph: Pick<
    AttributionGraph,
    "nLayers" | "tokens" | "activeFeatures" | "selectedFeatures" | "logitTargets"
  >,
): string[] {
  return nodeDescriptions(graph).map((d) => d.id);
}

interface NodeDescription {
  id: string;
  jsId: string;
  kind: GraphJsonFeatureType;
  layer: string;
  pos: number;
  feature: number;
}

function nodeDescriptions(
  graph: Pick<
    AttributionGraph,
    "nLayers" | "tokens" | "activeFeatures" | "selectedFeatures" | "logitTargets"
  >,
): NodeDescription[] {
  const { features: S, errors: E, tokens: T } = nodeCounts(graph);
  const L = graph.nLayers, out: NodeDescription[] = [];
  for (let i = 0; i < S; i++) {
    const a = graph.selectedFeatures[i];
    if (!(a >= 0 && 3 * a + 2 < graph.activeFeatures.length)) {
      throw new RangeError(`selected feature ${i} points at active feature ${a}, which is missing`);
    }
    const l = graph.activeFeatures[3 * a], p = graph.activeFeatures[3 * a + 1];
    const f = graph.activeFeatures[3 * a + 2];
    out.push({
      id: `${l}_${f}_${p}`,
      jsId: `${l}_${f}-0`,
      kind: "cross layer transcoder",
      layer: `${l}`,
      pos: p,
      feature: cantorId(l, f),
    });
  }
  for (let e = 0; e < E; e++) {
    const l = Math.floor(e / T), p = e % T;
    out.push({
      id: `${l}_-1_${p}`,
      jsId: `${l}_-1-${p}`,
      kind: "mlp reconstruction error",
      layer: `${l}`,
      pos: p,
      feature: -1,
    });
  }
  for (let p = 0; p < T; p++) {
    const tok = graph.tokens[p];
    out.push({
      id: `E_${tok}_${p}`,
      jsId: `E_${tok}-${p}`,
      kind: "embedding",
      layer: "E",
      pos: p,
      feature: p,
    });
  }
  graph.logitTargets.forEach((t) => {
    out.push({
      id: `${L + 1}_${t.tokenId}_${T - 1}`,
      jsId: `L_${t.tokenId}-${T - 1}`,
      kind: "logit",
      layer: `${L + 1}`,
      pos: T - 1,
      feature: t.tokenId,
    });
  });
  return out;
}

/**
 * The viewer's JSON of a pruned graph (P10 and section 3): the kept nodes (`nodeMask`), the kept
 * edges (`edgeMask`) between kept nodes as links in row-major (target, source) order with the
 * raw signed weight `A[target, source]`, then every node in no link dropped except embeddings
 * and logits. `influence` is the node's cumulative score.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphToJson } from "./graph_json.ts";
 * import { pruneGraph } from "./prune.ts";
 * // One feature (layer 0, position 1, index 7) between token 1 and the logit.
 * const N = 1 + 2 + 2 + 1, A = new Float32Array(N * N);
 * A[0 * N + 4] = 2; // feature <- token 1
 * A[5 * N + 0] = -0.5; // logit <- feature
 * const graph = {
 *   scan: "tiny", nLayers: 1, tokens: Int32Array.of(50256, 464), tokenStrings: ["<|endoftext|>", "The"],
 *   activeFeatures: Int32Array.of(0, 1, 7), activations: Float32Array.of(1.5), selectedFeatures: Int32Array.of(0),
 *   logitTargets: [{ tokenId: 3797, label: " cat", probability: 0.25 }], adjacency: A, droppedFeatures: 0,
 * };
 * const json = graphToJson(graph, pruneGraph(graph), { slug: "the-cat", nodeThreshold: 0.8 });
 * json.nodes.map((n) => n.node_id); // ["0_7_1", "E_50256_0", "E_464_1", "2_3797_1"]
 * assert.deepEqual(json.nodes.map((n) => n.node_id), ["0_7_1", "E_50256_0", "E_464_1", "2_3797_1"]);
 * assert.deepEqual(json.links, [
 *   { source: "E_464_1", target: "0_7_1", weight: 2 },
 *   { source: "0_7_1", target: "2_3797_1", weight: -0.5 },
 * ]);
 * assert.equal(json.nodes[3].clerp, 'Output " cat" (p=0.250)');
 * assert.equal(json.metadata.prompt, "<|endoftext|>The");
 * ```
 */
export function graphToJson(
  graph: AttributionGraph,
  pruned: Pick<PrunedGraph, "nodeMask" | "edgeMask" | "cumulativeScores">,
  options: GraphJsonOptions,
): GraphJson {
  const { features: S, total: N, logits: K } = nodeCounts(graph);
  const { nodeMask, edgeMask, cumulativeScores } = pruned;
  if (graph.adjacency.length !== N * N) {
    throw new RangeError(
      `graphToJson: adjacency has ${graph.adjacency.length} entries, not ${N}x${N}`,
    );
  }
  if (nodeMask.length !== N || edgeMask.length !== N * N || cumulativeScores.length !== N) {
    throw new RangeError(
      `graphToJson: masks [${nodeMask.length}], [${edgeMask.length}] and scores [${cumulativeScores.length}] do not fit ${N} nodes`,
    );
  }
  if (graph.tokenStrings.length !== graph.tokens.length) {
    throw new RangeError(
      `graphToJson: ${graph.tokenStrings.length} token strings for ${graph.tokens.length} tokens`,
    );
  }
  const desc = nodeDescriptions(graph);
  const A = graph.adjacency;
  const links: GraphJsonLink[] = [];
  const used = new Uint8Array(N);
  for (let t = 0; t < N; t++) {
    if (!nodeMask[t]) continue;
    const off = t * N;
    for (let s = 0; s < N; s++) {
      if (!edgeMask[off + s] || !nodeMask[s]) continue;
      links.push({ source: desc[s].id, target: desc[t].id, weight: A[off + s] });
      used[s] = used[t] = 1;
    }
  }
  const nodes: GraphJsonNode[] = [];
  for (let i = 0; i < N; i++) {
    const d = desc[i];
    if (!nodeMask[i] || (!used[i] && d.kind !== "embedding" && d.kind !== "logit")) continue;
    const k = i - (N - K);
    const target = d.kind === "logit" ? graph.logitTargets[k] : undefined;
    nodes.push({
      node_id: d.id,
      feature: d.feature,
      layer: d.layer,
      ctx_idx: d.pos,
      feature_type: d.kind,
      token_prob: target ? target.probability : 0,
      is_target_logit: k === 0,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: d.jsId,
      clerp: target ? logitClerp(target.label, target.probability) : "",
      influence: target ? null : cumulativeScores[i],
      activation: i < S ? graph.activations[graph.selectedFeatures[i]] : null,
    });
  }
  const metadata: GraphJsonMetadata = {
    slug: options.slug,
    scan: options.scan ?? graph.scan,
    transcoder_list: options.transcoderList ?? [],
    prompt_tokens: [...graph.tokenStrings],
    prompt: graph.tokenStrings.join(""),
    node_threshold: options.nodeThreshold,
    schema_version: 1,
    ...(options.featureDetails ? { feature_details: options.featureDetails } : {}),
    ...(options.info ? { info: options.info } : {}),
    ...(options.generationSettings ? { generation_settings: options.generationSettings } : {}),
    ...(options.pruningSettings ? { pruning_settings: options.pruningSettings } : {}),
  };
  return {
    metadata,
    qParams: { pinnedIds: [], supernodes: [], linkType: "both", clickedId: "", sg_pos: "" },
    nodes,
    links,
  };
}

/** `graph-metadata.json`: the graphs of a folder. */
export interface GraphMetadataFile {
  graphs: GraphJsonMetadata[];
}

/**
 * `graph-metadata.json` with a graph's metadata added (circuit-tracer's `add_graph_metadata`):
 * an entry with the same slug is removed and the new one appended. The input is not changed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addGraphMetadata, type GraphJsonMetadata } from "./graph_json.ts";
 * const meta = (slug: string, prompt: string): GraphJsonMetadata => ({
 *   slug, scan: "gpt2", transcoder_list: [], prompt_tokens: [prompt], prompt, node_threshold: 0.8, schema_version: 1,
 * });
 * let index = addGraphMetadata(undefined, meta("a", "one"));
 * index = addGraphMetadata(index, meta("b", "two"));
 * index = addGraphMetadata(index, meta("a", "three")); // replaces "a"
 * assert.deepEqual(index.graphs.map((g) => [g.slug, g.prompt]), [["b", "two"], ["a", "three"]]);
 * ```
 */
export function addGraphMetadata(
  existing: GraphMetadataFile | undefined,
  metadata: GraphJsonMetadata,
): GraphMetadataFile {
  const graphs = (existing?.graphs ?? []).filter((g) => g.slug !== metadata.slug);
  return { ...existing, graphs: [...graphs, metadata] };
}

/**
 * Writes `{dir}/{slug}.json` and adds its metadata to `{dir}/graph-metadata.json` (created if
 * missing), as circuit-tracer's `create_graph_files`: the folder the viewer's server serves.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeGraphFiles, type GraphJson } from "./graph_json.ts";
 * const json: GraphJson = {
 *   metadata: { slug: "g", scan: "s", transcoder_list: [], prompt_tokens: ["a"], prompt: "a", node_threshold: 0.8, schema_version: 1 },
 *   qParams: { pinnedIds: [], supernodes: [], linkType: "both", clickedId: "", sg_pos: "" },
 *   nodes: [],
 *   links: [],
 * };
 * const dir = await Deno.makeTempDir();
 * try {
 *   const { graphPath } = await writeGraphFiles(dir, json);
 *   assert.deepEqual(JSON.parse(await Deno.readTextFile(graphPath)), json);
 *   const index = JSON.parse(await Deno.readTextFile(`${dir}/graph-metadata.json`));
 *   assert.deepEqual(index.graphs.map((g: { slug: string }) => g.slug), ["g"]);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function writeGraphFiles(
  dir: string,
  json: GraphJson,
): Promise<{ graphPath: string; metadataPath: string }> {
  const slug = json.metadata.slug;
  if (!slug || /[\/\\]/.test(slug) || slug === "." || slug === "..") {
    throw new RangeError(`writeGraphFiles: "${slug}" is not a usable file name`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const graphPath = `${dir}/${slug}.json`, metadataPath = `${dir}/graph-metadata.json`;
  await Deno.writeTextFile(graphPath, JSON.stringify(json));
  let existing: GraphMetadataFile | undefined;
  try {
    existing = JSON.parse(await Deno.readTextFile(metadataPath));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const index = addGraphMetadata(existing, json.metadata);
  await Deno.writeTextFile(metadataPath, JSON.stringify(index, null, 2));
  return { graphPath, metadataPath };
}

/**
 * Attribution graphs, as circuit-tracer and Neuronpedia work with them: every active transcoder
 * feature of a prompt, error and token nodes and the salient logits, with exact direct effects
 * (frozen attention and LayerNorm scales, no path through an MLP), pruned by influence, exported
 * as circuit-tracer's graph JSON; feature interventions to test them, and the decomposition of
 * an attention score into the nodes that made a head attend.
 *
 * - The graph: `attributionGraph` (`AttributionGraphOptions`, `AttributionResult`,
 *   `AttributionTimings`), its data `AttributionGraph` (`LogitTarget`, node blocks
 *   `nodeCounts`/`NodeCounts`); targets: `logitDifferenceTarget`, `featureTarget`,
 *   `demeanedUnembedding` (`CustomTarget`, `SalientLogitOptions`).
 * - Pruning and scores: `pruneGraph` (`PruneOptions`, `PrunedGraph`), `graphScores`
 *   (`GraphScores`); influence: `nodeInfluence`, `findThreshold`, `cumulativeScores`.
 * - Export: `graphToJson` (`GraphJson`, `GraphJsonNode`, `GraphJsonLink`, `GraphJsonMetadata`,
 *   `GraphJsonOptions`), `writeGraphFiles`, `addGraphMetadata` (`GraphMetadataFile`),
 *   `cantorId`; feature-detail files `featureDetails`, `writeFeatureDetails` (`FeatureDetail`).
 * - Interventions: `featureIntervention`, `featureInterventionGenerate` (`FeatureIntervention`,
 *   `FeatureInterventionOptions`, `FeatureInterventionResult`,
 *   `FeatureInterventionGenerateOptions`, `FeatureInterventionGenerateResult`).
 * - Why a head attends: `qkAttribution` (`QkAttribution`, `QkOptions`, `QkNode`, `QkTerm`,
 *   `QkPair`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attributionGraph, graphScores, graphToJson, pruneGraph } from "@transcoder-circuits/core/attribution";
 * import { loadPretrained } from "@transcoder-circuits/core/weights";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const graph = await attributionGraph(model, transcoders, "The cat sat on the", { maxFeatureNodes: 200 });
 * const pruned = pruneGraph(graph); // node threshold 0.8, edge threshold 0.98
 * const { replacement, completeness } = graphScores(graph, { influence: pruned.influence });
 * const json = graphToJson(graph, pruned, { slug: "cat", nodeThreshold: 0.8 });
 * json.nodes.length; // the nodes that survive pruning (tokens and logits always)
 * assert.ok(replacement > 0 && replacement <= 1 && completeness > 0 && completeness <= 1);
 * assert.ok(json.links.length > 0);
 * ```
 *
 * @module
 */
export {
  attributionGraph,
  type AttributionGraphOptions,
  type AttributionResult,
  type AttributionTimings,
} from "./attribution_graph.ts";
export {
  type AttributionGraph,
  type LogitTarget,
  type NodeCounts,
  nodeCounts,
} from "./graph_types.ts";
export {
  type CustomTarget,
  demeanedUnembedding,
  featureTarget,
  logitDifferenceTarget,
  type SalientLogitOptions,
} from "./targets.ts";
export {
  type GraphScores,
  graphScores,
  type PrunedGraph,
  pruneGraph,
  type PruneOptions,
} from "./prune.ts";
export { cumulativeScores, findThreshold, nodeInfluence } from "./influence.ts";
export {
  addGraphMetadata,
  cantorId,
  type GraphJson,
  type GraphJsonLink,
  type GraphJsonMetadata,
  type GraphJsonNode,
  type GraphJsonOptions,
  type GraphMetadataFile,
  graphToJson,
  writeGraphFiles,
} from "./graph_json.ts";
export { type FeatureDetail, featureDetails, writeFeatureDetails } from "./feature_details.ts";
export {
  type FeatureIntervention,
  featureIntervention,
  featureInterventionGenerate,
  type FeatureInterventionGenerateOptions,
  type FeatureInterventionGenerateResult,
  type FeatureInterventionOptions,
  type FeatureInterventionResult,
} from "./intervention.ts";
export {
  type QkAttribution,
  qkAttribution,
  type QkNode,
  type QkOptions,
  type QkPair,
  type QkTerm,
} from "./qk_attribution.ts";

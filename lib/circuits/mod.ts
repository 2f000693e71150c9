/**
 * Circuit analysis with transcoders, on one cached pass with attention patterns frozen and
 * LayerNorms linearised (the reference's `circuit_analysis.py`).
 *
 * - Data model: `FeatureVector`, `Component` (`ComponentType`, `FeatureType`, `Sublayer`,
 *   `ContribType`), `Path`, `PathCollection`; printed with `featureVectorString`, `pathString`,
 *   `componentString`, `formatContrib` (`FeatureVectorStringOptions`); `lastComponent`.
 * - The pass: `CircuitContext` (`CircuitContextOptions`).
 * - Roots: `transcoderFeatureVector`, `directionFeatureVector`, `logitDifference`,
 *   `rootFeatureVector`.
 * - Attributions: `topContribs` (`TopContribsOptions`), `transcoderIxG`, `decoderPullback`,
 *   `attnHeadContribs`, `embedContrib`, child vectors (`transcoderChildVector`, `attnChildVector`;
 *   `TranscoderChild`, `AttnChild`), `transcoderRelativeError`; weight products `encoderColumn`,
 *   `decoderProducts`, `headOvVector` (`HeadRef`).
 * - Paths: `greedyTopPaths` (`GreedyOptions`), filters (`pathsViaFilter`, `matchesFilter`,
 *   `flattenPaths`; `FeatureFilter`, `FilterOp`, `PathFilterOptions`).
 * - Graphs: `pathsToGraph`, `addErrorNodes`, `sumOverTokens`, `rawTopFeaturesAmongPaths`
 *   (`CircuitGraph`; node and edge keys `nodeId`, `edgeKey`, `edgeEnds`); layout for drawing
 *   (`graphLayout`, `layerToFloat`; `LayoutNode`, `LayoutLink`, `GraphLayoutOptions`).
 * - Checks against interventions: `checkEdge`, `checkPath` (`EdgeCheck`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   addErrorNodes,
 *   CircuitContext,
 *   greedyTopPaths,
 *   pathsToGraph,
 *   pathString,
 *   transcoderFeatureVector,
 * } from "@transcoder-circuits/core/circuits";
 * import { loadPretrained } from "@transcoder-circuits/core/weights";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const root = transcoderFeatureVector(transcoders[3]!, 1477); // layer 3, last token
 * const paths = greedyTopPaths(ctx, root, { numIters: 2, numBranches: 3 }); // per iteration
 * pathString(paths[0][0]); // "mlp3tc[1477]@-1: 0.93 <- mlp0tc[1372]@7: 0.41"
 * const graph = addErrorNodes(ctx, pathsToGraph(paths));
 * assert.ok(graph.nodes.size > 3 && graph.edges.size > 0);
 * ```
 *
 * @module
 */
export {
  type Component,
  componentString,
  type ComponentType,
  type ContribType,
  type FeatureType,
  type FeatureVector,
  featureVectorString,
  type FeatureVectorStringOptions,
  formatContrib,
  lastComponent,
  type Path,
  type PathCollection,
  pathString,
  type Sublayer,
} from "./feature_vector.ts";
export { CircuitContext, type CircuitContextOptions } from "./context.ts";
export {
  type AttnChild,
  attnChildVector,
  attnHeadContribs,
  decoderPullback,
  embedContrib,
  topContribs,
  type TopContribsOptions,
  type TranscoderChild,
  transcoderChildVector,
  transcoderIxG,
  transcoderRelativeError,
} from "./attribution.ts";
export {
  type FeatureFilter,
  type FilterOp,
  flattenPaths,
  matchesFilter,
  type PathFilterOptions,
  pathsViaFilter,
} from "./filters.ts";
export {
  directionFeatureVector,
  type GreedyOptions,
  greedyTopPaths,
  logitDifference,
  rootFeatureVector,
  transcoderFeatureVector,
} from "./paths.ts";
export {
  addErrorNodes,
  type CircuitGraph,
  edgeEnds,
  edgeKey,
  nodeId,
  pathsToGraph,
  rawTopFeaturesAmongPaths,
  sumOverTokens,
} from "./graph.ts";
export {
  graphLayout,
  type GraphLayoutOptions,
  layerToFloat,
  type LayoutLink,
  type LayoutNode,
} from "./graph_layout.ts";
export { decoderProducts, encoderColumn, headOvVector, type HeadRef } from "./weight_products.ts";
export { checkEdge, checkPath, type EdgeCheck } from "./intervention.ts";

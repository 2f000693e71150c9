/**
 * transcoder-circuits: reverse-engineer language-model circuits with transcoders, in Deno.
 *
 * This entry point holds the names a researcher starts from: loading models and transcoders,
 * running with hooks and caches, circuits, dashboards and display. Everything else lives behind
 * subpath exports, each with a module doc listing its contents:
 *
 * | subpath        | what it holds                                                                |
 * | -------------- | ---------------------------------------------------------------------------- |
 * | `/model`       | GPT-2 config, weights and processing, `HookedModel`, hook names, hook functions |
 * | `/transcoder`  | `Transcoder`, its loaders and savers, evaluation, training                   |
 * | `/circuits`    | feature vectors, attributions, greedy paths, filters, graphs, interventions  |
 * | `/attribution` | attribution graphs: edges, pruning, scores, graph JSON, feature interventions, QK |
 * | `/dashboards`  | one-pass feature statistics, examples, logit effects, de-embeddings, pullbacks |
 * | `/display`     | Jupyter and terminal display, tables, token highlighting, charts             |
 * | `/graph`       | the graph builder, autodiff, ONNX export and onnxruntime sessions            |
 * | `/formats`     | safetensors, torch `.pt` (zip + restricted unpickler) readers                |
 * | `/train`       | corpora, packing, optimisers, schedules, the training loops, checkpoints     |
 * | `/weights`     | weight locations, the registry, verified resumable downloads                 |
 * | `/tensor`      | host tensors, seeded randomness, small host operations                       |
 * | `/tokenizer`   | the GPT-2 tokenizer                                                          |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { actName, loadModel, select } from "@transcoder-circuits/core";
 * const model = await loadModel("tiny"); // the embedded default
 * const { logits, cache } = await model.runWithCache(model.toTokens("Hello world"), {
 *   names: [actName("mlp_out", 0)],
 * });
 * cache["blocks.0.hook_mlp_out"].shape; // [1, 3, 96]
 * select(logits!, 0, -1).shape; // [50257]: logits[0, -1]
 * assert.deepEqual(logits!.shape, [1, 3, 50257]);
 * ```
 *
 * @module
 */

// Models: load, run with caches and hook functions.
export { loadModel } from "./lib/model/load.ts";
export { loadPretrained, type Pretrained } from "./lib/weights/pretrained.ts";
export type {
  ForwardRequest,
  ForwardResult,
  HookedModel,
  Patches,
} from "./lib/model/hooked_model.ts";
export type { ActivationCache } from "./lib/model/activation_cache.ts";
export { actName } from "./lib/model/hook_names.ts";
export {
  ablateFeature,
  ablateHead,
  ablatePosition,
  type HookFunction,
  runWithHooks,
} from "./lib/model/hook_functions.ts";

// Transcoders.
export { loadTranscoder, loadTranscoders } from "./lib/transcoder/load.ts";
export { Transcoder, type TranscoderConfig } from "./lib/transcoder/transcoder.ts";
export { evaluateTranscoders } from "./lib/transcoder/evals.ts";

// Circuits.
export { CircuitContext } from "./lib/circuits/context.ts";
export { type FeatureVector, pathString } from "./lib/circuits/feature_vector.ts";
export {
  directionFeatureVector,
  greedyTopPaths,
  logitDifference,
  transcoderFeatureVector,
} from "./lib/circuits/paths.ts";
export { pathsViaFilter } from "./lib/circuits/filters.ts";
export { addErrorNodes, pathsToGraph } from "./lib/circuits/graph.ts";
export { checkPath } from "./lib/circuits/intervention.ts";

// Attribution graphs.
export { attributionGraph } from "./lib/attribution/attribution_graph.ts";
export { pruneGraph } from "./lib/attribution/prune.ts";
export { featureIntervention } from "./lib/attribution/intervention.ts";

// Dashboards.
export { computeFeatureStats } from "./lib/dashboards/feature_stats.ts";
export { featureDeembedding } from "./lib/dashboards/deembeddings.ts";
export { vectorPullback } from "./lib/dashboards/pullbacks.ts";

// Display.
export { dashboardFromStats } from "./lib/display/adapters.ts";
export { print, show } from "./lib/display/jupyter.ts";
export { showDashboard } from "./lib/display/dashboard_html.ts";
export { showGraph, showPaths } from "./lib/display/show.ts";
export { showGraphViewer } from "./lib/display/graph_viewer.ts";

// Data and tensors.
export { loadPackedCorpus } from "./lib/train/corpus.ts";
export { select, type Tensor } from "./lib/tensor/tensor.ts";

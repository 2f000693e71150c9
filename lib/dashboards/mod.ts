/**
 * Feature dashboards and weight-based feature analysis (the reference's
 * `feature_dashboards.py`): statistics of all features of a layer in one streaming pass
 * (frequencies, histograms, top and banded examples; mergeable shards; saved to disk), per-feature
 * scores, direct logit effects, de-embeddings, OV norms and pullbacks. Results are plain typed
 * data for display code to render.
 *
 * @example
 * ```ts ignore
 * import { computeFeatureStats, featureLogitEffects, loadModel } from "@transcoder-circuits/core";
 * const stats = await computeFeatureStats(model, transcoder, rows);
 * for (const i of stats.liveFeatures().slice(0, 5)) {
 *   console.log(i, stats.frequency(i), stats.topExamples(i, 3), featureLogitEffects(model, transcoder, i).top);
 * }
 * ```
 *
 * @module
 */
export * from "./activation_bins.ts";
export * from "./fingerprint.ts";
export * from "./probe_graph.ts";
export * from "./feature_scores.ts";
export * from "./feature_stats.ts";
export * from "./stats_merge.ts";
export * from "./stats_file.ts";
export * from "./ranking.ts";
export * from "./logit_effects.ts";
export * from "./deembeddings.ts";
export * from "./pullbacks.ts";
export * from "./dashboard.ts";

/**
 * Feature dashboards and weight-based feature analysis (the reference's
 * `feature_dashboards.py`): statistics of all features of a layer in one streaming pass
 * (frequencies, histograms, top and banded examples; mergeable shards; saved to disk), per-feature
 * scores, direct logit effects, de-embeddings, OV norms and pullbacks. Results are plain typed
 * data for display code to render.
 *
 * @example
 * ```ts
 * import { computeFeatureStats, featureLogitEffects } from "./mod.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const transcoder = transcoders[0]!;
 * const rows = model.toTokens(["The Congress and the people of the State"]); // [1, 9]
 * const stats = await computeFeatureStats(model, transcoder, rows, { quiet: true });
 * const report = Array.from(stats.liveFeatures().slice(0, 5), (i) => ({
 *   feature: i,
 *   frequency: stats.frequency(i),
 *   top: stats.topExamples(i, 3), // [{ row, pos, value }, ...]
 *   promotes: featureLogitEffects(model, transcoder, i, { k: 3 }).top.map((t) => t.str),
 * }));
 * assert.equal(report.length, 5);
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

/**
 * Feature dashboards and weight-based feature analysis (the reference's
 * `feature_dashboards.py`). Results are plain typed data for display code to render.
 *
 * - Statistics of all features of a layer in one streaming pass: `computeFeatureStats`
 *   (`FeatureStatsOptions`) gives `LayerFeatureStats` (frequencies, histograms, quantiles, top and
 *   banded examples; `FeatureStatsData`, `FeatureStatsConfig`, `FeatureSummary`,
 *   `FeatureExample`, `ActivationBand`, `CorpusInfo`, `LIVE_THRESHOLD`); shards merge with
 *   `mergeFeatureStats` and `mergeAllFeatureStats`; saved and loaded with `saveFeatureStats` and
 *   `loadFeatureStats`.
 * - Per-feature scores over a corpus: `featureScores`, `featureColumns` (`FeatureScoresOptions`,
 *   `ScoreKind`), and the tokens around an example, `exampleContext` (`ExampleContext`).
 * - Weight-based analysis: direct logit effects (`featureLogitEffects`, `unembedVector`;
 *   `LogitEffects`), de-embeddings (`featureDeembedding`, `featureVectorDeembedding`,
 *   `deembedVector`; `Deembedding`), OV norms and input analysis (`featureOvNorms`,
 *   `featureInputAnalysis`; `FeatureInputAnalysis`), pullbacks (`vectorPullback`,
 *   `featurePullback`, `inputDependentPullback`, `meanIxG`; `Pullback`, `MeanIxG`,
 *   `MeanIxGOptions`).
 * - Rankings: `rankTokens`, `rankFeatures`, `valueHistogram` (`TokenValue`, `FeatureValue`,
 *   `ValueHistogram`).
 * - Dashboards: `buildFeatureDashboards` (`FeatureDashboardOptions`) gives `FeatureDashboard`s
 *   (`DashboardInputs`, `DashboardExample`, `DashboardBand`, `DashboardLogits`, `TokenRanking`,
 *   `HeadDeembedding`).
 *
 * @example
 * ```ts
 * import { computeFeatureStats, featureLogitEffects } from "@transcoder-circuits/core/dashboards";
 * import { loadPretrained } from "@transcoder-circuits/core/weights";
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
export {
  type ActivationBand,
  computeFeatureStats,
  type CorpusInfo,
  type FeatureExample,
  type FeatureStatsConfig,
  type FeatureStatsData,
  type FeatureStatsOptions,
  type FeatureSummary,
  LayerFeatureStats,
  LIVE_THRESHOLD,
} from "./feature_stats.ts";
export { mergeAllFeatureStats, mergeFeatureStats } from "./stats_merge.ts";
export { loadFeatureStats, saveFeatureStats } from "./stats_file.ts";
export {
  type ExampleContext,
  exampleContext,
  featureColumns,
  featureScores,
  type FeatureScoresOptions,
  type ScoreKind,
} from "./feature_scores.ts";
export { featureLogitEffects, type LogitEffects, unembedVector } from "./logit_effects.ts";
export {
  type Deembedding,
  deembedVector,
  featureDeembedding,
  type FeatureInputAnalysis,
  featureInputAnalysis,
  featureOvNorms,
  featureVectorDeembedding,
} from "./deembeddings.ts";
export {
  featurePullback,
  inputDependentPullback,
  type MeanIxG,
  meanIxG,
  type MeanIxGOptions,
  type Pullback,
  vectorPullback,
} from "./pullbacks.ts";
export {
  type FeatureValue,
  rankFeatures,
  rankTokens,
  type TokenValue,
  type ValueHistogram,
  valueHistogram,
} from "./ranking.ts";
export {
  buildFeatureDashboards,
  type DashboardBand,
  type DashboardExample,
  type DashboardInputs,
  type DashboardLogits,
  type FeatureDashboard,
  type FeatureDashboardOptions,
  type HeadDeembedding,
  type TokenRanking,
} from "./dashboard.ts";

/**
 * A blind interpretability comparison of two dictionaries (transcoders or SAEs) of one model, as
 * in the reference's interp-comparison notebook: n random live features of each, shuffled, shown
 * one at a time to a rater in a local web app with no hint of which dictionary each comes from,
 * rated interpretable yes / maybe / no (and context-free), and revealed and tallied at the end.
 * `deno task compare-interp` runs it (docs/interp_comparison.md).
 *
 * - Preparing: `prepareComparison` (feature statistics, sample, blinded items; `PrepareOptions`,
 *   `PreparedComparison`), `dictionaryInfo`, `dictionaryFingerprint`.
 * - Sampling and the key: `sampleComparison`, `sampleLiveFeatures`, `MIN_EXAMPLES`,
 *   `SamplingError` (`KeyEntry`, `DictionaryLabel`, `ComparisonSample`, `DictionarySample`,
 *   `FeatureCounts`).
 * - Blinded items: `blindView` (`ItemView`, `ItemBand`).
 * - Answers: `RatingsStore` (append-only JSONL, last answer per item counts, final once all are
 *   rated), `checkRating`, `RatingsError`, `INTERPRETABILITY`, `MAX_NOTE` (`Rating`,
 *   `Interpretability`).
 * - The session folder: `ComparisonSession`, `checkSameSession`, `SESSION_FILES`, `SessionError`
 *   (`SessionSpec`, `SessionRecord`, `SessionState`, `DictionaryInfo`).
 * - Results: `tallyRatings`, `resultsMarkdown`, `tallyTableHtml`, `keyTableHtml`,
 *   `tallyChartSvg`, `REFERENCE_TALLIES` (`Tally`, `TallyRow`, `ComparisonOutcome`).
 * - The app: `startRatingServer` (`RatingServer`, `RatingServerOptions`), `ratingPageHtml`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleComparison, tallyRatings } from "./mod.ts";
 * const counts = { liveFeatures: () => [10, 11, 12, 13], firingCount: () => 5 };
 * const { key } = sampleComparison(counts, counts, { n: 2, seed: 7 });
 * const time = new Date().toISOString();
 * const ratings = key.map((k) => ({ item: k.item, rating: "yes" as const, contextFree: false, note: "", time }));
 * assert.deepEqual(tallyRatings(key, ratings).A, { yes: 2, maybe: 0, no: 0, contextFree: 0, total: 2 });
 * ```
 *
 * @module
 */
export {
  dictionaryFingerprint,
  dictionaryInfo,
  prepareComparison,
  type PreparedComparison,
  type PrepareOptions,
} from "./prepare.ts";
export {
  type ComparisonSample,
  type DictionaryLabel,
  type DictionarySample,
  type FeatureCounts,
  type KeyEntry,
  MIN_EXAMPLES,
  sampleComparison,
  sampleLiveFeatures,
  SamplingError,
} from "./sampling.ts";
export { blindView, type ItemBand, type ItemView } from "./items.ts";
export {
  checkRating,
  INTERPRETABILITY,
  type Interpretability,
  MAX_NOTE,
  type Rating,
  RatingsError,
  RatingsStore,
} from "./ratings.ts";
export {
  checkSameSession,
  ComparisonSession,
  type DictionaryInfo,
  SESSION_FILES,
  SessionError,
  type SessionRecord,
  type SessionSpec,
  type SessionState,
} from "./session.ts";
export {
  type ComparisonOutcome,
  keyTableHtml,
  REFERENCE_TALLIES,
  resultsMarkdown,
  type Tally,
  tallyChartSvg,
  tallyRatings,
  type TallyRow,
  tallyTableHtml,
} from "./results.ts";
export { type RatingServer, type RatingServerOptions, startRatingServer } from "./server.ts";
export { ratingPageHtml } from "./page.ts";

/**
 * The sparsity-fidelity sweep (the reference's `sweep.ipynb`): transcoders against MLP-output
 * SAEs for one layer, several L1 coefficients each, L0 against the cross-entropy with the
 * dictionary spliced in.
 *
 * - Running it: `runSweep` (resumable; `SweepRun`, `SweepTrainOptions`, `SweepHooks`,
 *   `RunStatus`), `sweepRunName`, `SweepError`.
 * - Its results: `SweepRow`, `SweepKind`; `matchedL0` (transcoders against the SAE curve at the
 *   same L0, `MatchedPoint`), `sweepMarkdown`, `sweepChartSvg` (the Pareto chart),
 *   `writeSweepReport`.
 *
 * The command line is `deno task sweep` (tasks/sweep.ts); the committed tiny-model sweep is in
 * `results/sweep_tiny_l2/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchedL0, sweepChartSvg, type SweepRow } from "@transcoder-circuits/core/sweep";
 * const row = (kind: SweepRow["kind"], l1: number, l0: number, ce: number): SweepRow => ({
 *   kind, name: `${kind}-l1-${l1}`, l1, l0, ceReplaced: ce, ceClean: 4.84, ceZeroAblated: 4.91,
 *   ceScore: (4.91 - ce) / 0.07, kl: 0.01, explainedVariance: 0.9, deadFeatures: 0, liveFeatures: 2000,
 * });
 * // (in the repository, results/sweep_tiny_l2/results.json holds the committed sweep's rows)
 * const rows = [
 *   row("transcoder", 7e-4, 41.5, 4.8503), row("transcoder", 1.6e-3, 18.1, 4.8586),
 *   row("mlp_out_sae", 7e-4, 60, 4.8500), row("mlp_out_sae", 1.6e-3, 15, 4.8620),
 * ];
 * const svg = sweepChartSvg(rows); // CE with replacement against L0, one line per kind
 * const [m] = matchedL0(rows); // the transcoder at L0 18.1 against the SAE curve there
 * m.difference; // about -0.0018: its CE is lower than the SAEs' at the same L0
 * assert.ok(svg.startsWith("<svg") && m.difference < 0);
 * ```
 *
 * @module
 */
export {
  type RunStatus,
  runSweep,
  SweepError,
  type SweepHooks,
  type SweepRun,
  sweepRunName,
  type SweepTrainOptions,
} from "./sweep_runs.ts";
export {
  matchedL0,
  type MatchedPoint,
  type SweepChartOptions,
  sweepChartSvg,
  type SweepKind,
  sweepMarkdown,
  type SweepReportInfo,
  type SweepRow,
  writeSweepReport,
} from "./sweep_results.ts";

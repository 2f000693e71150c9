/**
 * Training: corpora, training steps as graphs run by a host trainer, learning-rate schedules,
 * checkpoints, and a GPT-2-architecture language model's training.
 *
 * - Corpus: packed token rows in one call, `loadPackedCorpus` (`PackedCorpusOptions`, cached on
 *   disk); documents from a source (`loadDocuments`, `CorpusSource`, `BuiltinSource`,
 *   `BUILTIN_SOURCES`, `Document`; a user's text `parseTextCorpus`, `parseJsonlCorpus`); a train /
 *   validation split (`splitDocuments`, `SplitOptions`, `DocumentSplit`); packing into rows the
 *   SAELens way (`packDocuments`, `packTokens`, `RowPacker`; `PackOptions`,
 *   `PackDocumentsOptions`, `PackProgress`).
 * - Steps and the trainer: `Trainer` runs a `StepSpec` (forward pass and loss; gradients, clipping
 *   and Adam(W) with `AdamConfig` are added) on a `TrainState` from `initialState`, one graph
 *   run per step (`StepResult`); `NonFiniteLossError`.
 * - Schedules: `learningRate` (`ScheduleOptions`), `SCHEDULES` (`ScheduleName`).
 * - Checkpoints: `saveCheckpoint`, `loadCheckpoint`, `checkCompatible` (`CheckpointMeta`);
 *   `CheckpointError`.
 * - Language models: `lmStepSpec`, `initialLmParams`, and the trained parameters as a model
 *   (`lmModel`, `lmStateDict`) or a Hugging Face folder (`exportHfFolder`); `meanLoss` and the
 *   `unigramBaseline` to beat.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   initialLmParams,
 *   initialState,
 *   lmModel,
 *   lmStepSpec,
 *   meanLoss,
 *   packTokens,
 *   Trainer,
 * } from "@transcoder-circuits/core/train";
 * import { gpt2Config } from "@transcoder-circuits/core/model";
 * import { Runtime } from "@transcoder-circuits/core/graph";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const tokens = packTokens([[1, 2, 3, 4, 5, 6, 7]], { nCtx: 4, prependBos: false }); // [1, 4]
 * const spec = lmStepSpec(cfg, 1, { weightDecay: 0.1 }); // batches of 1 row
 * const schedule = { name: "constant", lr: 1e-2, totalSteps: 5 } as const;
 * const state = initialState(initialLmParams(cfg, 0));
 * const trainer = await Trainer.create(new Runtime(), spec, state, schedule);
 * const first = (await trainer.step({ tokens })).loss; // about ln 10: near uniform
 * for (let i = 0; i < 4; i++) await trainer.step({ tokens });
 * const model = lmModel(cfg, trainer.state.params); // a HookedModel
 * assert.ok(await meanLoss(model, tokens) < first); // it learned the row
 * ```
 *
 * @module
 */
export {
  type DocumentSplit,
  loadPackedCorpus,
  type PackedCorpusOptions,
  splitDocuments,
  type SplitOptions,
} from "./corpus.ts";
export {
  BUILTIN_SOURCES,
  type BuiltinSource,
  type CorpusSource,
  type Document,
  loadDocuments,
  parseJsonlCorpus,
  parseTextCorpus,
} from "./corpus_sources.ts";
export {
  packDocuments,
  type PackDocumentsOptions,
  type PackOptions,
  type PackProgress,
  packTokens,
  RowPacker,
} from "./packing.ts";
export {
  initialState,
  NonFiniteLossError,
  type StepResult,
  Trainer,
  type TrainState,
} from "./trainer.ts";
export type { StepSpec } from "./train_step.ts";
export type { AdamConfig } from "./optimizer.ts";
export { learningRate, type ScheduleName, type ScheduleOptions, SCHEDULES } from "./schedules.ts";
export {
  checkCompatible,
  CheckpointError,
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
export {
  exportHfFolder,
  initialLmParams,
  lmModel,
  lmStateDict,
  lmStepSpec,
  meanLoss,
  unigramBaseline,
} from "./lm_training.ts";

/**
 * Transcoders: wide, sparsely activating replacements for one MLP sublayer.
 *
 * - The transcoder: `Transcoder` (encode, sparse latents, decode, parameters, splicing into a
 *   model with `asReplacement()`, `Transcoder.random`), `TranscoderConfig`, `mlpTranscoderConfig`,
 *   `TRANSCODER_PARAMS` (`TranscoderParam`), `SparseActivations`; `TranscoderError`.
 * - Sparse autoencoders: the same class with `kind === "sae"` (input hook = target hook, output
 *   bias tied to `b_dec`), `mlpSaeConfig` on an `SaeSite` (`mlp_out` or `mlp_in`); trained by
 *   `trainTranscoder` with `{ sae }`, spliced, evaluated, saved and loaded as transcoders are.
 * - Loading and saving: `loadTranscoder` (a SAELens-style folder, a reference `.pt` checkpoint or
 *   `"<model>:<layer>"`), `loadTranscoders` (a model's set), `LoadTranscoderOptions`;
 *   `saveTranscoderFolder` and its file names `SAELENS_FILES`.
 * - Evaluation: `evaluateTranscoders` (L0, normalised MSE, explained variance, cross-entropy and
 *   KL with the MLP replaced, feature frequencies), `EvalOptions`, `LayerEval`, `AllLayersEval`,
 *   `LIVE_LOG10_FREQUENCY`.
 * - Training: `trainTranscoder` (`TranscoderTrainOptions`, `TranscoderTrainHooks`,
 *   `TranscoderStepMetrics`) and its paired activations, `ActivationStore`
 *   (`ActivationStoreOptions`, `ActivationBatch`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTranscoder, saveTranscoderFolder } from "@transcoder-circuits/core/transcoder";
 * import { loadModel } from "@transcoder-circuits/core/model";
 * const model = await loadModel("tiny");
 * const tc = await loadTranscoder("tiny:1"); // layer 1 of the embedded tiny model
 * const tokens = model.toTokens("The cat sat on the mat.");
 * const { cache } = await model.runWithCache(tokens, { names: [tc.cfg.hook_name] });
 * const rows = await tc.encodeSparse(cache.get(tc.cfg.hook_name)); // one per token
 * assert.equal(rows.length, 8);
 * const dir = await Deno.makeTempDir();
 * await saveTranscoderFolder(`${dir}/layer_1`, tc);
 * assert.deepEqual((await loadTranscoder(`${dir}/layer_1`)).W_dec.data, tc.W_dec.data);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export {
  mlpSaeConfig,
  mlpTranscoderConfig,
  type SaeSite,
  type SparseActivations,
  Transcoder,
  TRANSCODER_PARAMS,
  type TranscoderConfig,
  TranscoderError,
  type TranscoderParam,
} from "./transcoder.ts";
export { loadTranscoder, type LoadTranscoderOptions, loadTranscoders } from "./load.ts";
export { SAELENS_FILES, saveTranscoderFolder } from "./saelens_folder.ts";
export {
  type AllLayersEval,
  type EvalOptions,
  evaluateTranscoders,
  type LayerEval,
  LIVE_LOG10_FREQUENCY,
} from "./evals.ts";
export {
  trainTranscoder,
  type TranscoderStepMetrics,
  type TranscoderTrainHooks,
  type TranscoderTrainOptions,
} from "./train_transcoder.ts";
export {
  type ActivationBatch,
  ActivationStore,
  type ActivationStoreOptions,
} from "./activation_store.ts";

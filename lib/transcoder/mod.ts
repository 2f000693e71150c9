/**
 * Transcoders: parameters, encode/decode, splicing into a model; loading (`loadTranscoder` for
 * one: a SAELens-style folder, a reference `.pt` checkpoint or `"<model>:<layer>"`;
 * `loadTranscoders` for a model's set), writing SAELens-style folders, the activation store,
 * training and evaluation.
 *
 * @module
 */
export * from "./transcoder.ts";
export { parseTranscoderConfig, SAELENS_FILES, saveTranscoderFolder } from "./saelens_folder.ts";
export {
  isReferenceCheckpointPath,
  REFERENCE_RECORD_CLASSES,
  sparsitySidecarPath,
  transcoderFromReferenceCheckpoint,
} from "./reference_pt.ts";
export * from "./activation_store.ts";
export * from "./training_step.ts";
export * from "./train_transcoder.ts";
export * from "./evals.ts";
export * from "./load.ts";

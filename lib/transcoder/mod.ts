/**
 * Transcoders: parameters, encode/decode, splicing into a model, SAELens-style folders,
 * the activation store, training and evaluation.
 *
 * @module
 */
export * from "./transcoder.ts";
export * from "./saelens_folder.ts";
export * from "./activation_store.ts";
export * from "./training_step.ts";
export * from "./train_transcoder.ts";
export * from "./evals.ts";
export * from "./load.ts";
export * from "./reference_pt.ts";

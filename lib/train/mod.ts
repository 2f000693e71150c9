/**
 * Training: corpus, optimiser and schedules, training steps as graphs, checkpoints, progress,
 * and the language-model trainer.
 *
 * @module
 */
export * from "./corpus.ts";
export * from "./schedules.ts";
export * from "./optimizer.ts";
export * from "./train_step.ts";
export * from "./trainer.ts";
export * from "./checkpoint.ts";
export * from "./progress.ts";
export * from "./lm_training.ts";

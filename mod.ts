/**
 * transcoder-circuits: reverse-engineer language-model circuits with transcoders, in Deno.
 *
 * @example
 * ```ts
 * import { loadModel } from "@transcoder-circuits/core";
 * const model = await loadModel("tiny"); // the embedded default
 * const { logits, cache } = await model.runWithCache(model.toTokens("Hello world"), {
 *   names: ["blocks.0.hook_mlp_out"],
 * });
 * cache.get("blocks.0.hook_mlp_out").shape; // [1, 3, 96]
 * logits!.shape; // [1, 3, 50257]
 * ```
 *
 * @module
 */
export * from "./lib/tensor/mod.ts";
export * from "./lib/formats/mod.ts";
export * from "./lib/graph/mod.ts";
export * from "./lib/tokenizer/mod.ts";
export * from "./lib/model/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/transcoder/mod.ts";
export * from "./lib/circuits/mod.ts";
export * from "./lib/display/mod.ts";
export * from "./lib/weights/mod.ts";
export * from "./lib/dashboards/mod.ts";

/**
 * GPT-2-shaped models with every TransformerLens hook.
 *
 * @module
 */
export * from "./config.ts";
export * from "./weights.ts";
export * from "./process_weights.ts";
export * from "./hook_names.ts";
export * from "./activation_cache.ts";
export * from "./tokens.ts";
export * from "./gpt2_graph.ts";
export * from "./hooked_model.ts";
export * from "./hook_functions.ts";
export * from "./load.ts";
export * from "./random_weights.ts";

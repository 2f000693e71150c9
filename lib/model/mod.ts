/**
 * GPT-2-shaped models with every TransformerLens hook.
 *
 * - Loading: `loadModel` (`"tiny"`, `"gpt2-small"` or a Hugging Face GPT-2 folder, with
 *   `LoadModelOptions`), `modelFromStateDict`, `randomStateDict`.
 * - Config: `GPT2Config`, `gpt2Config`, `GPT2_SMALL`, `configFromHf` and `configToHf` (a Hugging
 *   Face `config.json`); `ConfigError`.
 * - Weights: `StateDict` in TransformerLens names, `fromHfStateDict` and `toHfStateDict`,
 *   TransformerLens's processing (`processWeights`, `Processing`, `DEFAULT_PROCESSING`,
 *   `NO_PROCESSING`); `WeightsError`.
 * - Running: `HookedModel` (run, cache, patch, loss, generate) with `ForwardRequest`,
 *   `ForwardResult`, `RunWithCacheOptions`, `Patch`, `Patches`, MLP replacements
 *   (`MlpReplacements`, `MlpReplacementProvider`) and `GraphExtension`; its `ActivationCache`;
 *   token inputs `TokensLike` and `TokenBatch`.
 * - Hooks: names (`actName`, `hookNames`, `hookShape`; `UnknownHookError`) and host hook functions
 *   (`runWithHooks`, `ablateHead`, `ablatePosition`, `ablateFeature`; `HookFunction`,
 *   `HookContext`, `RunWithHooksOptions`, `AblationMode`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   ablateHead,
 *   actName,
 *   hookShape,
 *   loadModel,
 *   runWithHooks,
 * } from "@transcoder-circuits/core/model";
 * const model = await loadModel("tiny"); // the embedded default: 4 layers, d_model 96
 * const tokens = model.toTokens("The cat sat on the mat."); // [1, 8], BOS first
 * const name = actName("pattern", 1); // "blocks.1.attn.hook_pattern"
 * const { cache } = await model.runWithCache(tokens, { names: [name] });
 * assert.deepEqual(cache.get(name).shape, hookShape(model.cfg, name, 1, 8)); // [1, 4, 8, 8]
 * const ablated = await runWithHooks(model, tokens, {
 *   loss: "mean",
 *   hooks: { [actName("z", 0)]: ablateHead(3) }, // zero-ablate head 0.3
 * });
 * assert.ok(Number.isFinite(ablated.loss));
 * ```
 *
 * @module
 */
export {
  ConfigError,
  configFromHf,
  configToHf,
  GPT2_SMALL,
  type GPT2Config,
  gpt2Config,
} from "./config.ts";
export {
  DEFAULT_PROCESSING,
  fromHfStateDict,
  NO_PROCESSING,
  type Processing,
  type StateDict,
  toHfStateDict,
  WeightsError,
} from "./weights.ts";
export { processWeights } from "./process_weights.ts";
export { actName, hookNames, hookShape, UnknownHookError } from "./hook_names.ts";
export { ActivationCache } from "./activation_cache.ts";
export type { TokenBatch, TokensLike } from "./tokens.ts";
export {
  type ForwardRequest,
  type ForwardResult,
  type GraphExtension,
  HookedModel,
  type MlpReplacementProvider,
  type MlpReplacements,
  type Patch,
  type Patches,
  type RunWithCacheOptions,
} from "./hooked_model.ts";
export {
  ablateFeature,
  ablateHead,
  ablatePosition,
  type AblationMode,
  type HookContext,
  type HookFunction,
  runWithHooks,
  type RunWithHooksOptions,
} from "./hook_functions.ts";
export { loadModel, type LoadModelOptions, modelFromStateDict } from "./load.ts";
export { randomStateDict } from "./random_weights.ts";

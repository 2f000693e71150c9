/**
 * Loading a GPT-2-shaped model from a folder in Hugging Face layout (`config.json` +
 * `model.safetensors`, float32, float16 or bfloat16), with TransformerLens's weight processing.
 *
 * @module
 */
import { join } from "node:path";
import { readSafetensors } from "../formats/safetensors.ts";
import type { RuntimeOptions } from "../graph/session.ts";
import { ConfigError, configFromHf, type GPT2Config } from "./config.ts";
import { HookedModel } from "./hooked_model.ts";
import { processWeights } from "./process_weights.ts";
import {
  DEFAULT_PROCESSING,
  fromHfStateDict,
  NO_PROCESSING,
  type Processing,
  type StateDict,
} from "./weights.ts";

/** Options of `loadModel`. */
export interface LoadModelOptions extends RuntimeOptions {
  /**
   * TransformerLens weight processing: all on by default (`from_pretrained`); `false` for none
   * (`from_pretrained_no_processing`); or choose each step.
   */
  processing?: Partial<Processing> | false;
}

/** Reads a folder's `config.json` as a GPT-2 config. */
export async function readHfConfig(dir: string): Promise<GPT2Config> {
  const path = join(dir, "config.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        `${path} not found: expected a Hugging Face GPT-2 folder with config.json and model.safetensors`,
      );
    }
    throw e;
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return configFromHf(json, path);
}

/**
 * Builds a hooked model from an unprocessed TransformerLens state dict (consumed: processing
 * works in place).
 */
export function modelFromStateDict(
  cfg: GPT2Config,
  sd: StateDict,
  options: LoadModelOptions = {},
): HookedModel {
  const { processing = {}, ...runtime } = options;
  const applied = processing === false
    ? NO_PROCESSING
    : processWeights(sd, cfg, { ...DEFAULT_PROCESSING, ...processing });
  return new HookedModel(cfg, sd, applied, runtime);
}

/**
 * Loads a model from a Hugging Face GPT-2-layout folder.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./load.ts";
 * const model = await loadModel("weights/tiny", { provider: "cpu" });
 * await model.loss(model.toTokens("The cat sat on the mat."));
 * ```
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<HookedModel> {
  const cfg = await readHfConfig(dir);
  const path = join(dir, "model.safetensors");
  const { tensors } = await readSafetensors(path);
  return modelFromStateDict(cfg, fromHfStateDict(tensors, cfg, path), options);
}

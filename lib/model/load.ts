/**
 * Loading a GPT-2-shaped model from a folder in Hugging Face layout (`config.json` +
 * `model.safetensors`, float32, float16 or bfloat16), with TransformerLens's weight processing.
 *
 * @module
 */
import { join } from "node:path";
import { readJsonObject } from "../formats/_input_file.ts";
import { readSafetensors } from "../formats/safetensors.ts";
import { resolveModelDir } from "../weights/locations.ts";
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

/**
 * Reads a folder's `config.json` as a GPT-2 config.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { ConfigError, configToHf, gpt2Config } from "./config.ts";
 * import { readHfConfig } from "./load.ts";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await assert.rejects(readHfConfig(dir), ConfigError); // no config.json yet
 *   const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, n_ctx: 32 });
 *   await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(configToHf(cfg)));
 *   (await readHfConfig(dir)).d_mlp; // 64
 *   assert.deepEqual(await readHfConfig(dir), cfg);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function readHfConfig(dir: string): Promise<GPT2Config> {
  const path = join(dir, "config.json");
  const json = await readJsonObject(path, (m) => new ConfigError(m), {
    notFound:
      `${path} not found: expected a Hugging Face GPT-2 folder with config.json and model.safetensors`,
  });
  return configFromHf(json, path);
}

/**
 * Builds a hooked model from an unprocessed TransformerLens state dict (consumed: processing
 * works in place).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { modelFromStateDict } from "./load.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * model.processing.fold_ln; // true: TransformerLens's processing is on by default
 * assert.equal(model.weights.has("blocks.0.ln1.w"), false); // folded
 * const tokens = [1, 2, 3, 4];
 * const loss = await model.loss(tokens); // about ln 10 = 2.30 for small random weights
 * assert.ok(Math.abs(loss - Math.log(10)) < 0.1);
 * // Processing leaves the loss unchanged.
 * const raw = modelFromStateDict(cfg, randomStateDict(cfg, 0), { processing: false });
 * assert.ok(Math.abs((await raw.loss(tokens)) - loss) < 1e-5);
 * ```
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
 * Loads a model by name (`tiny`, the embedded default; `gpt2-small`, after `deno task setup`) or
 * from a Hugging Face GPT-2-layout folder. An unknown name lists the known ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "./load.ts";
 * const model = await loadModel("tiny", { provider: "cpu" }); // the embedded model
 * model.cfg.n_layers; // 4
 * const loss = await model.loss(model.toTokens("The cat sat on the mat.")); // about 7.4 nats
 * assert.ok(loss > 0 && loss < Math.log(model.cfg.d_vocab)); // better than uniform
 * ```
 */
export async function loadModel(
  nameOrDir: string,
  options: LoadModelOptions = {},
): Promise<HookedModel> {
  const dir = await resolveModelDir(nameOrDir);
  const cfg = await readHfConfig(dir);
  const path = join(dir, "model.safetensors");
  const { tensors } = await readSafetensors(path);
  return modelFromStateDict(cfg, fromHfStateDict(tensors, cfg, path), options);
}

/**
 * Named weight sets on disk: `tiny` (the embedded default, committed in weights/tiny) and
 * `gpt2-small` (fetched by `deno task setup`), each a Hugging Face GPT-2 folder with its
 * transcoders in a `transcoders/` subfolder (SAELens-style folders or the reference's `.pt`
 * files).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nearestNames } from "../graph/hooks.ts";
import { ConfigError } from "../model/config.ts";
import { loadModel, type LoadModelOptions } from "../model/load.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import { loadTranscoderSet } from "../transcoder/load.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * The weights folder of this package.
 *
 * @example
 * ```ts
 * import { existsSync } from "node:fs";
 * import { join } from "node:path";
 * import { WEIGHTS_DIR } from "./pretrained.ts";
 * existsSync(join(WEIGHTS_DIR, "tiny", "config.json")); // true: the committed model
 * ```
 */
export const WEIGHTS_DIR: string = fileURLToPath(new URL("../../weights/", import.meta.url));

/**
 * The named weight sets and how to get each.
 *
 * @example
 * ```ts
 * import { PRETRAINED } from "./pretrained.ts";
 * Object.keys(PRETRAINED); // ["tiny", "gpt2-small"]
 * PRETRAINED["gpt2-small"].howToGet; // "run: deno task setup --model gpt2-small --transcoders gpt2-small"
 * ```
 */
export const PRETRAINED: Readonly<Record<string, { dir: string; howToGet: string }>> = {
  tiny: {
    dir: "tiny",
    howToGet: "it is committed with the repository; retrain with deno task train-model",
  },
  "gpt2-small": {
    dir: "gpt2-small",
    howToGet: "run: deno task setup --model gpt2-small --transcoders gpt2-small",
  },
};

/**
 * The folder of a model: a known name (`tiny`, `gpt2-small`) or a path. A word that is neither
 * a known name nor an existing path is refused with the known names and the nearest one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveModelDir } from "./pretrained.ts";
 * resolveModelDir("tiny").endsWith("weights/tiny"); // true
 * assert.throws(() => resolveModelDir("gpt2-smal"), {
 *   name: "ConfigError",
 *   message: 'unknown model "gpt2-smal": expected tiny, gpt2-small or the path of a Hugging Face GPT-2 folder (did you mean "gpt2-small"?)',
 * });
 * ```
 */
export function resolveModelDir(nameOrDir: string): string {
  const known = PRETRAINED[nameOrDir];
  if (!known) {
    if (!existsSync(nameOrDir) && !/[\\/.]/.test(nameOrDir)) {
      const near = nearestNames(nameOrDir, Object.keys(PRETRAINED), 1, 3)[0];
      throw new ConfigError(
        `unknown model "${nameOrDir}": expected ${
          Object.keys(PRETRAINED).join(", ")
        } or the path of a Hugging Face GPT-2 folder${near ? ` (did you mean "${near}"?)` : ""}`,
      );
    }
    return nameOrDir;
  }
  const dir = join(WEIGHTS_DIR, known.dir);
  if (!existsSync(join(dir, "config.json"))) {
    throw new ConfigError(`weights for "${nameOrDir}" are not in ${dir}: ${known.howToGet}`);
  }
  return dir;
}

/** A model with its transcoders, by layer. */
export interface Pretrained {
  model: HookedModel;
  /** Indexed by layer (`undefined` where a layer has none). */
  transcoders: (Transcoder | undefined)[];
  /** Per layer: log10 feature frequencies from the sparsity sidecars, when present. */
  logSparsity: (Tensor<"float32"> | undefined)[];
  dir: string;
}

/**
 * Loads a model and the transcoders in its `transcoders/` folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "./pretrained.ts";
 * const { model, transcoders, logSparsity } = await loadPretrained("tiny");
 * model.cfg.d_model; // 96
 * transcoders.map((t) => t?.cfg.d_sae); // [2048, 2048, 2048, 2048]: one per layer
 * logSparsity[0]?.shape; // [2048]
 * const tokens = model.toTokens("The cat sat on the mat.");
 * const clean = await model.loss(tokens) as number;
 * // the same text with MLP 1 replaced by its transcoder:
 * const mlpReplacements = new Map([[1, transcoders[1]!.asReplacement()]]);
 * const spliced = await model.loss(tokens, { mlpReplacements }) as number;
 * assert.ok(Number.isFinite(clean) && Number.isFinite(spliced));
 * ```
 */
export async function loadPretrained(
  nameOrDir = "tiny",
  options: LoadModelOptions = {},
): Promise<Pretrained> {
  const dir = resolveModelDir(nameOrDir);
  const model = await loadModel(dir, options);
  const transcoders: (Transcoder | undefined)[] = new Array(model.cfg.n_layers).fill(undefined);
  const logSparsity: (Tensor<"float32"> | undefined)[] = new Array(model.cfg.n_layers).fill(
    undefined,
  );
  const tcDir = join(dir, "transcoders");
  if (existsSync(tcDir)) {
    for (const { transcoder, logSparsity: s } of await loadTranscoderSet(tcDir, model.runtime)) {
      if (transcoder.cfg.d_in !== model.cfg.d_model) {
        throw new RangeError(
          `${tcDir}: the transcoder for layer ${transcoder.layer} has d_in ${transcoder.cfg.d_in}; the model's d_model is ${model.cfg.d_model}`,
        );
      }
      transcoders[transcoder.layer] = transcoder;
      logSparsity[transcoder.layer] = s;
    }
  }
  return { model, transcoders, logSparsity, dir };
}

/**
 * Named weight sets (locations.ts says where they live): `tiny` (the embedded default, shipped
 * with the package) and `gpt2-small` (fetched by `deno task setup`), each a Hugging Face GPT-2
 * folder with its transcoders in a `transcoders/` subfolder (SAELens-style folders or the
 * reference's `.pt` files).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadModel, type LoadModelOptions } from "../model/load.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import { loadTranscoders } from "../transcoder/load.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { resolveModelDir } from "./locations.ts";

/** A model with its transcoders, by layer. */
export interface Pretrained {
  model: HookedModel;
  /** Indexed by layer (`undefined` where a layer has none). */
  transcoders: (Transcoder | undefined)[];
  /**
   * Per layer: log10 feature frequencies from the sparsity sidecars, when present (the same
   * tensors as `transcoders[l].logSparsity`).
   */
  logSparsity: (Tensor<"float32"> | undefined)[];
  dir: string;
}

/**
 * Loads a model and the transcoders in its `transcoders/` folder (with `loadTranscoders`, on the
 * model's runtime); a model without that folder comes with no transcoders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "./pretrained.ts";
 * const { model, transcoders, logSparsity } = await loadPretrained("tiny");
 * model.cfg.d_model; // 96
 * transcoders.map((t) => t?.cfg.d_sae); // [2048, 2048, 2048, 2048]: one per layer
 * logSparsity[0]?.shape; // [2048]
 * assert.equal(logSparsity[0], transcoders[0]!.logSparsity);
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
  const dir = await resolveModelDir(nameOrDir);
  const model = await loadModel(dir, options);
  const transcoders: (Transcoder | undefined)[] = new Array(model.cfg.n_layers).fill(undefined);
  const logSparsity: (Tensor<"float32"> | undefined)[] = new Array(model.cfg.n_layers).fill(
    undefined,
  );
  const tcDir = join(dir, "transcoders");
  if (existsSync(tcDir)) {
    for (const transcoder of await loadTranscoders(dir, { runtime: model.runtime })) {
      if (transcoder.cfg.d_in !== model.cfg.d_model) {
        throw new RangeError(
          `${tcDir}: the transcoder for layer ${transcoder.layer} has d_in ${transcoder.cfg.d_in}; the model's d_model is ${model.cfg.d_model}`,
        );
      }
      transcoders[transcoder.layer] = transcoder;
      logSparsity[transcoder.layer] = transcoder.logSparsity;
    }
  }
  return { model, transcoders, logSparsity, dir };
}

/**
 * Random GPT-2 weights, deterministic from a seed, initialised as GPT-2 is (normal with
 * std 0.02, residual projections scaled by 1/sqrt(2 n_layers), LayerNorm gain 1 and bias 0).
 *
 * @module
 */
import { randn, Rng } from "../tensor/random.ts";
import { full, zeros } from "../tensor/tensor.ts";
import type { GPT2Config } from "./config.ts";
import { expectedShapes, type StateDict } from "./weights.ts";

/**
 * An unprocessed TransformerLens state dict with GPT-2's initialisation.
 *
 * @example
 * ```ts
 * import { randomStateDict } from "./random_weights.ts";
 * import { gpt2Config } from "./config.ts";
 * const sd = randomStateDict(gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 }), 0);
 * sd.get("blocks.0.attn.W_Q")?.shape; // [2, 8, 4]
 * ```
 */
export function randomStateDict(cfg: GPT2Config, seed: number, std = 0.02): StateDict {
  const rng = new Rng(seed);
  const sd: StateDict = new Map();
  const residStd = std / Math.sqrt(2 * cfg.n_layers);
  for (const [name, shape] of expectedShapes(cfg, true)) {
    if (/\.(ln1|ln2)\.w$|^ln_final\.w$/.test(name)) sd.set(name, full(shape, 1));
    else if (/\.b(_[A-Za-z]+)?$|\.b$/.test(name)) sd.set(name, zeros(shape));
    else if (name === "unembed.W_U") continue; // tied to W_E below
    else sd.set(name, randn(shape, rng, /W_O$|W_out$/.test(name) ? residStd : std));
  }
  // GPT-2 ties the unembedding to the embedding.
  const WE = sd.get("embed.W_E")!;
  const [v, d] = WE.shape;
  const WU = new Float32Array(d * v);
  for (let i = 0; i < v; i++) for (let j = 0; j < d; j++) WU[j * v + i] = WE.data[i * d + j];
  sd.set("unembed.W_U", { dtype: "float32", shape: [d, v], data: WU });
  // Keep state-dict order as expectedShapes lists it.
  const ordered: StateDict = new Map();
  for (const name of expectedShapes(cfg, true).keys()) ordered.set(name, sd.get(name)!);
  return ordered;
}

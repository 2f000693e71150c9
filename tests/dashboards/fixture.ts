/**
 * A tiny random model and random transcoders for the dashboard tests, and dense float64
 * references computed the direct way (the model's cached MLP input, the transcoder's own
 * `encode`).
 */
import { gpt2Config } from "../../lib/model/config.ts";
import type { HookedModel } from "../../lib/model/hooked_model.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { Rng } from "../../lib/tensor/random.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import type { Transcoder } from "../../lib/transcoder/transcoder.ts";
import { randomTranscoder } from "../helpers/random_transcoders.ts";

export const cfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 4, n_ctx: 12, d_vocab: 50 });
export const model: HookedModel = modelFromStateDict(cfg, randomStateDict(cfg, 7, 0.3));
export const D_SAE = 24;

/** Transcoders for layers 0..2 with random biases (b_enc shifted down: sparser features). */
export const transcoders: Transcoder[] = [0, 1, 2].map((l) =>
  randomTranscoder(l, 10 + l, { dSae: D_SAE, biasSeed: 20 + l, biasStd: 0.2, encShift: -0.4 })
);

/** Random token rows `[n, p]`. */
export function randomRows(n: number, p: number, seed: number): Tensor<"int32"> {
  const rng = new Rng(seed);
  const data = Int32Array.from({ length: n * p }, () => rng.int(cfg.d_vocab));
  return { dtype: "int32", shape: [n, p], data };
}

/** Dense activations `[n * p, d_sae]` and pre-activations of a transcoder, the direct way. */
export async function denseActs(
  tc: Transcoder,
  rows: Tensor<"int32">,
): Promise<{ z: Float32Array; pre: Float64Array; x: Float32Array }> {
  const [n, p] = rows.shape, d = cfg.d_model, S = tc.cfg.d_sae;
  const name = `blocks.${tc.layer}.ln2.hook_normalized`;
  const { cache } = await model.runWithCache(rows, { names: [name], stopAtLayer: tc.layer + 1 });
  const x = cache.get(name).data;
  const z = (await tc.encode({ dtype: "float32", shape: [n * p, d], data: x })).data;
  const pre = new Float64Array(n * p * S);
  for (let t = 0; t < n * p; t++) {
    for (let i = 0; i < S; i++) {
      let s = tc.b_enc.data[i];
      for (let k = 0; k < d; k++) s += (x[t * d + k] - tc.b_dec.data[k]) * tc.W_enc.data[k * S + i];
      pre[t * S + i] = s;
    }
  }
  return { z, pre, x };
}

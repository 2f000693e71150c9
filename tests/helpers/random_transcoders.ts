/**
 * Random transcoders for tests: Kaiming-uniform weights (as `Transcoder.random`) plus random
 * biases, so that every term of encode and decode is exercised.
 *
 * @module
 */
import { randn, Rng } from "../../lib/tensor/random.ts";
import { mlpTranscoderConfig, Transcoder } from "../../lib/transcoder/transcoder.ts";

/** Options of `randomTranscoder`. */
export interface RandomTranscoderOptions {
  /** d_in = d_out (default 16). */
  d?: number;
  /** Features (default 32). */
  dSae?: number;
  /** Standard deviation of b_enc, b_dec and b_dec_out (default 0.1). */
  biasStd?: number;
  /** Seed of the biases (default: the weights' seed + 10). */
  biasSeed?: number;
  /** Added to every b_enc entry (negative: sparser features; default 0). */
  encShift?: number;
}

/**
 * A random transcoder replacing the MLP of `layer`.
 *
 * @example
 * ```ts
 * import { randomTranscoder } from "./random_transcoders.ts";
 * randomTranscoder(1, 0, { dSae: 8 }).cfg.hook_name; // "blocks.1.ln2.hook_normalized"
 * ```
 */
export function randomTranscoder(
  layer: number,
  seed: number,
  { d = 16, dSae = 32, biasStd = 0.1, biasSeed = seed + 10, encShift = 0 }:
    RandomTranscoderOptions = {},
): Transcoder {
  const tc = Transcoder.random(mlpTranscoderConfig(layer, { d_in: d, d_sae: dSae }), seed);
  const rng = new Rng(biasSeed);
  for (const n of ["b_enc", "b_dec", "b_dec_out"] as const) {
    tc.params.get(n)!.data.set(randn(tc.params.get(n)!.shape, rng, biasStd).data);
  }
  if (encShift !== 0) tc.b_enc.data.forEach((v, i, a) => (a[i] = v + encShift));
  return tc;
}

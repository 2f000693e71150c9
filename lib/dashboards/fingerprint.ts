/**
 * Cheap fingerprints of weight tensors, so that saved statistics can tell whether they were
 * computed with the same transcoder and model (merging or reusing stats of another one is an
 * error, not a silent mix).
 *
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";

/**
 * A 64-bit hex fingerprint (two FNV-1a streams) of tensors' shapes and of up to `samples`
 * evenly spaced values of each (their float32 bit patterns).
 *
 * @example
 * ```ts
 * import { tensorFingerprint } from "./fingerprint.ts";
 * const t = { dtype: "float32" as const, shape: [2], data: new Float32Array([1, 2]) };
 * tensorFingerprint([t]).length; // 16
 * ```
 */
export function tensorFingerprint(tensors: readonly Tensor<"float32">[], samples = 4096): string {
  let h1 = 0x811c9dc5, h2 = 0x01000193 ^ 0x5bd1e995;
  const mix = (x: number) => {
    h1 = Math.imul(h1 ^ (x & 0xffff), 0x01000193) >>> 0;
    h1 = Math.imul(h1 ^ (x >>> 16), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ x, 0x5bd1e995) >>> 0;
    h2 = (h2 ^ (h2 >>> 13)) >>> 0;
  };
  const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
  for (const t of tensors) {
    mix(t.shape.length);
    for (const d of t.shape) mix(d);
    const n = t.data.length;
    const step = Math.max(1, Math.floor(n / samples));
    for (let i = 0; i < n; i += step) {
      f[0] = t.data[i];
      mix(bits[0]);
    }
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

/**
 * Activation-band samples kept in flat arrays: each (feature, bucket) slot keeps the `R` tokens
 * with the smallest pseudo-random priority `bandPriority(feature, token, seed)` among those
 * offered, a uniform sample without replacement (bottom-k sampling) that, unlike a reservoir,
 * does not depend on the order or sharding of the rows: partial results merge exactly. Slot `s`
 * holds `size[s]` samples in `values`, `tokens` and `priority` at `s*R .. s*R+R-1`.
 *
 * @module
 */

/** The flat arrays of the samples: `size` `[slots]`; `values`, `tokens`, `priority` `[slots, R]`. */
export interface BandSamples {
  R: number;
  size: Int32Array;
  values: Float32Array;
  tokens: Float64Array;
  priority: Uint32Array;
}

/**
 * The pseudo-random priority of (feature, token) for band sampling (32 bits).
 *
 * @example
 * ```ts
 * import { bandPriority } from "./_band_sampler.ts";
 * import assert from "node:assert/strict";
 * bandPriority(3, 17, 0); // 2262402890
 * assert.equal(bandPriority(3, 17, 0), 2262402890); // a pure function: the same on every shard
 * assert.notEqual(bandPriority(3, 17, 1), bandPriority(3, 17, 0)); // the seed changes it
 * ```
 */
export function bandPriority(feature: number, token: number, seed: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ feature, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h ^ (token >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h ^ Math.floor(token / 4294967296), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Offers a sample to a slot: kept while the slot has room, or when it beats the worst kept. */
export function pushBand(
  b: BandSamples,
  slot: number,
  value: number,
  token: number,
  priority: number,
): void {
  const R = b.R, base = slot * R;
  const n = b.size[slot];
  if (n < R) {
    b.values[base + n] = value;
    b.tokens[base + n] = token;
    b.priority[base + n] = priority;
    b.size[slot] = n + 1;
    return;
  }
  let worst = base;
  for (let j = base + 1; j < base + R; j++) {
    const pj = b.priority[j], pw = b.priority[worst];
    if (pj > pw || (pj === pw && b.tokens[j] > b.tokens[worst])) worst = j;
  }
  const pw = b.priority[worst];
  if (priority < pw || (priority === pw && token < b.tokens[worst])) {
    b.values[worst] = value;
    b.tokens[worst] = token;
    b.priority[worst] = priority;
  }
}

/**
 * Seeded randomness for the fuzzer: the project's {@linkcode Rng} (lib/tensor/random.ts) plus the
 * few draws the mutators need, and the per-input seed that makes every input of a campaign
 * reproducible on its own from (campaign seed, parser, input index).
 *
 * @module
 */
import { Rng } from "../../lib/tensor/random.ts";

export { Rng };

/**
 * The seed of input `index` of `parser`'s campaign: FNV-1a over the parser's name, mixed with the
 * campaign seed and the index, so input 1234 can be regenerated without generating 0..1233.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inputSeed } from "./rng.ts";
 * assert.equal(inputSeed(1, "zip", 7), inputSeed(1, "zip", 7));
 * assert.notEqual(inputSeed(1, "zip", 7), inputSeed(1, "pickle", 7));
 * ```
 */
export function inputSeed(campaignSeed: number, parser: string, index: number): number {
  let h = 0x811c9dc5;
  for (const c of `${parser}:${campaignSeed >>> 0}:${index}`) {
    h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  }
  return h;
}

/**
 * One item of a non-empty list, uniformly.
 *
 * @example
 * ```ts
 * import { pick, Rng } from "./rng.ts";
 * pick(new Rng(3), ["a", "b", "c"]); // one of them
 * ```
 */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError("pick from an empty list");
  return items[rng.int(items.length)];
}

/**
 * An item of a non-empty list with probability proportional to its `weight`.
 *
 * @example
 * ```ts
 * import { pickWeighted, Rng } from "./rng.ts";
 * pickWeighted(new Rng(0), [{ weight: 9, v: "often" }, { weight: 1, v: "rarely" }]).v;
 * ```
 */
export function pickWeighted<T extends { weight: number }>(rng: Rng, items: readonly T[]): T {
  const total = items.reduce((s, x) => s + x.weight, 0);
  let r = rng.uniform() * total;
  for (const x of items) {
    r -= x.weight;
    if (r < 0) return x;
  }
  return items[items.length - 1];
}

/**
 * True with probability `p`.
 *
 * @example
 * ```ts
 * import { chance, Rng } from "./rng.ts";
 * chance(new Rng(0), 1); // true
 * ```
 */
export function chance(rng: Rng, p: number): boolean {
  return rng.uniform() < p;
}

/**
 * `n` uniformly random bytes.
 *
 * @example
 * ```ts
 * import { randomBytes, Rng } from "./rng.ts";
 * randomBytes(new Rng(0), 4).length; // 4
 * ```
 */
export function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.nextUint32() & 0xff;
  return out;
}

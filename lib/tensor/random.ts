/**
 * A small seeded random number generator, so that random weights, shuffles and samples are
 * reproducible across runs and machines.
 *
 * @module
 */
import { sizeOf, type Tensor } from "./tensor.ts";

/**
 * A seeded generator (SplitMix32 mixing of a Weyl sequence): fast, deterministic, good enough
 * for initialisation and shuffling, not for cryptography.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const rng = new Rng(42);
 * const u = rng.uniform(); // in [0, 1)
 * ```
 */
export class Rng {
  #state: number;
  #spare: number | undefined;

  constructor(seed: number) {
    this.#state = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform number in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5, lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    if (this.#spare !== undefined) {
      const s = this.#spare;
      this.#spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Shuffles an array in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

/**
 * A float32 tensor of normal samples with the given standard deviation.
 *
 * @example
 * ```ts
 * import { randn, Rng } from "./random.ts";
 * const w = randn([4, 8], new Rng(0), 0.02); // shape [4, 8]
 * ```
 */
export function randn(shape: readonly number[], rng: Rng, std = 1): Tensor<"float32"> {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return { dtype: "float32", shape: [...shape], data };
}

/**
 * A float32 tensor of uniform samples in [low, high).
 *
 * @example
 * ```ts
 * import { randu, Rng } from "./random.ts";
 * const w = randu([3], new Rng(1), -1, 1);
 * ```
 */
export function randu(shape: readonly number[], rng: Rng, low = 0, high = 1): Tensor<"float32"> {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.uniform();
  return { dtype: "float32", shape: [...shape], data };
}

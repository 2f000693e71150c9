/**
 * Format-blind mutations of a byte string (bit flips, boundary values, truncation, chunk
 * duplication, deletion and insertion, splicing with another seed) and the {@linkcode Mutator}
 * shape every mutator of the fuzzer has, format-aware ones included.
 *
 * @module
 */
import { chance, pick, pickWeighted, randomBytes, type Rng } from "./rng.ts";

/**
 * A mutation's result: the new bytes; `undefined` when the mutator does not apply (the bytes are
 * not in the format it understands), so another is tried; `null` to delete the file.
 */
export type MutationResult = Uint8Array | null | undefined;

/** A named mutation of one file's bytes; `donor` is the same file of another seed. */
export interface Mutator {
  name: string;
  /** Relative frequency among the mutators of a file. */
  weight: number;
  apply(bytes: Uint8Array, rng: Rng, donor: Uint8Array): MutationResult;
}

/**
 * Concatenates byte strings.
 *
 * @example
 * ```ts
 * import { concat } from "./byte_mutators.ts";
 * concat(new Uint8Array([1]), new Uint8Array([2, 3])); // Uint8Array [1, 2, 3]
 * ```
 */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Writes the low `width` bytes of `value` at `offset` (clipped at the end of `bytes`).
 *
 * @example
 * ```ts
 * import { writeInt } from "./byte_mutators.ts";
 * const b = new Uint8Array(4);
 * writeInt(b, 0, 4, 0x01020304n);
 * b; // Uint8Array [4, 3, 2, 1]
 * ```
 */
export function writeInt(
  bytes: Uint8Array,
  offset: number,
  width: number,
  value: bigint,
  littleEndian = true,
): void {
  let v = BigInt.asUintN(8 * width, value);
  for (let i = 0; i < width; i++) {
    const at = offset + (littleEndian ? i : width - 1 - i);
    if (at >= 0 && at < bytes.length) bytes[at] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/**
 * An integer that tends to break length and offset checks for a field of `width` bytes: 0, 1,
 * the unsigned and signed extremes and their neighbours, powers of two, or one of `near` (the
 * field's own value, say) plus or minus a little.
 *
 * @example
 * ```ts
 * import { boundaryValue } from "./byte_mutators.ts";
 * import { Rng } from "./rng.ts";
 * typeof boundaryValue(new Rng(1), 4, [100]); // "bigint"
 * ```
 */
export function boundaryValue(rng: Rng, width: number, near: readonly number[] = []): bigint {
  const bits = 8 * width;
  if (near.length && chance(rng, 0.4)) {
    const base = BigInt(Math.trunc(pick(rng, near)));
    return BigInt.asUintN(bits, base + BigInt(pick(rng, [-8, -2, -1, 1, 2, 8, 4096])));
  }
  const max = (1n << BigInt(bits)) - 1n;
  const half = 1n << BigInt(bits - 1);
  const values = [0n, 1n, 2n, max, max - 1n, half, half - 1n, half + 1n];
  if (bits > 8) values.push(0xffn, 0x100n, 0x7fn, 0x80n);
  if (bits > 16) values.push(0xffffn, 0x10000n, 1n << 24n);
  if (bits > 32) values.push(0xffffffffn, 1n << 32n, 1n << 53n, (1n << 53n) + 1n, 1n << 40n);
  if (chance(rng, 0.2)) return BigInt.asUintN(bits, 1n << BigInt(rng.int(bits)));
  return pick(rng, values);
}

/** A random chunk `[start, end)` of a string of `len` bytes, usually short. */
export function randomChunk(rng: Rng, len: number): [number, number] {
  if (len === 0) return [0, 0];
  const n = 1 + rng.int(Math.min(len, pick(rng, [1, 4, 16, 64, 512, len])));
  const start = rng.int(len - n + 1);
  return [start, start + n];
}

const cut = (b: Uint8Array, start: number, end: number) =>
  concat(b.subarray(0, start), b.subarray(end));
const insertAt = (b: Uint8Array, at: number, piece: Uint8Array) =>
  concat(b.subarray(0, at), piece, b.subarray(at));

/**
 * The generic mutators, for any file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BYTE_MUTATORS } from "./byte_mutators.ts";
 * import { Rng } from "./rng.ts";
 * const seed = new Uint8Array(32).fill(7);
 * for (const m of BYTE_MUTATORS) assert.ok(m.apply(seed, new Rng(1), seed) instanceof Uint8Array, m.name);
 * ```
 */
export const BYTE_MUTATORS: readonly Mutator[] = [
  {
    name: "bytes.bit-flip",
    weight: 3,
    apply(b, rng) {
      const out = b.slice();
      for (let n = 1 + rng.int(4); n > 0 && out.length; n--) {
        out[rng.int(out.length)] ^= 1 << rng.int(8);
      }
      return out;
    },
  },
  {
    name: "bytes.boundary",
    weight: 3,
    apply(b, rng) {
      const out = b.slice();
      const width = pick(rng, [1, 2, 4, 8]);
      writeInt(out, rng.int(out.length + 1), width, boundaryValue(rng, width), !chance(rng, 0.2));
      return out;
    },
  },
  {
    name: "bytes.random",
    weight: 1,
    apply(b, rng) {
      const out = b.slice();
      const [s, e] = randomChunk(rng, out.length);
      out.set(randomBytes(rng, Math.min(e - s, 8)), s);
      return out;
    },
  },
  {
    name: "bytes.truncate",
    weight: 2,
    apply: (b, rng) =>
      b.slice(
        0,
        chance(rng, 0.5) ? rng.int(b.length + 1) : Math.max(0, b.length - 1 - rng.int(16)),
      ),
  },
  {
    name: "chunk.duplicate",
    weight: 2,
    apply(b, rng) {
      const [s, e] = randomChunk(rng, b.length);
      const piece = b.slice(s, e);
      return insertAt(
        b,
        chance(rng, 0.5) ? e : rng.int(b.length + 1),
        chance(rng, 0.2) ? concat(piece, piece, piece) : piece,
      );
    },
  },
  {
    name: "chunk.delete",
    weight: 2,
    apply(b, rng) {
      const [s, e] = randomChunk(rng, b.length);
      return cut(b, s, e);
    },
  },
  {
    name: "chunk.insert",
    weight: 1,
    apply(b, rng) {
      const n = 1 + rng.int(pick(rng, [4, 64, 1024]));
      const piece = chance(rng, 0.5)
        ? randomBytes(rng, n)
        : new Uint8Array(n).fill(pick(rng, [0, 0xff, 0x20]));
      return insertAt(b, rng.int(b.length + 1), piece);
    },
  },
  {
    name: "splice",
    weight: 1,
    apply(b, rng, donor) {
      if (chance(rng, 0.5)) {
        return concat(
          b.subarray(0, rng.int(b.length + 1)),
          donor.subarray(rng.int(donor.length + 1)),
        );
      }
      const [s, e] = randomChunk(rng, donor.length);
      return insertAt(b, rng.int(b.length + 1), donor.slice(s, e));
    },
  },
];

/**
 * Applies one mutator of `mutators` (by weight) to `bytes`; when it does not apply (or cannot
 * take the bytes apart), a generic one.
 * Returns the mutator's name and its result.
 *
 * @example
 * ```ts
 * import { BYTE_MUTATORS, mutateOnce } from "./byte_mutators.ts";
 * import { Rng } from "./rng.ts";
 * const { name, bytes } = mutateOnce(BYTE_MUTATORS, new Uint8Array(8), new Rng(2), new Uint8Array(8));
 * name.length > 0; // true
 * ```
 */
export function mutateOnce(
  mutators: readonly Mutator[],
  bytes: Uint8Array,
  rng: Rng,
  donor: Uint8Array,
): { name: string; bytes: Uint8Array | null } {
  const m = pickWeighted(rng, mutators);
  let out: MutationResult;
  try {
    out = m.apply(bytes, rng, donor);
  } catch {
    out = undefined; // an earlier mutation made the file too odd for this mutator to take apart
  }
  if (out !== undefined) return { name: m.name, bytes: out };
  const g = pickWeighted(rng, BYTE_MUTATORS);
  return { name: g.name, bytes: g.apply(bytes, rng, donor) as Uint8Array };
}

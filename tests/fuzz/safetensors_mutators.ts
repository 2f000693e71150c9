/**
 * Mutations that know the safetensors layout (an 8-byte little-endian header length, a JSON
 * header of `{dtype, shape, data_offsets}` entries and `__metadata__`, then the data): the header
 * length rewritten, header values replaced, offsets swapped or shifted, dtypes and shapes
 * changed, entries dropped, added or written twice, the data area cut or extended, each file
 * re-serialised with its header length updated. {@linkcode tensorMutator} works a level up, on
 * the tensors, for the loaders that read safetensors (a wrong-rank `lm_head.weight`, say).
 *
 * @module
 */
import { parseSafetensors, serializeSafetensors } from "../../lib/formats/safetensors.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { boundaryValue, concat, type Mutator, writeInt } from "./byte_mutators.ts";
import { INTERESTING_JSON, mutateJson } from "./json_mutators.ts";
import { chance, pick, type Rng } from "./rng.ts";

/** A safetensors file taken apart, without any validation of its entries. */
export interface SafetensorsParts {
  header: Record<string, unknown>;
  data: Uint8Array;
}

/**
 * Splits safetensors bytes into the JSON header and the data; `undefined` when the header length
 * or the JSON is unreadable.
 *
 * @example
 * ```ts
 * import { serializeSafetensors } from "../../lib/formats/safetensors.ts";
 * import { splitSafetensors } from "./safetensors_mutators.ts";
 * const bytes = serializeSafetensors({ w: { dtype: "float32", shape: [1], data: new Float32Array(1) } });
 * splitSafetensors(bytes)?.data.length; // 4
 * ```
 */
export function splitSafetensors(bytes: Uint8Array): SafetensorsParts | undefined {
  if (bytes.length < 8) return undefined;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) return undefined;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(n))));
    if (typeof header !== "object" || header === null || Array.isArray(header)) return undefined;
    return { header, data: bytes.subarray(8 + Number(n)) };
  } catch {
    return undefined;
  }
}

/**
 * Joins a header (an object, or JSON text or bytes as they are) and data into safetensors bytes, the header
 * length set to the header's size.
 *
 * @example
 * ```ts
 * import { parseSafetensors } from "../../lib/formats/safetensors.ts";
 * import { joinSafetensors } from "./safetensors_mutators.ts";
 * const bytes = joinSafetensors({ w: { dtype: "I32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
 * parseSafetensors(bytes).tensors.get("w")?.data; // Int32Array [0]
 * ```
 */
export function joinSafetensors(
  header: object | string | Uint8Array,
  data: Uint8Array,
): Uint8Array {
  const head = header instanceof Uint8Array
    ? header
    : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const len = new Uint8Array(8);
  writeInt(len, 0, 8, BigInt(head.length));
  return concat(len, head, data);
}

type Entry = { dtype?: unknown; shape?: unknown; data_offsets?: unknown };

const tensorNames = (h: Record<string, unknown>) =>
  Object.keys(h).filter((k) => k !== "__metadata__");

/** A mutator of the parts of a well-formed file; not applicable to other bytes. */
function onParts(
  name: string,
  weight: number,
  f: (p: SafetensorsParts, rng: Rng, names: string[]) => object | string | undefined,
): Mutator {
  return {
    name: `safetensors.${name}`,
    weight,
    apply(bytes, rng) {
      const parts = splitSafetensors(bytes);
      if (!parts) return undefined;
      const names = tensorNames(parts.header);
      const out = f(parts, rng, names);
      return out === undefined ? undefined : joinSafetensors(out, parts.data);
    },
  };
}

function entryOf(h: Record<string, unknown>, names: string[], rng: Rng): Entry | undefined {
  if (!names.length) return undefined;
  const e = h[pick(rng, names)];
  return typeof e === "object" && e !== null ? e as Entry : undefined;
}

/**
 * The safetensors-aware mutators.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serializeSafetensors } from "../../lib/formats/safetensors.ts";
 * import { Rng } from "./rng.ts";
 * import { SAFETENSORS_MUTATORS } from "./safetensors_mutators.ts";
 * const seed = serializeSafetensors({ w: { dtype: "float32", shape: [2], data: new Float32Array(2) } });
 * for (const m of SAFETENSORS_MUTATORS) assert.ok(m.apply(seed, new Rng(4), seed) !== null, m.name);
 * ```
 */
export const SAFETENSORS_MUTATORS: readonly Mutator[] = [
  {
    name: "safetensors.header-length",
    weight: 2,
    apply(bytes, rng) {
      if (bytes.length < 8) return undefined;
      const out = bytes.slice();
      const n = Number(new DataView(out.buffer).getBigUint64(0, true));
      writeInt(out, 0, 8, boundaryValue(rng, 8, [n, out.length, out.length - 8, 100_000_000]));
      return out;
    },
  },
  onParts(
    "header-json",
    4,
    (p, rng) => mutateJson(p.header, rng, ["dtype", "shape", "data_offsets", "__metadata__"]),
  ),
  onParts("offsets", 3, (p, rng, names) => {
    const e = entryOf(p.header, names, rng);
    if (!e || !Array.isArray(e.data_offsets)) return undefined;
    const [b, end] = e.data_offsets as number[];
    const other = entryOf(p.header, names, rng);
    const d = pick(rng, [1, -1, 2, 4, -4, 8, p.data.length]);
    e.data_offsets = pick(rng, [
      [end, b],
      [b + d, end + d],
      [b, end + d],
      [b + d, end],
      [b, b],
      [0, p.data.length],
      other?.data_offsets ?? [b, end],
      [b, 2 ** 53],
      [-0, end],
      [b],
      [b, end, end],
    ]);
    if (other && other !== e && chance(rng, 0.3)) {
      [e.data_offsets, other.data_offsets] = [other.data_offsets, e.data_offsets];
    }
    return p.header;
  }),
  onParts("dtype", 2, (p, rng, names) => {
    const e = entryOf(p.header, names, rng);
    if (!e) return undefined;
    e.dtype = pick(rng, [
      "F32",
      "F16",
      "BF16",
      "I32",
      "I64",
      "F64",
      "U8",
      "BOOL",
      "I8",
      "f32",
      "",
      null,
      4,
    ]);
    return p.header;
  }),
  onParts("shape", 3, (p, rng, names) => {
    const e = entryOf(p.header, names, rng);
    if (!e || !Array.isArray(e.shape)) return undefined;
    const shape = [...e.shape] as unknown[];
    const i = rng.int(shape.length + 1);
    switch (rng.int(5)) {
      case 0:
        shape[i] = pick(rng, [
          0,
          -1,
          2 ** 31,
          2 ** 32,
          2 ** 53,
          2 ** 53 + 2,
          1e300,
          1.5,
          "2",
          null,
        ]);
        break;
      case 1:
        shape.push(pick(rng, [1, 0, 2 ** 31]));
        break;
      case 2:
        shape.pop();
        break;
      case 3:
        shape.reverse();
        break;
      case 4:
        e.shape = pick(rng, [[], [0], 8, "8", null, {}, Array(64).fill(1)]);
        return p.header;
    }
    e.shape = shape;
    return p.header;
  }),
  onParts("entries", 3, (p, rng, names) => {
    const h = p.header;
    const name = names.length ? pick(rng, names) : "w";
    switch (rng.int(5)) {
      case 0:
        delete h[name];
        break;
      case 1:
        h[`${name}.copy`] = structuredClone(h[name]); // the same bytes twice: an overlap
        break;
      case 2:
        h["empty"] = { dtype: "F32", shape: [0], data_offsets: [p.data.length, p.data.length] };
        break;
      case 3:
        h.__metadata__ = pick(rng, [
          { k: 1 },
          "x",
          ["a"],
          null,
          { k: { n: "x" } },
          {},
          JSON.parse('{"__proto__": "x"}'),
        ]);
        break;
      case 4:
        h[name] = structuredClone(pick(rng, INTERESTING_JSON));
        break;
    }
    return h;
  }),
  onParts("duplicate-key", 1, (p, rng, names) => {
    if (!names.length) return undefined;
    const name = pick(rng, names);
    const text = JSON.stringify(p.header);
    const copy = chance(rng, 0.5)
      ? p.header[name]
      : { dtype: "F32", shape: [1], data_offsets: [0, 4] };
    return `{${JSON.stringify(name)}:${JSON.stringify(copy)},${text.slice(1)}`;
  }),
  {
    name: "safetensors.data",
    weight: 2,
    apply(bytes, rng) {
      const p = splitSafetensors(bytes);
      if (!p) return undefined;
      const data = chance(rng, 0.5)
        ? p.data.subarray(0, rng.int(p.data.length + 1))
        : concat(p.data, new Uint8Array(1 + rng.int(16)));
      return joinSafetensors(p.header, data);
    },
  },
  {
    name: "safetensors.header-text",
    weight: 1,
    apply(bytes, rng) {
      const p = splitSafetensors(bytes);
      if (!p) return undefined;
      const text = JSON.stringify(p.header);
      const head = new TextEncoder().encode(text);
      const notUtf8 = concat(head.subarray(0, 2), new Uint8Array([0xff, 0xc0]), head.subarray(2));
      return joinSafetensors(
        pick(rng, [
          `\ufeff${text}`,
          `${text}\u0000\u0000`,
          `  ${text}    `,
          `${text}${text}`,
          text.slice(0, -1),
          notUtf8,
        ]),
        p.data,
      );
    },
  },
];

/** Random tensor shapes and values for {@linkcode tensorMutator}. */
function randomTensor(rng: Rng): Tensor {
  const shape = Array.from({ length: rng.int(4) }, () => pick(rng, [0, 1, 2, 3, 8, 16]));
  const n = shape.reduce((a, b) => a * b, 1);
  const kind = pick(rng, ["float32", "float32", "int32", "int64"] as const);
  if (kind === "int32") return { dtype: kind, shape, data: new Int32Array(n).fill(-1) };
  if (kind === "int64") return { dtype: kind, shape, data: new BigInt64Array(n).fill(-1n) };
  return {
    dtype: kind,
    shape,
    data: new Float32Array(n).fill(pick(rng, [0, 1, NaN, Infinity, -1e38])),
  };
}

/**
 * A mutator of the tensors of a safetensors file that a loader reads: a tensor added under one
 * of `names` (any dtype and rank), dropped, renamed, reshaped, converted to an integer dtype or
 * filled with NaN, the file then written again as F32, F16 or BF16.
 *
 * @example
 * ```ts
 * import { serializeSafetensors } from "../../lib/formats/safetensors.ts";
 * import { Rng } from "./rng.ts";
 * import { tensorMutator } from "./safetensors_mutators.ts";
 * const seed = serializeSafetensors({ "wte.weight": { dtype: "float32", shape: [2, 2], data: new Float32Array(4) } });
 * tensorMutator(["lm_head.weight"]).apply(seed, new Rng(0), seed) instanceof Uint8Array; // true
 * ```
 */
export function tensorMutator(names: readonly string[], weight = 4): Mutator {
  return {
    name: "safetensors.tensors",
    weight,
    apply(bytes, rng) {
      let tensors: Map<string, Tensor>;
      try {
        tensors = parseSafetensors(bytes).tensors;
      } catch {
        return undefined;
      }
      const keys = [...tensors.keys()];
      const key = keys.length ? pick(rng, keys) : pick(rng, names);
      const t = tensors.get(key);
      switch (rng.int(6)) {
        case 0:
          tensors.set(pick(rng, names), randomTensor(rng));
          break;
        case 1:
          tensors.delete(key);
          break;
        case 2:
          if (t) {
            tensors.delete(key);
            tensors.set(pick(rng, names), t);
          }
          break;
        case 3:
          if (t) {
            const shape = pick(rng, [[...t.shape].reverse(), [t.data.length], [...t.shape, 1], [
              1,
              ...t.shape,
            ]]);
            tensors.set(key, { ...t, shape } as Tensor);
          }
          break;
        case 4:
          if (t && t.dtype === "float32") {
            tensors.set(key, {
              dtype: "int32",
              shape: t.shape,
              data: Int32Array.from(t.data as Float32Array),
            });
          }
          break;
        case 5:
          if (t && t.dtype === "float32") {
            (t.data as Float32Array).fill(pick(rng, [NaN, Infinity, -0, 3.4e38]));
          }
          break;
      }
      return serializeSafetensors(tensors, {
        floatDtype: pick(rng, ["F32", "F16", "BF16"] as const),
      });
    },
  };
}

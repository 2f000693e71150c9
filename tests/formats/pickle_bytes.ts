/**
 * Test helpers: hand-built pickle byte sequences and zip checkpoints around them.
 */
import { zipSync } from "fflate";

/** A piece of a pickle: one byte, a list of bytes, or a byte array. */
export type Piece = number | readonly number[] | Uint8Array;

/** Concatenates pieces into pickle bytes. */
export function pk(...pieces: Piece[]): Uint8Array {
  const out: number[] = [];
  for (const p of pieces) {
    if (typeof p === "number") out.push(p);
    else for (const b of p) out.push(b);
  }
  return Uint8Array.from(out);
}

const enc = new TextEncoder();
/** Little-endian unsigned integer of `n` bytes. */
export const le = (v: number | bigint, n: number): number[] => {
  let x = BigInt(v);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
};
/** `BINUNICODE` of a string. */
export const uni = (s: string): number[] => {
  const b = enc.encode(s);
  return [0x58, ...le(b.length, 4), ...b];
};
/** `SHORT_BINUNICODE` of a string. */
export const suni = (s: string): number[] => {
  const b = enc.encode(s);
  return [0x8c, b.length, ...b];
};
/** `GLOBAL module\nname\n`. */
export const glob = (module: string, name: string): number[] => [
  0x63,
  ...enc.encode(module),
  0x0a,
  ...enc.encode(name),
  0x0a,
];
/** `BININT1` (0..255). */
export const k = (v: number): number[] => [0x4b, v];

/** Opcode bytes used in tests. */
export const O = {
  PROTO2: [0x80, 2],
  MARK: 0x28,
  STOP: 0x2e,
  NONE: 0x4e,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  EMPTY_DICT: 0x7d,
  EMPTY_LIST: 0x5d,
  SETITEM: 0x73,
  SETITEMS: 0x75,
  REDUCE: 0x52,
  BUILD: 0x62,
  NEWOBJ: 0x81,
  BINPERSID: 0x51,
  NEWFALSE: 0x89,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
} as const;

/** `collections.OrderedDict()`. */
export const orderedDict = (): number[] => [
  ...glob("collections", "OrderedDict"),
  O.EMPTY_TUPLE,
  O.REDUCE,
];

/** `tuple(ints)` of small non-negative ints. */
export const intTuple = (xs: number[]): number[] => [O.MARK, ...xs.flatMap(k), O.TUPLE];

/** `_rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict())`. */
export function tensorPickle(
  key: string,
  numel: number,
  offset: number,
  size: number[],
  stride: number[],
  storage = "FloatStorage",
): number[] {
  return [
    ...glob("torch._utils", "_rebuild_tensor_v2"),
    O.MARK,
    O.MARK,
    ...uni("storage"),
    ...glob("torch", storage),
    ...uni(key),
    ...uni("cpu"),
    ...k(numel),
    O.TUPLE,
    O.BINPERSID,
    ...k(offset),
    ...intTuple(size),
    ...intTuple(stride),
    O.NEWFALSE,
    ...orderedDict(),
    O.TUPLE,
    O.REDUCE,
  ];
}

/** A protocol-2 pickle of `{name: tensor, ...}` from tensor pickles. */
export function dictPickle(entries: [string, number[]][]): Uint8Array {
  return pk(
    O.PROTO2,
    O.EMPTY_DICT,
    O.MARK,
    ...entries.flatMap(([n, t]) => [uni(n), t]),
    O.SETITEMS,
    O.STOP,
  );
}

/** A torch.save-style zip: `<prefix>/data.pkl`, `<prefix>/data/<key>` and `<prefix>/version`. */
export function checkpointZip(
  pickle: Uint8Array,
  storages: Record<string, Uint8Array>,
  prefix = "archive",
  extra: Record<string, Uint8Array> = {},
): Uint8Array {
  const files: Record<string, Uint8Array> = {
    [`${prefix}/data.pkl`]: pickle,
    [`${prefix}/version`]: enc.encode("3\n"),
    ...extra,
  };
  for (const [key, b] of Object.entries(storages)) files[`${prefix}/data/${key}`] = b;
  return zipSync(files, { level: 0 });
}

/** Float32 values as little-endian bytes. */
export const f32Bytes = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);

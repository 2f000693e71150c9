/**
 * Mutations that know the pickle opcodes: the bytes are walked opcode by opcode (a table of each
 * opcode's argument layout), and opcodes are deleted, duplicated, swapped, replaced or inserted
 * at opcode boundaries; length prefixes (`BINUNICODE`, `BINBYTES`, `LONG4`, ...) and integer
 * arguments get boundary values; memo references (`BINGET`, `LONG_BINGET`) name existing and
 * missing entries; and whole constructs are inserted: containers nested 100,000 deep, lists and
 * dicts that contain themselves, a memo DAG that doubles at each level ("billion laughs"),
 * unbalanced `MARK`s, early `STOP`s and globals, allowed or not, called with arguments.
 *
 * @module
 */
import { boundaryValue, concat, type Mutator, writeInt } from "./byte_mutators.ts";
import { chance, pick, randomBytes, type Rng } from "./rng.ts";

/** How an opcode's argument is laid out. */
type ArgKind =
  | "none"
  | "u1"
  | "u2"
  | "i4"
  | "u4"
  | "u8"
  | "f8"
  | "len1"
  | "len4"
  | "len8"
  | "line"
  | "line2";

/** The opcodes (protocols 0-5) with their argument layouts. */
const OPS: Readonly<Record<string, readonly [number, ArgKind]>> = {
  MARK: [0x28, "none"],
  STOP: [0x2e, "none"],
  POP: [0x30, "none"],
  POP_MARK: [0x31, "none"],
  DUP: [0x32, "none"],
  FLOAT: [0x46, "line"],
  INT: [0x49, "line"],
  BININT: [0x4a, "i4"],
  BININT1: [0x4b, "u1"],
  LONG: [0x4c, "line"],
  BININT2: [0x4d, "u2"],
  NONE: [0x4e, "none"],
  PERSID: [0x50, "line"],
  BINPERSID: [0x51, "none"],
  REDUCE: [0x52, "none"],
  STRING: [0x53, "line"],
  BINSTRING: [0x54, "len4"],
  SHORT_BINSTRING: [0x55, "len1"],
  UNICODE: [0x56, "line"],
  BINUNICODE: [0x58, "len4"],
  APPEND: [0x61, "none"],
  BUILD: [0x62, "none"],
  GLOBAL: [0x63, "line2"],
  DICT: [0x64, "none"],
  EMPTY_DICT: [0x7d, "none"],
  APPENDS: [0x65, "none"],
  GET: [0x67, "line"],
  BINGET: [0x68, "u1"],
  INST: [0x69, "line2"],
  LONG_BINGET: [0x6a, "u4"],
  LIST: [0x6c, "none"],
  EMPTY_LIST: [0x5d, "none"],
  OBJ: [0x6f, "none"],
  PUT: [0x70, "line"],
  BINPUT: [0x71, "u1"],
  LONG_BINPUT: [0x72, "u4"],
  SETITEM: [0x73, "none"],
  TUPLE: [0x74, "none"],
  EMPTY_TUPLE: [0x29, "none"],
  SETITEMS: [0x75, "none"],
  BINFLOAT: [0x47, "f8"],
  PROTO: [0x80, "u1"],
  NEWOBJ: [0x81, "none"],
  EXT1: [0x82, "u1"],
  EXT2: [0x83, "u2"],
  EXT4: [0x84, "u4"],
  TUPLE1: [0x85, "none"],
  TUPLE2: [0x86, "none"],
  TUPLE3: [0x87, "none"],
  NEWTRUE: [0x88, "none"],
  NEWFALSE: [0x89, "none"],
  LONG1: [0x8a, "len1"],
  LONG4: [0x8b, "len4"],
  BINBYTES: [0x42, "len4"],
  SHORT_BINBYTES: [0x43, "len1"],
  SHORT_BINUNICODE: [0x8c, "len1"],
  BINUNICODE8: [0x8d, "len8"],
  BINBYTES8: [0x8e, "len8"],
  EMPTY_SET: [0x8f, "none"],
  ADDITEMS: [0x90, "none"],
  FROZENSET: [0x91, "none"],
  NEWOBJ_EX: [0x92, "none"],
  STACK_GLOBAL: [0x93, "none"],
  MEMOIZE: [0x94, "none"],
  FRAME: [0x95, "u8"],
  BYTEARRAY8: [0x96, "len8"],
  NEXT_BUFFER: [0x97, "none"],
  READONLY_BUFFER: [0x98, "none"],
};
const KIND = new Map<number, ArgKind>(Object.values(OPS));
const CODES = Object.values(OPS).map(([c]) => c);
const FIXED: Partial<Record<ArgKind, number>> = {
  none: 0,
  u1: 1,
  u2: 2,
  i4: 4,
  u4: 4,
  u8: 8,
  f8: 8,
};
const LEN_WIDTH: Partial<Record<ArgKind, number>> = { len1: 1, len4: 4, len8: 8 };

/** One opcode of a pickle: where it starts and ends (after its argument). */
export interface OpcodeSpan {
  at: number;
  end: number;
  code: number;
  kind: ArgKind;
}

/**
 * Walks a pickle's opcodes up to `STOP`, an unknown opcode or a truncated argument.
 *
 * @example
 * ```ts
 * import { scanOpcodes } from "./pickle_mutators.ts";
 * // pickle.dumps([1], protocol=2): PROTO 2, EMPTY_LIST, BINPUT 0, BININT1 1, APPEND, STOP
 * const ops = scanOpcodes(new Uint8Array([0x80, 2, 0x5d, 0x71, 0, 0x4b, 1, 0x61, 0x2e]));
 * ops.map((o) => o.at); // [0, 2, 3, 5, 7, 8]
 * ```
 */
export function scanOpcodes(b: Uint8Array): OpcodeSpan[] {
  const out: OpcodeSpan[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  while (p < b.length) {
    const code = b[p], kind = KIND.get(code);
    if (kind === undefined) break;
    let end = p + 1;
    if (kind === "line" || kind === "line2") {
      for (let lines = kind === "line" ? 1 : 2; lines > 0; lines--) {
        const nl = b.indexOf(0x0a, end);
        if (nl < 0) return out;
        end = nl + 1;
      }
    } else if (LEN_WIDTH[kind]) {
      const w = LEN_WIDTH[kind]!;
      if (end + w > b.length) return out;
      const n = w === 1
        ? b[end]
        : w === 4
        ? dv.getUint32(end, true)
        : Number(dv.getBigUint64(end, true));
      end += w + n;
    } else end += FIXED[kind]!;
    if (end > b.length) return out;
    out.push({ at: p, end, code, kind });
    if (code === OPS.STOP[0]) break;
    p = end;
  }
  return out;
}

const enc = new TextEncoder();
const u8 = (...xs: number[]) => Uint8Array.from(xs);
const le = (v: bigint | number, width: number) => {
  const b = new Uint8Array(width);
  writeInt(b, 0, width, BigInt(v));
  return b;
};
const op = (name: string, ...args: Uint8Array[]) => concat(u8(OPS[name][0]), ...args);
const text = (s: string) => {
  const b = enc.encode(s);
  return op("BINUNICODE", le(b.length, 4), b);
};

/** Globals worth naming: the allowed ones, torch's, a record class, and refused ones. */
const GLOBALS: readonly (readonly [string, string])[] = [
  ["collections", "OrderedDict"],
  ["builtins", "set"],
  ["__builtin__", "set"],
  ["builtins", "frozenset"],
  ["builtins", "bytearray"],
  ["builtins", "bytes"],
  ["_codecs", "encode"],
  ["copyreg", "_reconstructor"],
  ["copy_reg", "_reconstructor"],
  ["builtins", "object"],
  ["torch._utils", "_rebuild_tensor_v2"],
  ["torch._utils", "_rebuild_tensor"],
  ["torch._utils", "_rebuild_parameter"],
  ["torch", "FloatStorage"],
  ["torch", "LongStorage"],
  ["torch", "HalfStorage"],
  ["torch", "BoolStorage"],
  ["torch", "device"],
  ["torch", "Size"],
  ["torch", "float32"],
  ["sae_training.config", "LanguageModelSAERunnerConfig"],
  ["posix", "system"],
  ["builtins", "eval"],
  ["builtins", "getattr"],
  ["", ""],
];

/** An argument for an opcode of `kind`, valid-looking or at a boundary. */
function randomArg(rng: Rng, kind: ArgKind): Uint8Array {
  if (FIXED[kind] !== undefined && kind !== "f8") {
    const w = FIXED[kind]!;
    return w ? le(chance(rng, 0.5) ? rng.int(8) : boundaryValue(rng, w), w) : new Uint8Array(0);
  }
  switch (kind) {
    case "f8":
      return pick(rng, [
        randomBytes(rng, 8),
        u8(0x7f, 0xf8, 0, 0, 0, 0, 0, 0),
        u8(0xff, 0xf0, 0, 0, 0, 0, 0, 0),
      ]);
    case "line":
      return enc.encode(
        pick(rng, [
          "0",
          "01",
          "00",
          "-7",
          "123456789012345678901234567890",
          "abc",
          "",
          "1L",
          "0.5",
        ]) + "\n",
      );
    case "line2": {
      const [m, n] = pick(rng, GLOBALS);
      return enc.encode(`${m}\n${n}\n`);
    }
    default: {
      const w = LEN_WIDTH[kind]!;
      const body = pick(rng, [
        enc.encode("abc"),
        new Uint8Array(0),
        u8(0xff, 0xfe),
        u8(0xff),
        randomBytes(rng, 9),
      ]);
      const n = chance(rng, 0.7) ? BigInt(body.length) : boundaryValue(rng, w, [body.length]);
      return concat(le(n, w), body);
    }
  }
}

/** A whole construct to insert at an opcode boundary (it pushes about one value). */
function construct(rng: Rng, memo: number[]): Uint8Array {
  const n = pick(rng, [10, 100, 1000, 10_000, 100_000]);
  const slot = chance(rng, 0.5) ? pick(rng, [0, 1, 255]) : 1000 + rng.int(1000);
  const put = (k: number) => k < 256 ? op("BINPUT", u8(k)) : op("LONG_BINPUT", le(k, 4));
  const get = (k: number) => k < 256 ? op("BINGET", u8(k)) : op("LONG_BINGET", le(k, 4));
  switch (rng.int(10)) {
    case 0: // lists nested n deep
      return concat(
        new Uint8Array(n).fill(OPS.EMPTY_LIST[0]),
        new Uint8Array(n - 1).fill(OPS.APPEND[0]),
      );
    case 1: // tuples nested n deep
      return concat(op("EMPTY_TUPLE"), new Uint8Array(n).fill(OPS.TUPLE1[0]));
    case 2: { // dicts nested n deep
      const k = text("k");
      const parts = [op("EMPTY_DICT")];
      for (let i = 0; i < Math.min(n, 20_000); i++) parts.push(k, op("EMPTY_DICT"));
      return concat(...parts, new Uint8Array(Math.min(n, 20_000)).fill(OPS.SETITEM[0]));
    }
    case 3: // n MARKs, each closed by LIST: nested through the mark stack
      return concat(new Uint8Array(n).fill(OPS.MARK[0]), new Uint8Array(n).fill(OPS.LIST[0]));
    case 4: // a list that contains itself
      return concat(op("EMPTY_LIST"), put(slot), get(slot), op("APPEND"));
    case 5: // a dict that contains itself
      return concat(op("EMPTY_DICT"), put(slot), text("self"), get(slot), op("SETITEM"));
    case 6: { // a memo DAG: each tuple holds the previous one twice (2^levels leaves)
      const levels = pick(rng, [16, 24, 32, 64]);
      const parts = [op("EMPTY_LIST"), put(slot)];
      for (let i = 0; i < levels; i++) {
        parts.push(get(slot + i), get(slot + i), op("TUPLE2"), put(slot + i + 1));
      }
      return concat(...parts);
    }
    case 7: // a memo reference, existing or not
      return get(memo.length && chance(rng, 0.7) ? pick(rng, memo) : slot);
    case 8: { // a global, then maybe called
      const [m, name] = pick(rng, GLOBALS);
      const g = chance(rng, 0.5)
        ? op("GLOBAL", enc.encode(`${m}\n${name}\n`))
        : concat(text(m), text(name), op("STACK_GLOBAL"));
      const args = pick(rng, [
        op("EMPTY_TUPLE"),
        concat(text("cpu"), op("TUPLE1")),
        concat(op("EMPTY_LIST"), op("TUPLE1")),
        op("NONE"),
      ]);
      return concat(
        g,
        ...(chance(rng, 0.7) ? [args, op(pick(rng, ["REDUCE", "NEWOBJ", "BUILD"]))] : []),
      );
    }
    default: { // one opcode with a random argument
      const code = pick(rng, CODES);
      return concat(u8(code), randomArg(rng, KIND.get(code)!));
    }
  }
}

/** A mutator of a pickle with at least one opcode. */
function onOps(
  name: string,
  weight: number,
  f: (b: Uint8Array, ops: OpcodeSpan[], rng: Rng) => Uint8Array | undefined,
): Mutator {
  return {
    name: `pickle.${name}`,
    weight,
    apply(bytes, rng) {
      const ops = scanOpcodes(bytes);
      return ops.length ? f(bytes, ops, rng) : undefined;
    },
  };
}

const splice = (b: Uint8Array, start: number, end: number, piece: Uint8Array = new Uint8Array(0)) =>
  concat(b.subarray(0, start), piece, b.subarray(end));

/** Memo indices the pickle stores (BINPUT, LONG_BINPUT, MEMOIZE). */
function memoIndices(b: Uint8Array, ops: OpcodeSpan[]): number[] {
  const out: number[] = [];
  let auto = 0;
  for (const o of ops) {
    if (o.code === OPS.BINPUT[0]) out.push(b[o.at + 1]);
    else if (o.code === OPS.LONG_BINPUT[0]) {
      out.push(new DataView(b.buffer, b.byteOffset).getUint32(o.at + 1, true));
    } else if (o.code === OPS.MEMOIZE[0]) out.push(auto++);
  }
  return out;
}

/**
 * The pickle-aware mutators.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PICKLE_MUTATORS } from "./pickle_mutators.ts";
 * import { Rng } from "./rng.ts";
 * // pickle.dumps(["a"], protocol=2): PROTO, EMPTY_LIST, BINPUT, BINUNICODE, APPEND, STOP
 * const seed = new Uint8Array([0x80, 2, 0x5d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x61, 0x2e]);
 * for (const m of PICKLE_MUTATORS) assert.ok(m.apply(seed, new Rng(9), seed) instanceof Uint8Array, m.name);
 * ```
 */
export const PICKLE_MUTATORS: readonly Mutator[] = [
  onOps("delete-op", 3, (b, ops, rng) => {
    const o = pick(rng, ops);
    return splice(b, o.at, o.end);
  }),
  onOps("duplicate-ops", 2, (b, ops, rng) => {
    const i = rng.int(ops.length), j = Math.min(ops.length - 1, i + rng.int(4));
    return splice(b, ops[j].end, ops[j].end, b.slice(ops[i].at, ops[j].end));
  }),
  onOps("swap-ops", 2, (b, ops, rng) => {
    if (ops.length < 2) return undefined;
    const i = rng.int(ops.length - 1), x = ops[i], y = ops[i + 1];
    return splice(b, x.at, y.end, concat(b.subarray(y.at, y.end), b.subarray(x.at, x.end)));
  }),
  onOps("replace-opcode", 3, (b, ops, rng) => {
    // Another opcode over the same argument bytes: one of the same layout, or any.
    const o = pick(rng, ops);
    const same = CODES.filter((c) => KIND.get(c) === o.kind);
    const out = b.slice();
    out[o.at] = chance(rng, 0.6) ? pick(rng, same) : pick(rng, CODES);
    return out;
  }),
  onOps("insert", 5, (b, ops, rng) => {
    const at = pick(rng, ops).at;
    return splice(b, at, at, construct(rng, memoIndices(b, ops)));
  }),
  onOps("length", 3, (b, ops, rng) => {
    const sized = ops.filter((o) => LEN_WIDTH[o.kind]);
    if (!sized.length) return undefined;
    const o = pick(rng, sized), w = LEN_WIDTH[o.kind]!;
    const out = b.slice();
    const n = o.end - o.at - 1 - w;
    writeInt(out, o.at + 1, w, boundaryValue(rng, w, [n, b.length - o.at - 1 - w, 0x7fffffff]));
    return out;
  }),
  onOps("int-arg", 3, (b, ops, rng) => {
    const ints = ops.filter((o) =>
      o.kind === "u1" || o.kind === "u2" || o.kind === "i4" || o.kind === "u4" || o.kind === "u8"
    );
    if (!ints.length) return undefined;
    const o = pick(rng, ints), w = FIXED[o.kind]!;
    const out = b.slice();
    writeInt(out, o.at + 1, w, boundaryValue(rng, w, [b[o.at + 1]]));
    return out;
  }),
  onOps("marks", 2, (b, ops, rng) => {
    const marks = ops.filter((o) => o.code === OPS.MARK[0]);
    if (marks.length && chance(rng, 0.5)) {
      const m = pick(rng, marks);
      return splice(b, m.at, m.end);
    }
    const at = pick(rng, ops).at;
    return splice(b, at, at, op(pick(rng, ["MARK", "MARK", "POP_MARK", "POP", "DUP"])));
  }),
  onOps("stop", 1, (b, ops, rng) => {
    const last = ops[ops.length - 1];
    if (last.code === OPS.STOP[0] && chance(rng, 0.4)) return splice(b, last.at, last.end);
    if (chance(rng, 0.5)) return concat(b, randomBytes(rng, 1 + rng.int(8)));
    const at = pick(rng, ops).at;
    return splice(b, at, at, op("STOP"));
  }),
  onOps("proto-frame", 1, (b, ops, rng) => {
    const at = pick(rng, ops).at;
    const piece = chance(rng, 0.5)
      ? op("PROTO", u8(pick(rng, [0, 1, 2, 3, 4, 5, 6, 255])))
      : op("FRAME", le(boundaryValue(rng, 8, [b.length - at]), 8));
    return splice(b, at, at, piece);
  }),
];

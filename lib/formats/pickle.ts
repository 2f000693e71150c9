/**
 * A restricted Python unpickler that never executes anything.
 *
 * A pickle is a program for a small stack machine; Python's own unpickler imports any
 * `module.name` the program asks for (`GLOBAL`) and calls it (`REDUCE`), so loading an untrusted
 * pickle runs arbitrary code. This reader interprets the opcodes itself and resolves globals only
 * through an allow-list: each allowed global has a handler written here (or supplied by the
 * caller, as torch_pt.ts does for tensors) that builds a plain value, and a caller-supplied set of
 * "record classes" (e.g. `sae_training.config.LanguageModelSAERunnerConfig`) become plain records
 * of their fields. Any other global is refused the moment it is named, before anything uses it:
 * `pickle global "posix.system" is not allowed (allowed: ...)`.
 *
 * Value mapping: `None` → `null`; `bool` → boolean; `int` → number (bigint beyond 2^53);
 * `float` → number; `str` → string; `bytes`/`bytearray` → Uint8Array; `list` and `tuple` →
 * arrays; `dict` and `collections.OrderedDict` → `Map` (key order kept; attribute state that a
 * `BUILD` gives a dict, such as a state dict's `_metadata`, is dropped); `set`/`frozenset` →
 * `Set`; a record class instance → `{ __class__: "module.Name", ...fields }`.
 *
 * Hostile pickles cost no more than their size: the machine is iterative; integers longer than
 * 1024 bytes (or 2500 digits) are refused; dict keys and set members must be plain hashable data
 * (a tensor, or any object a handler built, is refused as a key); and the result is refused when
 * its containers form a cycle, nest deeper than 256 levels, or unfold (shared references counted
 * each time) into more than a million values plus 16 per pickle byte, so that callers can walk
 * or print it recursively.
 *
 * Opcodes: all of protocols 2–5 except the out-of-band buffers (`NEXT_BUFFER`,
 * `READONLY_BUFFER`) and the extension registry (`EXT1/2/4`), plus the protocol-1 forms Python
 * still emits at protocol 1 (`INT`, `LONG`, `copyreg._reconstructor`). The protocol-0 text
 * opcodes (`STRING`, `UNICODE`, `FLOAT`, `GET`, `PUT`, `INST`, `OBJ`, `PERSID`) are refused.
 *
 * Why not the npm package `pickleparser` (0.2.1, MIT; evaluated for this)? It parses every
 * opcode, but its policy is the opposite of ours: a global it does not know becomes a placeholder
 * object (`onMissingName`) instead of an error, `REDUCE`/`NEWOBJ` invoke whatever is on the
 * stack, and `BUILD` calls any `__setstate__` it finds on the object. Making it safe would mean
 * overriding its registry to throw and registering a JavaScript function per torch callable, and
 * it checks no stack or mark bounds and reports no opcode offsets. Refusal by default,
 * torch-aware interpretation and exact error messages are the point of this module, so the
 * unpickler is our own (no dependency).
 *
 * @module
 */

/**
 * Raised for a malformed, unsupported or refused pickle; the message names the source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PickleError, unpickle } from "./pickle.ts";
 * // pickle.dumps(os.system, protocol=2): naming the global is enough to be refused
 * const bytes = Uint8Array.from("\x80\x02cposix\nsystem\n.", (c) => c.charCodeAt(0));
 * assert.throws(() => unpickle(bytes, { source: "evil.pkl" }), PickleError);
 * // PickleError: evil.pkl: pickle global "posix.system" is not allowed (allowed: ...)
 * ```
 */
export class PickleError extends Error {
  override name = "PickleError";
}

/**
 * A Python global as named in a pickle (`module.name`), e.g. a class used as a value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PickleGlobal, unpickle } from "./pickle.ts";
 * // pickle.dumps(collections.OrderedDict, protocol=2): the class itself, not an instance
 * const bytes = Uint8Array.from("\x80\x02ccollections\nOrderedDict\n.", (c) => c.charCodeAt(0));
 * const g = unpickle(bytes);
 * assert.ok(g instanceof PickleGlobal);
 * g.fqn; // "collections.OrderedDict"
 * ```
 */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  /** `module.name`. */
  get fqn(): string {
    return `${this.module}.${this.name}`;
  }
  toString(): string {
    return this.fqn;
  }
}

/** A record-class instance: its fully qualified class name and its fields. */
export interface PickleRecord {
  __class__: string;
  [field: string]: unknown;
}

/**
 * How an allowed global behaves: `value` is what naming it pushes (default: a PickleGlobal),
 * and `reduce` interprets a call `global(*args)` (absent: calling it is refused). Handlers
 * throw plain Errors; the unpickler adds the source and offset.
 */
export interface GlobalHandler {
  value?: unknown;
  reduce?: (args: unknown[]) => unknown;
}

/** Options of {@linkcode unpickle}. */
export interface UnpickleOptions {
  /** Names the pickle in error messages (e.g. `model.pt (archive/data.pkl)`). */
  source?: string;
  /** Allowed globals beyond {@linkcode BUILTIN_GLOBALS}, by `module.name`. */
  globals?: Readonly<Record<string, GlobalHandler>>;
  /** Classes whose instances become plain records of their fields, by `module.name`. */
  recordClasses?: Iterable<string>;
  /** Resolves a persistent id (`BINPERSID`); without it a persistent id is an error. */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Python 2 module names that protocols 0–2 write for Python 3 modules (`fix_imports`). */
const MODULE_ALIASES: Record<string, string> = { __builtin__: "builtins", copy_reg: "copyreg" };

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new Error(`character U+${c.toString(16)} is not latin-1`);
    out[i] = c;
  }
  return out;
}

function iterableItems(v: unknown, what: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  if (v instanceof Map) return [...v.keys()];
  if (v instanceof Uint8Array) return [...v];
  throw new Error(`${what} expects a list, got ${pickleTypeName(v)}`);
}

function hashableSet(args: unknown[], what: string): Set<unknown> {
  const items = args.length ? iterableItems(args[0], what) : [];
  for (const v of items) checkHashable(v, `a ${what} member`);
  return new Set(items);
}

/**
 * The globals every unpickle allows, each interpreted by our code: containers Python pickles by
 * reference at low protocols (`collections.OrderedDict`, `builtins.set`, `builtins.frozenset`,
 * `builtins.bytes`, `builtins.bytearray`, `_codecs.encode` for protocol-2 bytes) and
 * `copyreg._reconstructor` / `builtins.object`, which only rebuild record classes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILTIN_GLOBALS, unpickle } from "./pickle.ts";
 * "builtins.set" in BUILTIN_GLOBALS; // true
 * // pickle.dumps({1, 2}, protocol=2) calls __builtin__.set([1, 2]) (read as builtins.set)
 * const pkl = "\x80\x02c__builtin__\nset\n](K\x01K\x02e\x85R.";
 * const bytes = Uint8Array.from(pkl, (c) => c.charCodeAt(0));
 * assert.deepEqual(unpickle(bytes), new Set([1, 2]));
 * ```
 */
export const BUILTIN_GLOBALS: Readonly<Record<string, GlobalHandler>> = {
  "collections.OrderedDict": {
    reduce(args) {
      if (args.length === 0) return new Map();
      if (args.length === 1) {
        return new Map(
          iterableItems(args[0], "OrderedDict").map((p) => {
            if (!Array.isArray(p) || p.length !== 2) {
              throw new Error("OrderedDict item is not a pair");
            }
            checkHashable(p[0], "an OrderedDict key");
            return p as [unknown, unknown];
          }),
        );
      }
      throw new Error(`OrderedDict takes at most 1 argument, got ${args.length}`);
    },
  },
  "builtins.set": { reduce: (args) => hashableSet(args, "set") },
  "builtins.frozenset": { reduce: (args) => hashableSet(args, "frozenset") },
  "builtins.bytes": {
    reduce(args) {
      if (args.length === 0) return new Uint8Array(0);
      return Uint8Array.from(iterableItems(args[0], "bytes") as number[]);
    },
  },
  "builtins.bytearray": {
    reduce(args) {
      if (args.length === 0) return new Uint8Array(0);
      if (typeof args[0] === "string") return latin1Bytes(args[0]);
      return Uint8Array.from(iterableItems(args[0], "bytearray") as number[]);
    },
  },
  "_codecs.encode": {
    reduce(args) {
      const [s, enc] = args;
      if (typeof s !== "string" || (enc !== "latin1" && enc !== "latin-1")) {
        throw new Error(
          `only _codecs.encode(str, "latin1") is interpreted, got encoding ${
            typeof enc === "string" ? enc : pickleTypeName(enc)
          }`,
        );
      }
      return latin1Bytes(s);
    },
  },
  // Handled by the unpickler itself (record classes only):
  "copyreg._reconstructor": {},
  "builtins.object": {},
};

/**
 * Whether a value is a record built from a record class.
 *
 * @example
 * ```ts
 * import { isPickleRecord } from "./pickle.ts";
 * isPickleRecord({ __class__: "sae_training.config.RunnerConfig", d_in: 8 }); // true
 * ```
 */
export function isPickleRecord(v: unknown): v is PickleRecord {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Map) &&
    !(v instanceof Set) && !ArrayBuffer.isView(v) &&
    typeof (v as { __class__?: unknown }).__class__ === "string";
}

/**
 * A short description of an unpickled value's type, for error messages.
 *
 * @example
 * ```ts
 * import { pickleTypeName } from "./pickle.ts";
 * pickleTypeName(new Map()); // "dict"
 * ```
 */
export function pickleTypeName(v: unknown): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return `list/tuple of ${v.length}`;
  if (v instanceof Map) return "dict";
  if (v instanceof Set) return "set";
  if (v instanceof Uint8Array) return "bytes";
  if (v instanceof PickleGlobal) return `global ${v.fqn}`;
  if (isPickleRecord(v)) return `${v.__class__} record`;
  if (typeof v === "object") return v.constructor?.name ?? "object";
  return typeof v;
}

function setField(rec: PickleRecord, key: unknown, value: unknown): void {
  if (typeof key !== "string") {
    throw new Error(`record field name is ${pickleTypeName(key)}, not a string`);
  }
  if (key === "__class__") return;
  Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
}

function newRecord(fqn: string, args: unknown[]): PickleRecord {
  const rec = { __class__: fqn } as PickleRecord;
  if (args.length) setField(rec, "__args__", args);
  return rec;
}

/** The opcodes, by name. */
const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  FLOAT: 0x46,
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c,
  BININT2: 0x4d,
  NONE: 0x4e,
  PERSID: 0x50,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  GET: 0x67,
  BINGET: 0x68,
  INST: 0x69,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  EMPTY_LIST: 0x5d,
  OBJ: 0x6f,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  SETITEMS: 0x75,
  BINFLOAT: 0x47,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

const OP_NAMES = new Map<number, string>(Object.entries(OP).map(([k, v]) => [v, k]));
const hex = (b: number) => `0x${b.toString(16).padStart(2, "0")}`;
const utf8 = new TextDecoder("utf-8");

/**
 * Longest integer accepted, in bytes (LONG1/LONG4) or decimal digits (INT/LONG): 8192 bits,
 * more than any config or checkpoint holds; beyond it, decoding and printing get slow.
 */
const MAX_INT_BYTES = 1024;
const MAX_INT_DIGITS = 2500;

/** Deepest nesting of containers accepted (checkpoints nest a few levels). */
const MAX_DEPTH = 256;

const asNumberIfSafe = (v: bigint): number | bigint =>
  v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;

/** Interprets two's-complement little-endian bytes as an integer (number when exact). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let hexDigits = "";
  for (let i = b.length - 1; i >= 0; i--) hexDigits += b[i].toString(16).padStart(2, "0");
  let v = BigInt(`0x${hexDigits}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return asNumberIfSafe(v);
}

function parseDecimal(text: string): number | bigint {
  if (!/^[+-]?\d+$/.test(text)) throw new Error(`"${text.slice(0, 40)}" is not an integer`);
  if (text.length > MAX_INT_DIGITS) {
    throw new Error(`an integer of ${text.length} digits (over ${MAX_INT_DIGITS}) is refused`);
  }
  return asNumberIfSafe(BigInt(text));
}

/** Whether a value can be a dict key or set member (what Python can hash, as plain data). */
function isHashable(v: unknown, depth = 0): boolean {
  if (v === null || typeof v !== "object") return typeof v !== "function" && v !== undefined;
  if (v instanceof Uint8Array || v instanceof PickleGlobal) return true;
  return Array.isArray(v) && depth < 8 && v.every((x) => isHashable(x, depth + 1));
}

function checkHashable(v: unknown, what: string): void {
  if (!isHashable(v)) {
    throw new Error(
      `${what} is a ${
        pickleTypeName(v)
      } (only None, bool, int, float, str, bytes, globals and tuples of them are accepted)`,
    );
  }
}

/** The containers inside a value that the structure check walks into. */
function children(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (v instanceof Map) return [...v.keys(), ...v.values()];
  if (v instanceof Set) return [...v];
  if (isPickleRecord(v)) return Object.values(v);
  return undefined;
}

/**
 * Refuses an unpickled value whose containers form a cycle (a list holding itself through the
 * memo), nest deeper than MAX_DEPTH, or unfold (shared references counted each time) into more
 * than `maxUnfolded` values: consumers may then walk it recursively, or print it, safely.
 * Iterative, linear in the number of distinct containers and references.
 */
function checkStructure(root: unknown, maxUnfolded: number): void {
  const unfolded = new Map<object, number>(); // container -> size unfolded; -1 while on the path
  const stack: { node: object; items: unknown[]; i: number; size: number }[] = [];
  const enter = (v: unknown): number | undefined => {
    const items = children(v);
    if (!items) return 1;
    const known = unfolded.get(v as object);
    if (known === -1) throw new Error("a container holds itself (a cycle through the memo)");
    if (known !== undefined) return known;
    if (stack.length >= MAX_DEPTH) {
      throw new Error(`containers nest deeper than ${MAX_DEPTH} levels`);
    }
    unfolded.set(v as object, -1);
    stack.push({ node: v as object, items, i: 0, size: 1 });
    return undefined;
  };
  if (enter(root) !== undefined) return;
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.i < top.items.length) {
      const n = enter(top.items[top.i++]);
      if (n !== undefined) top.size += n;
    } else {
      stack.pop();
      if (top.size > maxUnfolded) {
        throw new Error(
          `the object unfolds into ${top.size} values (shared references counted each time), over ${maxUnfolded}`,
        );
      }
      unfolded.set(top.node, top.size);
      if (stack.length) stack[stack.length - 1].size += top.size;
    }
  }
}

class Machine {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #source: string;
  readonly #handlers: Map<string, GlobalHandler>;
  readonly #records: Set<string>;
  readonly #persistentLoad?: (pid: unknown) => unknown;
  #pos = 0;
  #opAt = 0;
  #stack: unknown[] = [];
  #marks: number[] = [];
  #memo = new Map<number, unknown>();

  constructor(bytes: Uint8Array, o: UnpickleOptions) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#source = o.source ?? "<pickle>";
    this.#handlers = new Map(Object.entries({ ...BUILTIN_GLOBALS, ...o.globals }));
    this.#records = new Set(o.recordClasses ?? []);
    this.#persistentLoad = o.persistentLoad;
  }

  #fail(msg: string, cause?: unknown): never {
    throw new PickleError(`${this.#source}: ${msg}`, cause === undefined ? undefined : { cause });
  }

  #at(): string {
    const b = this.#bytes[this.#opAt];
    return `${OP_NAMES.get(b) ?? hex(b)} at offset ${this.#opAt}`;
  }

  #need(n: number | bigint): number {
    const rest = this.#bytes.length - this.#pos;
    if (typeof n === "bigint" ? n > BigInt(rest) : n > rest) {
      this.#fail(`truncated pickle: ${this.#at()} needs ${n} bytes, ${rest} left`);
    }
    const p = this.#pos;
    this.#pos += Number(n);
    return p;
  }

  #take(n: number | bigint): Uint8Array {
    const p = this.#need(n);
    return this.#bytes.subarray(p, p + Number(n));
  }

  #u8(): number {
    return this.#bytes[this.#need(1)];
  }
  #u32(): number {
    return this.#view.getUint32(this.#need(4), true);
  }
  #u64(): bigint {
    return this.#view.getBigUint64(this.#need(8), true);
  }

  #line(): string {
    const end = this.#bytes.indexOf(0x0a, this.#pos);
    if (end < 0) this.#fail(`truncated pickle: ${this.#at()} has no end of line`);
    const s = utf8.decode(this.#bytes.subarray(this.#pos, end));
    this.#pos = end + 1;
    return s;
  }

  #pop(): unknown {
    if (this.#stack.length === 0 || this.#stack.length <= (this.#marks.at(-1) ?? -1)) {
      this.#fail(`stack underflow at ${this.#at()}`);
    }
    return this.#stack.pop();
  }

  #top(): unknown {
    if (this.#stack.length === 0) this.#fail(`stack underflow at ${this.#at()}`);
    return this.#stack[this.#stack.length - 1];
  }

  #popMark(): unknown[] {
    const m = this.#marks.pop();
    if (m === undefined) this.#fail(`${this.#at()} without a MARK`);
    return this.#stack.splice(m);
  }

  #resolve(module: string, name: string): unknown {
    const canonical = MODULE_ALIASES[module] ?? module;
    const fqn = `${canonical}.${name}`;
    const h = this.#handlers.get(fqn);
    if (h) return "value" in h ? h.value : new PickleGlobal(canonical, name);
    if (this.#records.has(fqn)) return new PickleGlobal(canonical, name);
    const allowed = [...this.#handlers.keys(), ...this.#records].sort().join(", ");
    this.#fail(`pickle global "${module}.${name}" is not allowed (allowed: ${allowed})`);
  }

  #recordClass(v: unknown): PickleGlobal | undefined {
    return v instanceof PickleGlobal && this.#records.has(v.fqn) ? v : undefined;
  }

  #call(fn: unknown, args: unknown): unknown {
    if (!Array.isArray(args)) {
      this.#fail(`${this.#at()}: arguments are ${pickleTypeName(args)}, not a tuple`);
    }
    if (!(fn instanceof PickleGlobal)) {
      this.#fail(`${this.#at()}: cannot call a ${pickleTypeName(fn)}`);
    }
    if (this.#recordClass(fn)) return newRecord(fn.fqn, args);
    if (fn.fqn === "copyreg._reconstructor") {
      const [cls, base, state] = args;
      const rc = this.#recordClass(cls);
      if (!rc || !(base instanceof PickleGlobal) || base.fqn !== "builtins.object") {
        return this.#fail(
          `${this.#at()}: copyreg._reconstructor only rebuilds record classes on builtins.object, got ${
            pickleTypeName(cls)
          } on ${pickleTypeName(base)}`,
        );
      }
      return newRecord(rc.fqn, state === null || state === undefined ? [] : [state]);
    }
    const h = this.#handlers.get(fn.fqn);
    if (!h?.reduce) this.#fail(`${this.#at()}: pickle global "${fn.fqn}" cannot be called`);
    try {
      return h.reduce(args);
    } catch (e) {
      if (e instanceof PickleError) throw e;
      this.#fail(`${this.#at()}: ${fn.fqn}(...): ${(e as Error).message}`, e);
    }
  }

  #newObj(cls: unknown, args: unknown, kwargs?: unknown): unknown {
    const rc = this.#recordClass(cls);
    if (!rc) {
      return this.#fail(
        `${this.#at()}: cannot instantiate ${pickleTypeName(cls)} (only record classes)`,
      );
    }
    if (!Array.isArray(args)) {
      this.#fail(`${this.#at()}: arguments are ${pickleTypeName(args)}, not a tuple`);
    }
    const rec = newRecord(rc.fqn, args);
    if (kwargs instanceof Map && kwargs.size) setField(rec, "__kwargs__", kwargs);
    return rec;
  }

  #build(obj: unknown, state: unknown): void {
    if (obj instanceof Map) return; // attribute state of a dict (e.g. `_metadata`): dropped
    if (!isPickleRecord(obj)) {
      this.#fail(`${this.#at()}: cannot set state on a ${pickleTypeName(obj)}`);
    }
    const [dict, slots] = Array.isArray(state) && state.length === 2 ? state : [state, null];
    for (const part of [dict, slots]) {
      if (part === null || part === undefined) continue;
      if (!(part instanceof Map)) {
        setField(obj, "__state__", state);
        return;
      }
      try {
        for (const [k, v] of part) setField(obj, k, v);
      } catch (e) {
        this.#fail(`${this.#at()}: ${(e as Error).message}`, e);
      }
    }
  }

  #setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) {
      this.#fail(`${this.#at()}: target is a ${pickleTypeName(target)}, not a dict`);
    }
    if (items.length % 2) this.#fail(`${this.#at()}: odd number of items`);
    for (let i = 0; i < items.length; i += 2) {
      this.#hashable(items[i], "a dict key");
      target.set(items[i], items[i + 1]);
    }
  }

  #appends(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target)) {
      this.#fail(`${this.#at()}: target is a ${pickleTypeName(target)}, not a list`);
    }
    for (const v of items) target.push(v);
  }

  run(): unknown {
    const s = this.#stack;
    for (;;) {
      if (this.#pos >= this.#bytes.length) {
        this.#fail(`pickle ends at offset ${this.#pos} without STOP (truncated?)`);
      }
      this.#opAt = this.#pos;
      const op = this.#bytes[this.#pos++];
      switch (op) {
        case OP.PROTO: {
          const v = this.#u8();
          if (v > 5) this.#fail(`unsupported pickle protocol ${v} (at offset ${this.#opAt})`);
          break;
        }
        case OP.FRAME:
          this.#u64();
          break;
        case OP.STOP: {
          if (s.length === 0) this.#fail(`STOP at offset ${this.#opAt} with an empty stack`);
          const value = s.pop();
          try {
            checkStructure(value, 1_000_000 + 16 * this.#bytes.length);
          } catch (e) {
            this.#fail(`refused: ${(e as Error).message}`, e);
          }
          return value;
        }
        case OP.MARK:
          this.#marks.push(s.length);
          break;
        case OP.POP:
          if (this.#marks.at(-1) === s.length) this.#marks.pop();
          else this.#pop();
          break;
        case OP.POP_MARK:
          this.#popMark();
          break;
        case OP.DUP:
          s.push(this.#top());
          break;
        // ------------------------------------------------------------ scalars
        case OP.NONE:
          s.push(null);
          break;
        case OP.NEWTRUE:
          s.push(true);
          break;
        case OP.NEWFALSE:
          s.push(false);
          break;
        case OP.BININT:
          s.push(this.#view.getInt32(this.#need(4), true));
          break;
        case OP.BININT1:
          s.push(this.#u8());
          break;
        case OP.BININT2:
          s.push(this.#view.getUint16(this.#need(2), true));
          break;
        case OP.LONG1:
          s.push(decodeLong(this.#take(this.#u8())));
          break;
        case OP.LONG4: {
          const n = this.#view.getInt32(this.#need(4), true);
          if (n < 0) this.#fail(`${this.#at()}: negative length ${n}`);
          if (n > MAX_INT_BYTES) {
            this.#fail(
              `${this.#at()}: an integer of ${n} bytes (over ${MAX_INT_BYTES}) is refused`,
            );
          }
          s.push(decodeLong(this.#take(n)));
          break;
        }
        case OP.INT: {
          const t = this.#line();
          if (t === "00" || t === "01") s.push(t === "01");
          else s.push(this.#int(t));
          break;
        }
        case OP.LONG:
          s.push(this.#int(this.#line().replace(/L$/, "")));
          break;
        case OP.BINFLOAT:
          s.push(this.#view.getFloat64(this.#need(8), false));
          break;
        case OP.BINUNICODE:
          s.push(utf8.decode(this.#take(this.#u32())));
          break;
        case OP.SHORT_BINUNICODE:
          s.push(utf8.decode(this.#take(this.#u8())));
          break;
        case OP.BINUNICODE8:
          s.push(utf8.decode(this.#take(this.#u64())));
          break;
        case OP.BINSTRING: {
          const n = this.#view.getInt32(this.#need(4), true);
          if (n < 0) this.#fail(`${this.#at()}: negative length ${n}`);
          s.push(utf8.decode(this.#take(n)));
          break;
        }
        case OP.SHORT_BINSTRING:
          s.push(utf8.decode(this.#take(this.#u8())));
          break;
        case OP.BINBYTES:
          s.push(this.#take(this.#u32()).slice());
          break;
        case OP.SHORT_BINBYTES:
          s.push(this.#take(this.#u8()).slice());
          break;
        case OP.BINBYTES8:
        case OP.BYTEARRAY8:
          s.push(this.#take(this.#u64()).slice());
          break;
        // ------------------------------------------------------------ containers
        case OP.EMPTY_TUPLE:
          s.push([]);
          break;
        case OP.TUPLE1:
          s.push([this.#pop()]);
          break;
        case OP.TUPLE2: {
          const b = this.#pop(), a = this.#pop();
          s.push([a, b]);
          break;
        }
        case OP.TUPLE3: {
          const c = this.#pop(), b = this.#pop(), a = this.#pop();
          s.push([a, b, c]);
          break;
        }
        case OP.TUPLE:
        case OP.LIST:
          s.push(this.#popMark());
          break;
        case OP.EMPTY_LIST:
          s.push([]);
          break;
        case OP.APPEND: {
          const v = this.#pop();
          this.#appends(this.#top(), [v]);
          break;
        }
        case OP.APPENDS: {
          const items = this.#popMark();
          this.#appends(this.#top(), items);
          break;
        }
        case OP.EMPTY_DICT:
          s.push(new Map());
          break;
        case OP.DICT: {
          const m = new Map();
          this.#setItems(m, this.#popMark());
          s.push(m);
          break;
        }
        case OP.SETITEM: {
          const v = this.#pop(), k = this.#pop();
          this.#setItems(this.#top(), [k, v]);
          break;
        }
        case OP.SETITEMS: {
          const items = this.#popMark();
          this.#setItems(this.#top(), items);
          break;
        }
        case OP.EMPTY_SET:
          s.push(new Set());
          break;
        case OP.ADDITEMS: {
          const items = this.#popMark();
          const target = this.#top();
          if (!(target instanceof Set)) {
            this.#fail(`${this.#at()}: target is a ${pickleTypeName(target)}, not a set`);
          }
          for (const v of items) {
            this.#hashable(v, "a set member");
            target.add(v);
          }
          break;
        }
        case OP.FROZENSET: {
          const items = this.#popMark();
          for (const v of items) this.#hashable(v, "a set member");
          s.push(new Set(items));
          break;
        }
        // ------------------------------------------------------------ memo
        case OP.BINPUT:
          this.#memo.set(this.#u8(), this.#top());
          break;
        case OP.LONG_BINPUT:
          this.#memo.set(this.#u32(), this.#top());
          break;
        case OP.MEMOIZE:
          this.#memo.set(this.#memo.size, this.#top());
          break;
        case OP.BINGET:
          s.push(this.#get(this.#u8()));
          break;
        case OP.LONG_BINGET:
          s.push(this.#get(this.#u32()));
          break;
        // ------------------------------------------------------------ objects
        case OP.GLOBAL: {
          const module = this.#line();
          s.push(this.#resolve(module, this.#line()));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = this.#pop(), module = this.#pop();
          if (typeof module !== "string" || typeof name !== "string") {
            this.#fail(`${this.#at()}: module and name must be strings`);
          }
          s.push(this.#resolve(module, name));
          break;
        }
        case OP.REDUCE: {
          const args = this.#pop(), fn = this.#pop();
          s.push(this.#call(fn, args));
          break;
        }
        case OP.NEWOBJ: {
          const args = this.#pop(), cls = this.#pop();
          s.push(this.#newObj(cls, args));
          break;
        }
        case OP.NEWOBJ_EX: {
          const kwargs = this.#pop(), args = this.#pop(), cls = this.#pop();
          s.push(this.#newObj(cls, args, kwargs));
          break;
        }
        case OP.BUILD: {
          const state = this.#pop();
          this.#build(this.#top(), state);
          break;
        }
        case OP.BINPERSID: {
          const pid = this.#pop();
          if (!this.#persistentLoad) {
            this.#fail(`${this.#at()}: persistent id without a persistent loader`);
          }
          try {
            s.push(this.#persistentLoad(pid));
          } catch (e) {
            if (e instanceof PickleError) throw e;
            this.#fail(`${this.#at()}: ${(e as Error).message}`, e);
          }
          break;
        }
        default: {
          const name = OP_NAMES.get(op);
          if (name) {
            this.#fail(
              `pickle opcode ${hex(op)} (${name}) at offset ${this.#opAt} is not supported`,
            );
          }
          this.#fail(`unknown pickle opcode ${hex(op)} at offset ${this.#opAt}`);
        }
      }
    }
  }

  #hashable(v: unknown, what: string): void {
    try {
      checkHashable(v, what);
    } catch (e) {
      this.#fail(`${this.#at()}: ${(e as Error).message}`, e);
    }
  }

  #int(text: string): number | bigint {
    try {
      return parseDecimal(text);
    } catch (e) {
      this.#fail(`${this.#at()}: ${(e as Error).message}`, e);
    }
  }

  #get(i: number): unknown {
    if (!this.#memo.has(i)) this.#fail(`${this.#at()}: memo entry ${i} is missing`);
    return this.#memo.get(i);
  }
}

/**
 * Unpickles bytes without executing anything: globals resolve only through the allow-list
 * ({@linkcode BUILTIN_GLOBALS}, `options.globals` and `options.recordClasses`).
 *
 * @example
 * ```ts
 * import { unpickle } from "./pickle.ts";
 * // pickle.dumps({"a": [1, 2.5]}, protocol=2)
 * const bytes = new Uint8Array([
 *   0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x5d, 0x71,
 *   0x02, 0x28, 0x4b, 0x01, 0x47, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0x73, 0x2e,
 * ]);
 * (unpickle(bytes) as Map<string, unknown>).get("a"); // [1, 2.5]
 * ```
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): unknown {
  return new Machine(bytes, options).run();
}

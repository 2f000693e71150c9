/**
 * PyTorch checkpoints (`torch.save`, PyTorch >= 1.6): a zip archive holding `<archive>/data.pkl`
 * (the pickled object) and one file `<archive>/data/<key>` of raw little-endian bytes per
 * storage; the archive folder's name varies (the file's stem, or `archive`).
 *
 * The pickle is read by the restricted unpickler of pickle.ts, so loading never runs code. On top
 * of its built-in globals this module allows exactly the torch names a checkpoint of tensors
 * uses, each interpreted here:
 * - persistent ids `('storage', torch.<T>Storage, key, location, numel)` → the storage's bytes;
 * - `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta])`
 *   and `_rebuild_tensor` (v1) → a host Tensor in row-major order: a view of its storage's
 *   memory when the view is a contiguous range (views of one storage then share memory, as in
 *   PyTorch), else a copy (size, stride and offset are checked against the storage; an error
 *   names the tensor by its path in the object, e.g. `state_dict.W_enc`);
 * - `torch._utils._rebuild_parameter` (and `_rebuild_parameter_with_state`) → the tensor;
 * - `torch.device(...)` → its string (`"cpu"`, `"cuda:0"`); dtypes such as `torch.float32` → the
 *   string `"torch.float32"`; `torch.Size(...)` → an array.
 *
 * Storage types: Float → float32; Half and BFloat16 → float32 (exact); Double → float64;
 * Int → int32; Long → int64; Short, Char, Byte → int32; Bool → bool. Devices are ignored (every
 * tensor lands in host memory). The legacy pre-1.6 format (a bare pickle stream) is refused.
 *
 * A hostile file cannot cost more than it holds: the zip reader inflates only the entries the
 * pickle names, within a budget (zip.ts); the unpickler refuses cycles, deep nesting and huge
 * integers (pickle.ts); and the copies of non-contiguous views (stride 0 can name a billion
 * elements of a one-element storage) may not exceed the storages' elements plus 2^24 in total.
 *
 * @module
 */
import {
  allocate,
  type DataOf,
  type DType,
  shapeStr,
  sizeOf,
  stridesOf,
  type Tensor,
  type TypedArray,
} from "../tensor/tensor.ts";
import { bf16ToF32, f16ToF32 } from "./half.ts";
import { readInputFile } from "./_input_file.ts";
import {
  type GlobalHandler,
  isPickleRecord,
  PickleError,
  PickleGlobal,
  pickleTypeName,
  unpickle,
} from "./pickle.ts";
import { looksLikeZip, openZip, type ZipArchive, ZipError } from "./zip.ts";

/**
 * Raised for an unreadable, malformed or refused checkpoint; the message names the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTorchCheckpoint, PtFormatError } from "./torch_pt.ts";
 * const bytes = new TextEncoder().encode("hello");
 * assert.throws(() => parseTorchCheckpoint(bytes, { source: "x.pt" }), PtFormatError);
 * // PtFormatError: x.pt: not a PyTorch checkpoint (not a zip archive, 5 bytes)
 * ```
 */
export class PtFormatError extends Error {
  override name = "PtFormatError";
}

/** Options of {@linkcode readTorchCheckpoint}. */
export interface TorchCheckpointOptions {
  /** Classes (`module.Name`) whose pickled instances become plain records of their fields. */
  recordClasses?: Iterable<string>;
  /** Names the checkpoint in error messages (default: the path, or `<bytes>`). */
  source?: string;
}

type StorageKind = { dtype: DType; bytes: number; decode: (raw: Uint8Array) => TypedArray };

function view<T>(
  ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number },
  raw: Uint8Array,
): T {
  const k = ctor.BYTES_PER_ELEMENT;
  const src = raw.byteOffset % k === 0 ? raw : raw.slice();
  return new ctor(src.buffer as ArrayBuffer, src.byteOffset, src.byteLength / k);
}

const widen = (a: ArrayLike<number>): Int32Array => Int32Array.from(a);

/**
 * The storage classes a checkpoint may name, with their host dtype and element size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TORCH_STORAGES } from "./torch_pt.ts";
 * TORCH_STORAGES.HalfStorage.dtype; // "float32" (half floats widen exactly)
 * const raw = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]); // float16 1 and -2, little-endian
 * assert.deepEqual(TORCH_STORAGES.HalfStorage.decode(raw), new Float32Array([1, -2]));
 * ```
 */
export const TORCH_STORAGES: Readonly<Record<string, StorageKind>> = {
  FloatStorage: { dtype: "float32", bytes: 4, decode: (r) => view(Float32Array, r) },
  HalfStorage: { dtype: "float32", bytes: 2, decode: (r) => f16ToF32(view(Uint16Array, r)) },
  BFloat16Storage: { dtype: "float32", bytes: 2, decode: (r) => bf16ToF32(view(Uint16Array, r)) },
  DoubleStorage: { dtype: "float64", bytes: 8, decode: (r) => view(Float64Array, r) },
  IntStorage: { dtype: "int32", bytes: 4, decode: (r) => view(Int32Array, r) },
  LongStorage: { dtype: "int64", bytes: 8, decode: (r) => view(BigInt64Array, r) },
  ShortStorage: { dtype: "int32", bytes: 2, decode: (r) => widen(view(Int16Array, r)) },
  CharStorage: { dtype: "int32", bytes: 1, decode: (r) => widen(view(Int8Array, r)) },
  ByteStorage: { dtype: "int32", bytes: 1, decode: (r) => widen(r) },
  BoolStorage: { dtype: "bool", bytes: 1, decode: (r) => r.map((b) => (b ? 1 : 0)) },
};

const TORCH_DTYPES = [
  "float16",
  "float32",
  "float64",
  "bfloat16",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "bool",
  "complex64",
  "complex128",
];

/** One storage of the archive, read and decoded to host values when a tensor first needs it. */
class TorchStorage {
  #data?: TypedArray;
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly read: () => TypedArray,
  ) {}
  get data(): TypedArray {
    return this.#data ??= this.read();
  }
}

/** A tensor view waiting to be read out of its storage (done after unpickling, with its path). */
class TensorView {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new Error(`${what} is ${pickleTypeName(v)}, not a tuple`);
  return v.map((x, i) => {
    if (typeof x !== "number" && typeof x !== "bigint") {
      throw new Error(`${what}[${i}] is ${pickleTypeName(x)}, not an integer`);
    }
    return Number(x);
  });
}

function rebuildTensor(args: unknown[]): TensorView {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) {
    throw new Error(`storage argument is ${pickleTypeName(storage)}, not a storage`);
  }
  if (args.length < 4) throw new Error(`expected at least 4 arguments, got ${args.length}`);
  if (typeof offset !== "number" && typeof offset !== "bigint") {
    throw new Error(`offset is ${pickleTypeName(offset)}, not an integer`);
  }
  return new TensorView(
    storage,
    Number(offset),
    intList(size, "size"),
    intList(stride, "stride"),
  );
}

/**
 * The torch globals a checkpoint may name, each interpreted by our code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TORCH_GLOBALS } from "./torch_pt.ts";
 * assert.equal(TORCH_GLOBALS["torch.device"].reduce!(["cuda", 0]), "cuda:0");
 * TORCH_GLOBALS["torch.float16"].value; // "torch.float16"
 * "torch.load" in TORCH_GLOBALS; // false: anything not listed is refused
 * ```
 */
export const TORCH_GLOBALS: Readonly<Record<string, GlobalHandler>> = {
  "torch._utils._rebuild_tensor_v2": { reduce: rebuildTensor },
  "torch._utils._rebuild_tensor": { reduce: rebuildTensor },
  "torch._utils._rebuild_parameter": { reduce: (args) => args[0] },
  "torch._utils._rebuild_parameter_with_state": { reduce: (args) => args[0] },
  "torch.device": {
    reduce(args) {
      const [type, index] = args;
      if (typeof type !== "string") throw new Error(`device type is ${pickleTypeName(type)}`);
      return index === undefined || index === null ? type : `${type}:${index}`;
    },
  },
  "torch.Size": { reduce: (args) => intList(args[0] ?? [], "torch.Size") },
  ...Object.fromEntries(Object.keys(TORCH_STORAGES).map((k) => [`torch.${k}`, {}])),
  ...Object.fromEntries(TORCH_DTYPES.map((d) => [`torch.${d}`, { value: `torch.${d}` }])),
};

/**
 * Whether a value is a host tensor (as this module returns them).
 *
 * @example
 * ```ts
 * import { isHostTensor } from "./torch_pt.ts";
 * isHostTensor({ dtype: "float32", shape: [1], data: new Float32Array(1) }); // true
 * ```
 */
export function isHostTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && typeof (v as Tensor).dtype === "string" &&
    Array.isArray((v as Tensor).shape) && ArrayBuffer.isView((v as Tensor).data);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
function childPath(path: string, key: unknown): string {
  if (typeof key === "string" && IDENT.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${typeof key === "string" ? JSON.stringify(key) : String(key)}]`;
}

/**
 * Elements that copying non-contiguous views may produce beyond the checkpoint's storages: a
 * stride-0 or overlapping view can name far more elements than its storage holds, so the copies
 * of one file together may not exceed its storages' elements plus this allowance (64 MiB of
 * float32).
 */
const COPY_ALLOWANCE = 1 << 24;

/** What copying views may still produce, in elements, for one checkpoint. */
interface CopyBudget {
  left: number;
  readonly total: number;
}

/**
 * The host tensor of a view: its storage's memory itself when the view is a contiguous row-major
 * range (so views of one storage share memory, as in PyTorch), else a row-major copy, charged to
 * the checkpoint's copy budget.
 */
function realize(p: TensorView, name: string, source: string, budget: CopyBudget): Tensor {
  const { storage, offset, size, stride } = p;
  const fail = (msg: string): never => {
    throw new PtFormatError(
      `${source}: tensor ${name || "(root)"}: ${msg} (size ${shapeStr(size)}, stride ${
        shapeStr(stride)
      }, offset ${offset}, storage "${storage.key}" of ${storage.numel} elements)`,
    );
  };
  if (size.length !== stride.length) {
    fail(`size has ${size.length} dimensions but stride ${stride.length}`);
  }
  if (size.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    fail("size is not a list of integers >= 0");
  }
  if (stride.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    fail("stride is not a list of integers >= 0");
  }
  if (!Number.isSafeInteger(offset) || offset < 0) fail("offset is not an integer >= 0");
  const n = sizeOf(size);
  if (!Number.isSafeInteger(n)) fail(`the view has ${n} elements`);
  const numel = storage.numel;
  if (n === 0) {
    if (offset > numel) fail("offset lies past the end of the storage");
  } else {
    let last = offset;
    for (let i = 0; i < size.length; i++) last += (size[i] - 1) * stride[i];
    if (last >= numel) fail(`the view reaches element ${last}, past the end of the storage`);
  }
  const dtype = storage.dtype;
  const src = storage.data;
  const rowMajor = stridesOf(size);
  if (size.every((d, i) => d === 1 || stride[i] === rowMajor[i])) {
    return { dtype, shape: [...size], data: src.subarray(offset, offset + n) as DataOf[DType] };
  }
  if (n > budget.left) {
    fail(
      `copying the view's ${n} elements would exceed the checkpoint's budget for copied views (${budget.total} elements: its storages' elements plus ${COPY_ALLOWANCE}; ${budget.left} left): refusing to expand it`,
    );
  }
  budget.left -= n;
  const out = allocate(dtype, n);
  // deno-lint-ignore no-explicit-any
  const s = src as any, d = out as any;
  const r = size.length;
  const idx = new Array<number>(r).fill(0);
  let off = offset;
  for (let o = 0; o < n; o++) {
    d[o] = s[off];
    for (let a = r - 1; a >= 0; a--) {
      if (++idx[a] < size[a]) {
        off += stride[a];
        break;
      }
      off -= (size[a] - 1) * stride[a];
      idx[a] = 0;
    }
  }
  return { dtype, shape: [...size], data: out };
}

/**
 * Replaces every tensor view in the unpickled object by its host tensor, in place (the
 * unpickler has already refused cycles and deep nesting).
 */
function materialize(root: unknown, source: string, storages: Iterable<TorchStorage>): unknown {
  let total = COPY_ALLOWANCE;
  for (const st of storages) total += st.numel;
  const budget: CopyBudget = { left: total, total };
  const done = new Map<TensorView, Tensor>();
  const seen = new Set<object>();
  const visit = (v: unknown, path: string): unknown => {
    if (v instanceof TensorView) {
      let t = done.get(v);
      if (!t) done.set(v, t = realize(v, path, source, budget));
      return t;
    }
    if (v instanceof TorchStorage) return { dtype: v.dtype, shape: [v.data.length], data: v.data };
    if (typeof v !== "object" || v === null || seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = visit(v[i], `${path}[${i}]`);
    } else if (v instanceof Map) {
      for (const [k, x] of v) v.set(k, visit(x, childPath(path, k)));
    } else if (v instanceof Set) {
      const items = [...v];
      v.clear();
      items.forEach((x, i) => v.add(visit(x, `${path}{${i}}`)));
    } else if (isPickleRecord(v)) {
      for (const k of Object.keys(v)) v[k] = visit(v[k], childPath(path, k));
    }
    return v;
  };
  return visit(root, "");
}

/** The first bytes of the legacy format: a pickled magic number 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function isLegacy(bytes: Uint8Array): boolean {
  if (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar") {
    return true;
  }
  return bytes[0] === 0x80 && LEGACY_MAGIC.every((b, i) => bytes[2 + i] === b);
}

/** Finds the archive folder: the single top-level folder holding `data.pkl`. */
function archivePrefix(files: ZipArchive, source: string): string {
  const tops = new Set(files.names.map((n) => n.split("/")[0]));
  const withPickle = [...tops].filter((t) => files.has(`${t}/data.pkl`));
  if (withPickle.length === 0) {
    throw new PtFormatError(
      `${source}: no <archive>/data.pkl in the zip (entries: ${
        files.names.slice(0, 5).join(", ")
      }): not a torch.save checkpoint`,
    );
  }
  if (tops.size !== 1) {
    throw new PtFormatError(
      `${source}: expected one top-level folder in the zip, found ${[...tops].sort().join(", ")}`,
    );
  }
  return withPickle[0];
}

/**
 * Parses checkpoint bytes (a `torch.save` zip) into plain values with host tensors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTorchCheckpoint } from "./torch_pt.ts";
 * import { zipSync } from "npm:fflate@0.8.3";
 * // torch.save({"w": torch.tensor([1.0, 2.0])}) made by hand: the pickle (protocol 2, as
 * // pickletools.optimize leaves it) and the storage's raw float32 bytes
 * const pkl = "\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00" +
 *   "storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQ" +
 *   "K\x00K\x02\x85K\x01\x85\x89)tRs.";
 * const bytes = zipSync({
 *   "archive/data.pkl": Uint8Array.from(pkl, (c) => c.charCodeAt(0)),
 *   "archive/data/0": new Uint8Array(new Float32Array([1, 2]).buffer),
 * });
 * const obj = parseTorchCheckpoint(bytes, { source: "w.pt" }) as Map<string, unknown>;
 * obj.get("w"); // { dtype: "float32", shape: [2], data: Float32Array [1, 2] }
 * assert.deepEqual(obj.get("w"), { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) });
 * ```
 */
export function parseTorchCheckpoint(
  bytes: Uint8Array,
  options: TorchCheckpointOptions = {},
): unknown {
  const source = options.source ?? "<bytes>";
  if (!looksLikeZip(bytes)) {
    if (isLegacy(bytes)) {
      throw new PtFormatError(
        `${source}: legacy (pre-1.6) torch.save format is not supported; re-save with torch >= 1.6`,
      );
    }
    if (bytes[0] === 0x80) {
      throw new PtFormatError(
        `${source}: a bare pickle stream, not a torch.save zip archive (legacy (pre-1.6) torch.save format is not supported; re-save with torch >= 1.6)`,
      );
    }
    throw new PtFormatError(
      `${source}: not a PyTorch checkpoint (not a zip archive, ${bytes.length} bytes)`,
    );
  }
  try {
    const files = openZip(bytes, source);
    const prefix = archivePrefix(files, source);
    const order = files.has(`${prefix}/byteorder`) ? files.read(`${prefix}/byteorder`) : undefined;
    if (order && new TextDecoder().decode(order).trim() !== "little") {
      throw new PtFormatError(
        `${source}: ${prefix}/byteorder says "${
          new TextDecoder().decode(order).trim()
        }"; only little-endian checkpoints are supported`,
      );
    }
    const storages = new Map<string, TorchStorage>();
    const persistentLoad = (pid: unknown): TorchStorage => {
      if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
        throw new Error(
          `persistent id ${pickleTypeName(pid)} is not ('storage', type, key, location, numel)`,
        );
      }
      const [, type, key, , numelRaw] = pid;
      const kindName = type instanceof PickleGlobal && type.module === "torch" ? type.name : "";
      const kind = TORCH_STORAGES[kindName];
      if (!kind) throw new Error(`storage type ${pickleTypeName(type)} is not supported`);
      if (typeof key !== "string") {
        throw new Error(`storage key is ${pickleTypeName(key)}, not a string`);
      }
      const numel = typeof numelRaw === "number" || typeof numelRaw === "bigint"
        ? Number(numelRaw)
        : NaN;
      if (!Number.isSafeInteger(numel) || numel < 0) {
        const got = Number.isNaN(numel) ? pickleTypeName(numelRaw) : String(numelRaw);
        throw new Error(`storage "${key}": numel ${got} is not an integer >= 0`);
      }
      const cacheKey = `${key}\u0000${kindName}`;
      let st = storages.get(cacheKey);
      if (!st) {
        const path = `${prefix}/data/${key}`;
        if (!files.has(path)) {
          throw new Error(`storage "${key}" (${path}) is missing from the archive`);
        }
        // Checked before reading: only storages the pickle names are ever inflated.
        if (files.size(path) !== numel * kind.bytes) {
          throw new Error(
            `storage "${key}" (${path}) holds ${
              files.size(path)
            } bytes, but ${numel} ${kindName} elements need ${numel * kind.bytes}`,
          );
        }
        st = new TorchStorage(key, kind.dtype, numel, () => kind.decode(files.read(path)));
        storages.set(cacheKey, st);
      }
      return st;
    };
    const value = unpickle(files.read(`${prefix}/data.pkl`), {
      source: `${source} (${prefix}/data.pkl)`,
      globals: TORCH_GLOBALS,
      recordClasses: options.recordClasses,
      persistentLoad,
    });
    return materialize(value, source, storages.values());
  } catch (e) {
    if (e instanceof PtFormatError) throw e;
    if (e instanceof ZipError || e instanceof PickleError) {
      throw new PtFormatError(e.message, { cause: e });
    }
    throw e;
  }
}

/**
 * Reads a `torch.save` checkpoint (a path or its bytes) without executing any of it: the
 * unpickled object, with tensors as host Tensors, dicts as Maps and record classes as
 * `{ __class__, ...fields }`.
 *
 * @example
 * ```ts
 * import { readTorchCheckpoint } from "./torch_pt.ts";
 * import { zipSync } from "npm:fflate@0.8.3";
 * // torch.save({"w": torch.tensor([1.0, 2.0])}) made by hand: the pickle (protocol 2, as
 * // pickletools.optimize leaves it) and the storage's raw float32 bytes
 * const pkl = "\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00" +
 *   "storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQ" +
 *   "K\x00K\x02\x85K\x01\x85\x89)tRs.";
 * const bytes = zipSync({
 *   "archive/data.pkl": Uint8Array.from(pkl, (c) => c.charCodeAt(0)),
 *   "archive/data/0": new Uint8Array(new Float32Array([1, 2]).buffer),
 * });
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/w.pt`, bytes);
 * const ckpt = await readTorchCheckpoint(`${dir}/w.pt`) as Map<string, unknown>;
 * ckpt.get("w"); // { dtype: "float32", shape: [2], data: Float32Array [1, 2] }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example
 * A GPT-2 small transcoder checkpoint reads the same way (not run here: those files, hundreds
 * of MB each, are not part of the repository):
 *
 * ```ts ignore
 * import { readTorchCheckpoint } from "./torch_pt.ts";
 * const ckpt = await readTorchCheckpoint("final_sparse_autoencoder_gpt2-small_blocks.8.ln2.hook_normalized_24576.pt", {
 *   recordClasses: ["sae_training.config.LanguageModelSAERunnerConfig"],
 * }) as Map<string, unknown>;
 * (ckpt.get("state_dict") as Map<string, unknown>).get("W_enc"); // { dtype: "float32", shape: [768, 24576], ... }
 * ```
 */
export async function readTorchCheckpoint(
  pathOrBytes: string | Uint8Array,
  options: TorchCheckpointOptions = {},
): Promise<unknown> {
  if (typeof pathOrBytes !== "string") return parseTorchCheckpoint(pathOrBytes, options);
  const bytes = await readInputFile(pathOrBytes, (m) => new PtFormatError(m));
  return parseTorchCheckpoint(bytes, { ...options, source: options.source ?? pathOrBytes });
}

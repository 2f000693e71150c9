/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header mapping tensor
 * names to `{dtype, shape, data_offsets}` (plus an optional `__metadata__` of strings), then the
 * raw little-endian tensor bytes. Reading validates every field before touching data; writing
 * goes to a temporary file renamed into place, so a failure never leaves a half-written file.
 *
 * Floating-point tensors (F32, F16, BF16) load as float32 host tensors; I32 and I64 keep their
 * integer types. Writing stores float32 tensors as F32, F16 or BF16.
 *
 * @module
 */
import { type DType, shapeStr, sizeOf, type Tensor } from "../tensor/tensor.ts";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half.ts";
import { jsonTooDeep, MAX_JSON_DEPTH, readInputFile } from "./_input_file.ts";

/**
 * Raised for a malformed or unsupported safetensors file; the message names the file and field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSafetensors, SafetensorsError } from "./safetensors.ts";
 * assert.throws(() => parseSafetensors(new Uint8Array(4), "w.safetensors"), SafetensorsError);
 * // SafetensorsError: w.safetensors: file is 4 bytes, too short for a safetensors header
 * ```
 */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** The storage dtypes this reader accepts. */
export type SafetensorsDType = "F32" | "F16" | "BF16" | "I32" | "I64";

const bytesOf: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

/** A parsed file: tensors by name (in file order) and the string metadata. */
export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  /** The dtype each tensor had on disk. */
  storedDtypes: Map<string, SafetensorsDType>;
  metadata: Record<string, string>;
}

/** Largest header accepted (the reference implementation's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

/**
 * The first key that appears twice in one object of a JSON text (which `JSON.parse` would
 * silently resolve to its last value), or undefined. The text must already be valid JSON.
 */
function duplicateJsonKey(text: string): string | undefined {
  const objects: (Set<string> | null)[] = []; // one entry per open {…} (a Set) or […] (null)
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const keys = objects[objects.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === "{") {
      objects.push(new Set());
      expectKey = true;
    } else if (c === "[") {
      objects.push(null);
      expectKey = false;
    } else if (c === "}" || c === "]") objects.pop();
    else if (c === ",") expectKey = objects[objects.length - 1] !== null;
  }
  return undefined;
}

function copyAligned(bytes: Uint8Array, start: number, end: number): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer;
}

/**
 * Parses safetensors bytes. `source` names the file in error messages.
 *
 * @example
 * ```ts
 * import { parseSafetensors, serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors({ w: { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) } });
 * parseSafetensors(bytes).tensors.get("w")?.shape; // [2]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER) fail(`header length ${headerLen} exceeds ${MAX_HEADER}`);
  if (8 + headerLen > bytes.length) {
    fail(
      `header length ${headerLen} runs past the end of the file (${bytes.length} bytes): truncated?`,
    );
  }
  let header: Record<string, unknown>;
  let headerText = "";
  try {
    headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    header = JSON.parse(headerText);
  } catch (e) {
    return fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  if (jsonTooDeep(header)) {
    fail(`header nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const duplicate = duplicateJsonKey(headerText);
  if (duplicate !== undefined) {
    fail(
      `header holds the key ${
        JSON.stringify(duplicate)
      } twice (a JSON object's keys must be unique)`,
    );
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: {
    name: string;
    dtype: SafetensorsDType;
    shape: number[];
    begin: number;
    end: number;
  }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof info !== "object" || info === null) fail("__metadata__ is not an object");
      for (const [k, v] of Object.entries(info as object)) {
        if (typeof v !== "string") fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== "object" || t === null) fail(`tensor "${name}": entry is not an object`);
    if (typeof t.dtype !== "string" || !(t.dtype in bytesOf)) {
      fail(
        `tensor "${name}": unsupported dtype ${
          JSON.stringify(t.dtype)
        } (expected one of F32, F16, BF16, I32, I64)`,
      );
    }
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      fail(
        `tensor "${name}": shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`,
      );
    }
    const off = t.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || off.some((d) =>
        !Number.isSafeInteger(d) || d < 0
      ) || off[0] > off[1]
    ) {
      fail(
        `tensor "${name}": data_offsets ${
          JSON.stringify(off)
        } are not [begin, end] with begin <= end`,
      );
    }
    const dtype = t.dtype as SafetensorsDType;
    const shape = t.shape as number[];
    const [begin, end] = off as number[];
    const want = sizeOf(shape) * bytesOf[dtype];
    if (end - begin !== want) {
      fail(
        `tensor "${name}": ${dtype} ${shapeStr(shape)} needs ${want} bytes but data_offsets span ${
          end - begin
        }`,
      );
    }
    if (end > dataLen) {
      fail(
        `tensor "${name}": data_offsets end ${end} beyond the ${dataLen} data bytes: truncated file?`,
      );
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // Tensors must tile the data area without overlap (as the format requires); a zero-size tensor
  // sorts before a tensor that begins where it does, as in the reference reader.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin !== cursor) {
      fail(
        `tensor "${e.name}": data_offsets begin ${e.begin}, expected ${cursor} (gap or overlap)`,
      );
    }
    cursor = e.end;
  }
  if (cursor !== dataLen) fail(`${dataLen - cursor} trailing bytes after the last tensor`);

  const tensors = new Map<string, Tensor>();
  const storedDtypes = new Map<string, SafetensorsDType>();
  for (const e of entries) {
    const buf = copyAligned(bytes, dataStart + e.begin, dataStart + e.end);
    let t: Tensor;
    switch (e.dtype) {
      case "F32":
        t = { dtype: "float32", shape: e.shape, data: new Float32Array(buf) };
        break;
      case "F16":
        t = { dtype: "float32", shape: e.shape, data: f16ToF32(new Uint16Array(buf)) };
        break;
      case "BF16":
        t = { dtype: "float32", shape: e.shape, data: bf16ToF32(new Uint16Array(buf)) };
        break;
      case "I32":
        t = { dtype: "int32", shape: e.shape, data: new Int32Array(buf) };
        break;
      case "I64":
        t = { dtype: "int64", shape: e.shape, data: new BigInt64Array(buf) };
        break;
    }
    tensors.set(e.name, t);
    storedDtypes.set(e.name, e.dtype);
  }
  return { tensors, storedDtypes, metadata };
}

/**
 * Reads a safetensors file.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const w = { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) } as const;
 * await writeSafetensors(`${dir}/w.safetensors`, { w }, { metadata: { step: "3" } });
 * const { tensors, metadata } = await readSafetensors(`${dir}/w.safetensors`);
 * tensors.get("w")?.data; // Float32Array [1, 2]
 * metadata; // { step: "3" }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readInputFile(path, (m) => new SafetensorsError(m)), path);
}

/** How to store a float32 tensor: its on-disk dtype. */
export interface SerializeOptions {
  /** On-disk dtype for float32 tensors (default F32). */
  floatDtype?: "F32" | "F16" | "BF16";
  metadata?: Record<string, string>;
}

const hostToStored: Partial<Record<DType, SafetensorsDType>> = { int32: "I32", int64: "I64" };

/**
 * Serialises tensors (in the given key order) to safetensors bytes.
 *
 * @example
 * ```ts
 * import { serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors({ b: { dtype: "float32", shape: [1], data: new Float32Array([0]) } }, { floatDtype: "F16" });
 * ```
 */
export function serializeSafetensors(
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  { floatDtype = "F32", metadata }: SerializeOptions = {},
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    let dtype: SafetensorsDType;
    let raw: ArrayBufferView;
    if (t.dtype === "float32" || t.dtype === "float64") {
      const f = t.dtype === "float32"
        ? t.data as Float32Array
        : Float32Array.from(t.data as Float64Array);
      dtype = floatDtype;
      raw = floatDtype === "F32" ? f : floatDtype === "F16" ? f32ToF16(f) : f32ToBf16(f);
    } else if (hostToStored[t.dtype]) {
      dtype = hostToStored[t.dtype]!;
      raw = t.data;
    } else {
      throw new SafetensorsError(`tensor "${name}": cannot store dtype ${t.dtype}`);
    }
    if (sizeOf(t.shape) !== t.data.length) {
      throw new SafetensorsError(
        `tensor "${name}": shape ${shapeStr(t.shape)} does not match ${t.data.length} values`,
      );
    }
    const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let p = 8 + head.length;
  for (const b of blobs) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

/**
 * Writes tensors to a safetensors file atomically (a temporary file renamed into place).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const w = { dtype: "float32", shape: [3], data: new Float32Array([0.1, 1, -2]) } as const;
 * await writeSafetensors(`${dir}/w.safetensors`, { w }, { floatDtype: "BF16" });
 * const file = await readSafetensors(`${dir}/w.safetensors`);
 * file.storedDtypes.get("w"); // "BF16"
 * assert.deepEqual(file.tensors.get("w")?.data, new Float32Array([0.10009765625, 1, -2]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  options: SerializeOptions = {},
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, options));
}

/**
 * Writes bytes to `path` through a temporary file and a rename, so readers never see half a file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.txt`, new TextEncoder().encode("hello"));
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "hello");
 * [...Deno.readDirSync(dir)].map((e) => e.name); // ["a.txt"] (no temporary file left)
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Date.now()}`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

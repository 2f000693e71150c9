import assert from "node:assert/strict";
import {
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  serializeSafetensors,
  writeSafetensors,
} from "../../lib/formats/safetensors.ts";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../lib/formats/half.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { assertRefused } from "../helpers/within_budget.ts";
import { f32Bytes } from "./pickle_bytes.ts";

const f32 = (values: number[], shape: number[]): Tensor => ({
  dtype: "float32",
  shape,
  data: Float32Array.from(values),
});

/** Builds a file from a raw header object and data bytes, to craft malformed inputs. */
function rawFile(header: unknown, data: Uint8Array, headerLenOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLenOverride ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("safetensors round-trips F32, I32 and I64 tensors with metadata and key order", () => {
  const bytes = serializeSafetensors({
    w: f32([1, -2.5, 3, 4e-8, 5, 6], [2, 3]),
    ids: { dtype: "int32", shape: [3], data: Int32Array.from([7, -8, 9]) },
    big: { dtype: "int64", shape: [2], data: BigInt64Array.from([1n, -(2n ** 40n)]) },
    s: f32([42], []),
  }, { metadata: { format: "pt" } });
  const { tensors, metadata, storedDtypes } = parseSafetensors(bytes);
  assert.deepEqual([...tensors.keys()], ["w", "ids", "big", "s"]);
  assert.deepEqual(tensors.get("w")!.shape, [2, 3]);
  assert.deepEqual(
    Array.from(tensors.get("w")!.data as Float32Array),
    Array.from(Float32Array.from([1, -2.5, 3, 4e-8, 5, 6])),
  );
  assert.deepEqual(Array.from(tensors.get("ids")!.data as Int32Array), [7, -8, 9]);
  assert.deepEqual(Array.from(tensors.get("big")!.data as BigInt64Array), [1n, -(2n ** 40n)]);
  assert.deepEqual(tensors.get("s")!.shape, []);
  assert.equal(metadata.format, "pt");
  assert.equal(storedDtypes.get("big"), "I64");
  // data area starts 8-byte aligned
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0);
});

Deno.test("safetensors stores float32 as F16 and BF16 with round-to-nearest-even", () => {
  const values = [0, 1, -2, 0.1, 65504, 1e-7, -3.14159, 1e5];
  const t = f32(values, [values.length]);
  const h = parseSafetensors(serializeSafetensors({ t }, { floatDtype: "F16" })).tensors.get("t")!
    .data as Float32Array;
  const expectedF16 = [
    0,
    1,
    -2,
    0.0999755859375,
    65504,
    1.1920928955078125e-7,
    -3.140625,
    Infinity,
  ];
  assert.deepEqual(Array.from(h), expectedF16);
  const b = parseSafetensors(serializeSafetensors({ t }, { floatDtype: "BF16" })).tensors.get("t")!
    .data as Float32Array;
  assert.deepEqual(Array.from(b), [
    0,
    1,
    -2,
    0.10009765625,
    65536,
    1.0011717677116394e-7,
    -3.140625,
    99840,
  ]);
});

Deno.test("half conversions are exact on every finite float16 value", () => {
  const bits = new Uint16Array(65536);
  for (let i = 0; i < bits.length; i++) bits[i] = i;
  const f = f16ToF32(bits);
  const back = f32ToF16(f);
  for (let i = 0; i < bits.length; i++) {
    const exp = (i >> 10) & 0x1f;
    if (exp === 31 && (i & 0x3ff)) continue; // NaN payloads are not preserved bit-for-bit
    assert.equal(back[i], i, `half ${i.toString(16)} -> ${f[i]} -> ${back[i].toString(16)}`);
  }
  assert.equal(f16ToF32(new Uint16Array([0x0001]))[0], 2 ** -24);
  assert.equal(bf16ToF32(f32ToBf16(new Float32Array([NaN])))[0], NaN);
});

Deno.test("parseSafetensors rejects a truncated file, naming the tensor", () => {
  const bytes = serializeSafetensors({ a: f32([1, 2], [2]), b: f32([3, 4, 5], [3]) });
  assert.throws(
    () => parseSafetensors(bytes.subarray(0, bytes.length - 4), "m.safetensors"),
    (e) => {
      assert.ok(e instanceof SafetensorsError);
      assert.match(
        e.message,
        /^m\.safetensors: tensor "b": data_offsets end 20 beyond the 16 data bytes: truncated file\?/,
      );
      return true;
    },
  );
  assert.throws(() => parseSafetensors(bytes.subarray(0, 5)), /too short for a safetensors header/);
  assert.throws(
    () => parseSafetensors(bytes.subarray(0, 30)),
    /header length \d+ runs past the end of the file/,
  );
});

Deno.test("parseSafetensors rejects bad dtypes, shapes, offsets and headers", () => {
  const four = new Uint8Array(4);
  const cases: [unknown, Uint8Array, RegExp][] = [
    [
      { x: { dtype: "F64", shape: [1], data_offsets: [0, 8] } },
      new Uint8Array(8),
      /tensor "x": unsupported dtype "F64"/,
    ],
    [
      { x: { dtype: "F32", shape: [2], data_offsets: [0, 4] } },
      four,
      /F32 \[2\] needs 8 bytes but data_offsets span 4/,
    ],
    [
      { x: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } },
      four,
      /shape \[-1\] is not a list of non-negative integers/,
    ],
    [
      { x: { dtype: "F32", shape: [1], data_offsets: [4, 0] } },
      four,
      /data_offsets \[4,0\] are not \[begin, end\]/,
    ],
    [
      {
        x: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
        y: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      },
      four,
      /gap or overlap/,
    ],
    [
      { x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } },
      new Uint8Array(8),
      /4 trailing bytes/,
    ],
    [[1, 2], four, /header is not a JSON object/],
    [{ __metadata__: { a: 1 } }, new Uint8Array(0), /__metadata__\.a is not a string/],
  ];
  for (const [header, data, re] of cases) {
    assert.throws(() => parseSafetensors(rawFile(header, data)), re);
  }
  const bad = rawFile({}, new Uint8Array(0));
  bad[8] = 0xff; // invalid UTF-8 / JSON
  assert.throws(() => parseSafetensors(bad), /header is not valid UTF-8 JSON/);
  assert.throws(() => parseSafetensors(rawFile({}, four, 2 ** 40)), /exceeds/);
});

Deno.test("writeSafetensors writes atomically and readSafetensors names a missing file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/w.safetensors`;
  await writeSafetensors(path, { w: f32([1, 2, 3], [3]) });
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["w.safetensors"]);
  const { tensors } = await readSafetensors(path);
  assert.deepEqual(Array.from(tensors.get("w")!.data as Float32Array), [1, 2, 3]);
  // A failing write (a tensor that cannot be stored) leaves the good file in place.
  await assert.rejects(
    writeSafetensors(path, { w: { dtype: "bool", shape: [1], data: new Uint8Array(1) } }),
    /cannot store dtype bool/,
  );
  assert.equal((await readSafetensors(path)).tensors.get("w")!.shape[0], 3);
  await assert.rejects(
    readSafetensors(`${dir}/missing.safetensors`),
    /missing\.safetensors: file not found/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseSafetensors refuses duplicate keys, which JSON.parse would silently merge", async () => {
  const data = new Uint8Array(8);
  const entry = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
  const withHeader = (json: string) => {
    const head = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + head.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
    out.set(head, 8);
    out.set(data, 8 + head.length);
    return out;
  };
  await assertRefused(
    () => parseSafetensors(withHeader(`{"w":${entry},"w":${entry}}`), "d.safetensors"),
    SafetensorsError,
    /^d\.safetensors: header holds the key "w" twice \(a JSON object's keys must be unique\)$/,
  );
  // The same key written with an escape is the same key; keys inside entries count too.
  await assertRefused(
    () => parseSafetensors(withHeader(`{"w":${entry},"\\u0077":${entry}}`), "e.safetensors"),
    SafetensorsError,
    /holds the key "w" twice/,
  );
  await assertRefused(
    () =>
      parseSafetensors(
        withHeader('{"w":{"dtype":"F32","shape":[2],"dtype":"I32","data_offsets":[0,8]}}'),
        "f.safetensors",
      ),
    SafetensorsError,
    /holds the key "dtype" twice/,
  );
  // Equal strings as values, or in arrays, are not keys.
  const ok = withHeader(`{"__metadata__":{"a":"w","b":"w"},"w":${entry}}`);
  assert.deepEqual(parseSafetensors(ok).metadata, { a: "w", b: "w" });
});

Deno.test("zero-size tensors are valid anywhere in the offset order", () => {
  const header = {
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    z1: { dtype: "F32", shape: [0], data_offsets: [0, 0] },
    z2: { dtype: "F32", shape: [3, 0], data_offsets: [8, 8] },
    b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
    z3: { dtype: "I64", shape: [0, 5], data_offsets: [12, 12] },
  };
  const file = parseSafetensors(rawFile(header, f32Bytes([1, 2, 3])));
  assert.deepEqual([...file.tensors.keys()], ["a", "z1", "z2", "b", "z3"]);
  assert.deepEqual(file.tensors.get("z2")!.shape, [3, 0]);
  assert.deepEqual(Array.from(file.tensors.get("b")!.data as Float32Array), [3]);
});

Deno.test("readSafetensors on a directory says so", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(readSafetensors(dir), {
    name: "SafetensorsError",
    message: `${dir} is a directory, expected a file`,
  });
  await Deno.remove(dir);
});

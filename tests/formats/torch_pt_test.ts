/**
 * torch.save checkpoints: PyTorch-written fixtures (tests/fixtures/make_pt_fixtures.py) of every
 * storage dtype and of strided views, equal to the expected values PyTorch stored in
 * safetensors; and the errors for corrupt, legacy, hostile and inconsistent files (the latter
 * built here as zips around hand-written pickles).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { unzipSync, zipSync } from "fflate";
import { readSafetensors } from "../../lib/formats/safetensors.ts";
import {
  parseTorchCheckpoint,
  PtFormatError,
  readTorchCheckpoint,
} from "../../lib/formats/torch_pt.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { assertRefused } from "../helpers/within_budget.ts";
import {
  checkpointZip,
  dictPickle,
  f32Bytes,
  glob,
  k,
  O,
  pk,
  tensorPickle,
  uni,
} from "./pickle_bytes.ts";
import { buildZip } from "./zip_bytes.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/pt/${name}`, import.meta.url));

Deno.test("every dtype, strided view, scalar and empty tensor equals PyTorch's values exactly", async () => {
  const { tensors: expected } = await readSafetensors(fixture("dtypes_expected.safetensors"));
  const wantDtype: Record<string, string> = {
    f64: "float64",
    i32: "int32",
    i64: "int64",
    bool: "bool",
    permuted3: "int64",
  };
  for (const file of ["dtypes.pt", "dtypes_p4.pt"]) {
    const got = await readTorchCheckpoint(fixture(file)) as Map<string, Tensor>;
    assert.ok(got instanceof Map);
    assert.deepEqual([...got.keys()], [...expected.keys()], file);
    for (const [name, e] of expected) {
      const t = got.get(name)!;
      assert.deepEqual(t.shape, e.shape, `${file} ${name} shape`);
      assert.equal(t.dtype, wantDtype[name] ?? "float32", `${file} ${name} dtype`);
      if (t.dtype === "float64") {
        assert.deepEqual(
          Float32Array.from(t.data as Float64Array),
          e.data,
          `${file} ${name} values`,
        );
      } else if (t.dtype === "bool") {
        assert.deepEqual(Int32Array.from(t.data as Uint8Array), e.data, `${file} ${name} values`);
      } else {
        assert.deepEqual(t.data, e.data, `${file} ${name} values`);
      }
    }
    assert.deepEqual(Array.from(got.get("f64")!.data as Float64Array), [
      1 / 3,
      -2.5e-300,
      1e300,
      7,
    ]);
    assert.deepEqual(Array.from(got.get("bool")!.data as Uint8Array), [1, 0, 1]);
    assert.equal(got.get("f16")!.data[5], Infinity);
    assert.deepEqual(got.get("scalar")!.shape, []);
    assert.deepEqual(got.get("empty")!.shape, [0, 3]);
  }
});

Deno.test("views of one storage share its memory where they can; strided views are copied", async () => {
  const got = await readTorchCheckpoint(fixture("strided.pt")) as Map<string, Tensor<"float32">>;
  const base = got.get("base")!, v = got.get("view")!;
  assert.deepEqual(Array.from(base.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(v.shape, [2, 2]);
  assert.deepEqual(Array.from(v.data), [4, 6, 8, 10]); // t[1:, ::2]: strided, so a copy
  v.data[0] = -1;
  assert.equal(base.data[4], 4);
  // Contiguous views (rows 0 and 1 of one [2, 3] storage, and the whole) share its memory.
  const bytes = checkpointZip(
    dictPickle([
      ["all", tensorPickle("0", 6, 0, [2, 3], [3, 1])],
      ["row0", tensorPickle("0", 6, 0, [3], [1])],
      ["row1", tensorPickle("0", 6, 3, [3], [1])],
    ]),
    { "0": f32Bytes([0, 1, 2, 3, 4, 5]) },
  );
  const m = parseTorchCheckpoint(bytes) as Map<string, Tensor<"float32">>;
  const all = m.get("all")!, row1 = m.get("row1")!;
  assert.deepEqual(Array.from(row1.data), [3, 4, 5]);
  assert.equal(row1.data.buffer, all.data.buffer);
  assert.equal(m.get("row0")!.data.buffer, all.data.buffer);
  row1.data[0] = 30; // as in PyTorch, a write through one view shows in the others
  assert.equal(all.data[3], 30);
});

Deno.test("a hand-built checkpoint: offsets, strides, zero strides and the archive name", () => {
  // storage "0" = [0..9]; views: [2,3] stride [1,2] offset 1 (a transpose), [3] stride [0] (expand)
  const bytes = checkpointZip(
    dictPickle([["t", tensorPickle("0", 10, 1, [2, 3], [1, 2])], [
      "e",
      tensorPickle("0", 10, 9, [3], [0]),
    ]]),
    { "0": f32Bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) },
    "some_other_name",
  );
  const got = parseTorchCheckpoint(bytes) as Map<string, Tensor<"float32">>;
  assert.deepEqual(Array.from(got.get("t")!.data), [1, 3, 5, 2, 4, 6]);
  assert.deepEqual(Array.from(got.get("e")!.data), [9, 9, 9]);
});

Deno.test("a view outside its storage is an error naming the tensor", () => {
  const bytes = checkpointZip(dictPickle([["W_enc", tensorPickle("0", 4, 1, [2, 2], [2, 1])]]), {
    "0": f32Bytes([1, 2, 3, 4]),
  });
  assert.throws(() => parseTorchCheckpoint(bytes, { source: "bad.pt" }), {
    name: "PtFormatError",
    message:
      'bad.pt: tensor W_enc: the view reaches element 4, past the end of the storage (size [2, 2], stride [2, 1], offset 1, storage "0" of 4 elements)',
  });
  const huge = checkpointZip(
    dictPickle([["e", tensorPickle("0", 1, 0, [255, 255, 255, 2], [0, 0, 0, 0])]]),
    {
      "0": f32Bytes([1]),
    },
  );
  assert.throws(
    () => parseTorchCheckpoint(huge, { source: "h.pt" }),
    /^PtFormatError: h\.pt: tensor e: copying the view's 33162750 elements would exceed the checkpoint's budget for copied views \(16777217 elements: its storages' elements plus 16777216; 16777217 left\): refusing to expand it/,
  );
  const nested = checkpointZip(
    pk(
      O.PROTO2,
      O.EMPTY_DICT,
      ...uni("state_dict"),
      O.EMPTY_DICT,
      ...uni("b"),
      ...tensorPickle("0", 2, 2, [1], [1]),
      O.SETITEM,
      O.SETITEM,
      O.STOP,
    ),
    { "0": f32Bytes([1, 2]) },
  );
  assert.throws(
    () => parseTorchCheckpoint(nested, { source: "n.pt" }),
    /^PtFormatError: n\.pt: tensor state_dict\.b: the view reaches element 2/,
  );
});

Deno.test("storage errors: wrong byte length, missing file, unknown storage type", () => {
  const p = dictPickle([["w", tensorPickle("0", 4, 0, [4], [1])]]);
  assert.throws(
    () => parseTorchCheckpoint(checkpointZip(p, { "0": f32Bytes([1, 2, 3]) }), { source: "s.pt" }),
    {
      message:
        's.pt (archive/data.pkl): BINPERSID at offset 94: storage "0" (archive/data/0) holds 12 bytes, but 4 FloatStorage elements need 16',
    },
  );
  assert.throws(
    () => parseTorchCheckpoint(checkpointZip(p, {}), { source: "s.pt" }),
    /storage "0" \(archive\/data\/0\) is missing from the archive/,
  );
  const q = dictPickle([["w", tensorPickle("0", 4, 0, [4], [1], "ComplexFloatStorage")]]);
  assert.throws(
    () => parseTorchCheckpoint(checkpointZip(q, { "0": new Uint8Array(32) }), { source: "s.pt" }),
    /pickle global "torch.ComplexFloatStorage" is not allowed/,
  );
  // the same storage read by two tensors is decoded once and both see it
  const r = dictPickle([["a", tensorPickle("0", 4, 0, [2], [1])], [
    "b",
    tensorPickle("0", 4, 2, [2], [1]),
  ]]);
  const got = parseTorchCheckpoint(checkpointZip(r, { "0": f32Bytes([1, 2, 3, 4]) })) as Map<
    string,
    Tensor
  >;
  assert.deepEqual(Array.from(got.get("b")!.data as Float32Array), [3, 4]);
});

Deno.test("layout errors: no data.pkl, two top-level folders, big-endian byte order", () => {
  const p = dictPickle([]);
  assert.throws(
    () => parseTorchCheckpoint(zipSync({ "a/other": new Uint8Array(1) }), { source: "z.pt" }),
    /^PtFormatError: z\.pt: no <archive>\/data\.pkl in the zip \(entries: a\/other\): not a torch\.save checkpoint$/,
  );
  const two = zipSync({ "a/data.pkl": p, "b/data.pkl": p });
  assert.throws(() => parseTorchCheckpoint(two, { source: "z.pt" }), {
    message: "z.pt: expected one top-level folder in the zip, found a, b",
  });
  const be = checkpointZip(p, {}, "archive", {
    "archive/byteorder": new TextEncoder().encode("big"),
  });
  assert.throws(
    () => parseTorchCheckpoint(be, { source: "z.pt" }),
    /archive\/byteorder says "big"; only little-endian/,
  );
  const le = checkpointZip(p, {}, "archive", {
    "archive/byteorder": new TextEncoder().encode("little"),
  });
  assert.deepEqual(parseTorchCheckpoint(le), new Map());
});

Deno.test("corrupt, legacy, non-zip and missing files give clear errors naming the file", async () => {
  const path = fixture("corrupt.pt");
  await assert.rejects(readTorchCheckpoint(path), (e: Error) => {
    assert.ok(e instanceof PtFormatError);
    assert.ok(e.message.startsWith(`${path}: corrupt or truncated zip archive`), e.message);
    return true;
  });
  const legacy = fixture("legacy.pt");
  await assert.rejects(readTorchCheckpoint(legacy), {
    message:
      `${legacy}: legacy (pre-1.6) torch.save format is not supported; re-save with torch >= 1.6`,
  });
  assert.throws(
    () => parseTorchCheckpoint(pk(O.PROTO2, O.NONE, O.STOP), { source: "p.pkl" }),
    /^PtFormatError: p\.pkl: a bare pickle stream, not a torch\.save zip archive/,
  );
  assert.throws(() => parseTorchCheckpoint(new Uint8Array([1, 2, 3]), { source: "r.bin" }), {
    message: "r.bin: not a PyTorch checkpoint (not a zip archive, 3 bytes)",
  });
  await assert.rejects(readTorchCheckpoint("/nonexistent/x.pt"), {
    message: "/nonexistent/x.pt: file not found",
  });
});

Deno.test("hostile and unknown-opcode checkpoints are refused before anything runs", async () => {
  const hostile = fixture("hostile.pt");
  await assert.rejects(readTorchCheckpoint(hostile), (e: Error) => {
    assert.ok(e instanceof PtFormatError);
    assert.ok(
      e.message.startsWith(
        `${hostile} (archive/data.pkl): pickle global "posix.system" is not allowed (allowed: `,
      ),
      e.message,
    );
    return true;
  });
  const unknown = fixture("unknown_opcode.pt");
  await assert.rejects(readTorchCheckpoint(unknown), {
    message: `${unknown} (unknown_opcode/data.pkl): unknown pickle opcode 0xff at offset 5`,
  });
  // a global smuggled into a storage type's place is refused the same way
  const files = unzipSync(await Deno.readFile(fixture("strided.pt")));
  const pklName = Object.keys(files).find((n) => n.endsWith("/data.pkl"))!;
  const evil = String.fromCharCode(...files[pklName]).replace(
    "torch\nFloatStorage\n",
    "posix\nsystem\n",
  );
  files[pklName] = Uint8Array.from(evil, (c) => c.charCodeAt(0));
  assert.throws(
    () => parseTorchCheckpoint(zipSync(files, { level: 0 })),
    /pickle global "posix\.system" is not allowed/,
  );
});

Deno.test("stride-0 views cannot expand a tiny storage beyond the checkpoint's copy budget", async () => {
  // Each view names 8M elements of a one-element storage (allowed alone); together they would
  // copy 40M elements (160 MB) out of a file of a few hundred bytes.
  const views = Array.from(
    { length: 5 },
    (_, i) =>
      [`e${i}`, tensorPickle("0", 1, 0, [128, 128, 128, 4], [0, 0, 0, 0])] as [
        string,
        number[],
      ],
  );
  const bytes = checkpointZip(dictPickle(views), { "0": f32Bytes([1]) });
  assert.ok(bytes.length < 2000);
  await assertRefused(
    () => parseTorchCheckpoint(bytes, { source: "x.pt" }),
    PtFormatError,
    /^x\.pt: tensor e2: copying the view's 8388608 elements would exceed the checkpoint's budget for copied views \(16777217 elements: its storages' elements plus 16777216; 1 left\)/,
  );
});

Deno.test("zip entries the checkpoint never names are never inflated", () => {
  const pkl = dictPickle([["w", tensorPickle("0", 2, 0, [2], [1])]]);
  // A lying deflate bomb beside the real entries: 64 MiB of zeros declared as 10 bytes.
  const zeros = new Uint8Array(64 << 20);
  const bytes = buildZip([
    { name: "archive/data.pkl", data: pkl },
    { name: "archive/data/0", data: f32Bytes([1, 2]) },
    { name: "archive/data/99", data: zeros, deflate: true, size: 10 },
  ]);
  const got = parseTorchCheckpoint(bytes) as Map<string, Tensor>;
  assert.deepEqual(Array.from(got.get("w")!.data as Float32Array), [1, 2]);
  // Named, the same entry is refused at once.
  const named = dictPickle([["w", tensorPickle("99", 10, 0, [1], [1], "ByteStorage")]]);
  assert.throws(
    () =>
      parseTorchCheckpoint(
        buildZip([
          { name: "archive/data.pkl", data: named },
          { name: "archive/data/99", data: zeros, deflate: true, size: 10 },
        ]),
        { source: "b.pt" },
      ),
    /^PtFormatError: b\.pt: entry "archive\/data\/99": inflates to more than the 10 bytes it declares$/,
  );
});

Deno.test("a tensor used as a dict key is refused: no internal object leaks out", async () => {
  const bytes = checkpointZip(
    pk(O.PROTO2, O.EMPTY_DICT, ...tensorPickle("0", 1, 0, [1], [1]), ...k(1), O.SETITEM, O.STOP),
    { "0": f32Bytes([1]) },
  );
  await assertRefused(
    () => parseTorchCheckpoint(bytes, { source: "key.pt" }),
    PtFormatError,
    /^key\.pt \(archive\/data\.pkl\): SETITEM at offset \d+: a dict key is a TensorView \(only None, bool, int, float, str, bytes, globals and tuples of them are accepted\)$/,
  );
});

Deno.test("a tensor size that holds a list instead of an integer is refused (found by the fuzzer)", async () => {
  // size = ([[...]]), 5,000 lists deep: Number() of it recursed through toString.
  const nested = [...new Array(5000).fill(O.EMPTY_LIST), ...new Array(4999).fill(0x61)];
  const bytes = checkpointZip(
    pk(
      O.PROTO2,
      O.EMPTY_DICT,
      ...uni("w"),
      ...glob("torch._utils", "_rebuild_tensor_v2"),
      O.MARK,
      O.MARK,
      ...uni("storage"),
      ...glob("torch", "FloatStorage"),
      ...uni("0"),
      ...uni("cpu"),
      ...k(1),
      O.TUPLE,
      O.BINPERSID,
      ...k(0),
      O.MARK,
      ...nested,
      O.TUPLE,
      O.MARK,
      ...k(1),
      O.TUPLE,
      O.NEWFALSE,
      O.EMPTY_TUPLE,
      O.TUPLE,
      O.REDUCE,
      O.SETITEM,
      O.STOP,
    ),
    { "0": f32Bytes([1]) },
  );
  await assertRefused(
    () => parseTorchCheckpoint(bytes, { source: "s.pt" }),
    PtFormatError,
    /torch\._utils\._rebuild_tensor_v2\(\.\.\.\): size\[0\] is list\/tuple of 1, not an integer$/,
  );
});

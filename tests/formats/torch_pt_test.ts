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
import { checkpointZip, dictPickle, f32Bytes, O, pk, tensorPickle, uni } from "./pickle_bytes.ts";

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

Deno.test("tensors that share a storage are copied out as independent contiguous tensors", async () => {
  const got = await readTorchCheckpoint(fixture("strided.pt")) as Map<string, Tensor<"float32">>;
  const base = got.get("base")!, v = got.get("view")!;
  assert.deepEqual(Array.from(base.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(v.shape, [2, 2]);
  assert.deepEqual(Array.from(v.data), [4, 6, 8, 10]); // t[1:, ::2]
  v.data[0] = -1;
  assert.equal(base.data[4], 4);
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
    /^PtFormatError: h\.pt: tensor e: the view has 33162750 elements, more than its storage and than 16777216: refusing to expand it/,
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

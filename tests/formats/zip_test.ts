import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { looksLikeZip, readZip, ZipError } from "../../lib/formats/zip.ts";

Deno.test("readZip returns stored and deflated files by path and skips directories", () => {
  const big = new Uint8Array(5000).fill(7);
  const bytes = zipSync({
    "a/": {},
    "a/b.bin": [Uint8Array.from([1, 2, 3]), { level: 0 }],
    "a/c.bin": [big, { level: 9 }],
  });
  assert.ok(looksLikeZip(bytes));
  const files = readZip(bytes, "t.zip");
  assert.deepEqual([...files.keys()].sort(), ["a/b.bin", "a/c.bin"]);
  assert.deepEqual(files.get("a/b.bin"), Uint8Array.from([1, 2, 3]));
  assert.deepEqual(files.get("a/c.bin"), big);
});

Deno.test("readZip names the file when it is not a zip or is truncated", () => {
  assert.throws(() => readZip(new TextEncoder().encode("hello"), "x.bin"), {
    name: "ZipError",
    message: 'x.bin: not a zip archive (it does not start with "PK\\x03\\x04")',
  });
  const bytes = zipSync({ "a/b": new Uint8Array(100) }, { level: 0 });
  assert.throws(() => readZip(bytes.subarray(0, 60), "half.zip"), (e: Error) => {
    assert.ok(e instanceof ZipError);
    assert.match(e.message, /^half\.zip: corrupt or truncated zip archive \(.+; 60 bytes\)$/);
    return true;
  });
});

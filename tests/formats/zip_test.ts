/**
 * The zip reader: archives written by fflate, and hostile archives written byte by byte
 * (zip_bytes.ts) that must be refused, each within the loaders' budget (1 s, 200 MB).
 */
import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { crc32, looksLikeZip, openZip, ZipError } from "../../lib/formats/zip.ts";
import { assertRefused } from "../helpers/within_budget.ts";
import { buildZip, localFile } from "./zip_bytes.ts";

const refused = (f: () => unknown, message: RegExp) => assertRefused(f, ZipError, message);

const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill);

Deno.test("openZip reads stored and deflated files by path and skips directories", () => {
  const big = bytes(5000, 7);
  const zipped = zipSync({
    "a/": {},
    "a/b.bin": [Uint8Array.from([1, 2, 3]), { level: 0 }],
    "a/c.bin": [big, { level: 9 }],
  });
  assert.ok(looksLikeZip(zipped));
  const zip = openZip(zipped, "t.zip");
  assert.deepEqual(zip.names.sort(), ["a/b.bin", "a/c.bin"]);
  assert.deepEqual(zip.read("a/b.bin"), Uint8Array.from([1, 2, 3]));
  assert.deepEqual(zip.read("a/c.bin"), big);
  assert.equal(zip.size("a/c.bin"), 5000);
  // A stored entry is a view of the archive's bytes, not a copy.
  assert.equal(zip.read("a/b.bin").buffer, zipped.buffer);
  // Our own writer agrees with fflate, zip64 records included.
  const z64 = buildZip([{ name: "x", data: big, zip64: true, deflate: true }], { zip64End: true });
  assert.deepEqual(openZip(z64).read("x"), big);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("openZip names the file when it is not a zip or is truncated", async () => {
  assert.throws(() => openZip(new TextEncoder().encode("hello"), "x.bin"), {
    name: "ZipError",
    message: 'x.bin: not a zip archive (it does not start with "PK\\x03\\x04")',
  });
  const zipped = zipSync({ "a/b": bytes(100) }, { level: 0 });
  await refused(
    () => openZip(zipped.subarray(0, 60), "half.zip"),
    /^half\.zip: corrupt or truncated zip archive \(no end-of-central-directory record\) \(60 bytes\)$/,
  );
});

Deno.test("records that overlap or point at the same data are refused", async () => {
  // Entry "b"'s local header lies inside entry "a"'s data.
  const inner = localFile({ name: "b", data: bytes(10, 2) });
  const outer = new Uint8Array(inner.length + 8);
  outer.set(inner, 4);
  const overlapping = buildZip([
    { name: "a", data: outer },
    { name: "b", data: bytes(10, 2), localOffset: 30 + 1 + 4 },
  ]);
  await refused(() => openZip(overlapping, "o.zip"), /entries "a" and "b" overlap/);
  // Two records of one name at one local header.
  const twice = buildZip([{ name: "a", data: bytes(10) }, {
    name: "a",
    data: bytes(10),
    localOffset: 0,
  }]);
  await refused(() => openZip(twice, "t.zip"), /entry "a" appears twice in the central directory/);
  // A record pointing at another entry's local header.
  const other = buildZip([{ name: "a", data: bytes(10) }, {
    name: "c",
    data: bytes(10),
    localOffset: 0,
  }]);
  await refused(
    () => openZip(other, "c.zip"),
    /entry "c": the local header at offset 0 names another/,
  );
});

Deno.test("declared sizes that lie are refused, before and while inflating", async () => {
  await refused(
    () => openZip(buildZip([{ name: "s", data: bytes(64), size: 1 << 30 }])).read("s"),
    /entry "s" is stored, but its sizes differ \(64 stored, 1073741824 declared\)/,
  );
  // Deflated: 1 MiB of zeros is ~1 KB; declaring 100 bytes stops the inflater at once.
  const mb = bytes(1 << 20);
  await refused(
    () => openZip(buildZip([{ name: "d", data: mb, deflate: true, size: 100 }])).read("d"),
    /entry "d": inflates to more than the 100 bytes it declares/,
  );
  await refused(
    () => openZip(buildZip([{ name: "d", data: bytes(100), deflate: true, size: 200 }])).read("d"),
    /entry "d": inflates to 100 bytes, but declares 200/,
  );
  // A size beyond what deflate can produce from the compressed bytes is refused at open.
  await refused(
    () => openZip(buildZip([{ name: "d", data: bytes(10), deflate: true, size: 2 ** 31 }])),
    /entry "d" claims 2147483648 bytes from \d+ compressed, beyond what deflate can do/,
  );
  // 0xFFFFFFFF with no zip64 record to say what it stands for.
  await refused(
    () => openZip(buildZip([{ name: "z", data: bytes(10), size: 0xffffffff }])),
    /entry "z" declares a size or offset of 0xFFFFFFFF without a zip64 extra field/,
  );
  await refused(
    () => openZip(buildZip([{ name: "z", data: bytes(10), compressedSize: 0xffffffff }])),
    /entry "z" declares a size or offset of 0xFFFFFFFF without a zip64 extra field/,
  );
});

Deno.test("the archive's total inflated size has a budget, whatever each entry's ratio", async () => {
  // 200 entries of 1 MiB zeros: each ratio is legal (~1000:1), the file ~220 KB, the total
  // 200 MiB, over 64 MiB + 16 x the file's size.
  const mib = bytes(1 << 20);
  const entries = Array.from(
    { length: 200 },
    (_, i) => ({ name: `e${i}`, data: mib, deflate: true }),
  );
  const zipped = buildZip(entries);
  assert.ok(zipped.length < 300_000);
  const zip = openZip(zipped, "bomb.zip");
  await refused(
    () => zip.names.forEach((n) => zip.read(n)),
    /^bomb\.zip: entry "e\d+": inflating its 1048576 bytes would bring the archive's inflated total to \d+, over the budget of \d+ bytes/,
  );
  // Entries that are never read cost nothing.
  assert.equal(openZip(zipped, "bomb.zip").read("e0").length, 1 << 20);
});

Deno.test("a CRC-32 mismatch is refused, for stored and deflated entries", async () => {
  for (const deflate of [false, true]) {
    const zipped = buildZip([{ name: "c", data: bytes(50, 3), deflate, crc: 1234 }]);
    await refused(
      () => openZip(zipped, "crc.zip").read("c"),
      /^crc\.zip: entry "c": CRC-32 is 0x[0-9a-f]{8}, but the central directory says 0x000004d2: corrupt$/,
    );
  }
});

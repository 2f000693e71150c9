/**
 * Reading zip archives (the container of `torch.save` checkpoints since PyTorch 1.6) from bytes
 * that may be hostile. The central directory is parsed and checked here before any entry is
 * touched:
 *
 * 1. The end-of-central-directory record (zip64 when a field is saturated) locates the central
 *    directory, which must lie inside the file; each record is parsed once (stored or deflated
 *    entries only; encrypted ones and unknown methods are refused).
 * 2. A size or offset of 0xFFFFFFFF must come with its zip64 extra field; names are unique; every
 *    entry's local header must agree with its record, and the entries' byte ranges (local header
 *    and data) must lie before the central directory without overlapping one another.
 * 3. Entries are inflated only when read, never more than they declare, and the archive's total
 *    inflated bytes stay within a budget proportional to the file's size; every entry's CRC-32 is
 *    checked. A stored entry is returned as a view of the archive's bytes (no copy).
 *
 * Deflate itself is done by the npm library `fflate`, in chunks, so an entry that inflates to
 * more than it declares stops at once.
 *
 * @module
 */
import { Inflate } from "npm:fflate@0.8.3";

/**
 * Raised for a file that is not a readable zip archive; the message names the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openZip, ZipError } from "./zip.ts";
 * assert.throws(() => openZip(new Uint8Array([1, 2, 3, 4]), "x.zip"), ZipError);
 * // ZipError: x.zip: not a zip archive (it does not start with "PK\x03\x04")
 * ```
 */
export class ZipError extends Error {
  override name = "ZipError";
}

/**
 * Whether bytes start like a zip archive (an empty archive, `PK\x05\x06`, counts too).
 *
 * @example
 * ```ts
 * import { looksLikeZip } from "./zip.ts";
 * looksLikeZip(new Uint8Array([0x50, 0x4b, 0x03, 0x04])); // true
 * ```
 */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[2] === 0x05 && bytes[3] === 0x06));
}

/** One file of an archive, as its central-directory record describes it. */
interface ZipEntry {
  /** 0 stored, 8 deflated. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Where the entry's data starts (after its local header). */
  dataStart: number;
}

/** Options of {@linkcode openZip}. */
export interface OpenZipOptions {
  /**
   * Most bytes that reading deflated entries may produce in total (default: 64 MiB plus 16 times
   * the archive's size). Stored entries cost nothing: they are views of the archive.
   */
  maxInflatedBytes?: number;
}

const SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50, SIG_ZIP64_EOCD = 0x06064b50;
const U32_MAX = 0xffffffff, U16_MAX = 0xffff;
/** Deflate cannot expand data more than about 1032:1. */
const MAX_DEFLATE_RATIO = 1032;
/** Input bytes handed to the inflater at a time (bounds how far one step can overshoot). */
const INFLATE_CHUNK = 16 * 1024;

/**
 * An opened archive: its file names, and their bytes on demand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipSync } from "npm:fflate@0.8.3";
 * import { openZip } from "./zip.ts";
 * const bytes = zipSync({ "a/b.txt": new Uint8Array([104, 105]), "a/c.bin": new Uint8Array(9) });
 * const zip = openZip(bytes, "demo.zip");
 * zip.names; // ["a/b.txt", "a/c.bin"]
 * zip.read("a/b.txt"); // Uint8Array [104, 105]
 * assert.equal(zip.size("a/c.bin"), 9);
 * assert.throws(() => zip.read("nope"), /demo\.zip: no entry "nope"/);
 * ```
 */
export class ZipArchive {
  readonly #bytes: Uint8Array;
  readonly #entries: Map<string, ZipEntry>;
  readonly #source: string;
  readonly #budget: number;
  #inflated = 0;

  /** Use {@linkcode openZip}. */
  constructor(bytes: Uint8Array, entries: Map<string, ZipEntry>, source: string, budget: number) {
    this.#bytes = bytes;
    this.#entries = entries;
    this.#source = source;
    this.#budget = budget;
  }

  /** The files' paths inside the archive, in central-directory order (directories left out). */
  get names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Whether the archive has a file at this path. */
  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The declared (uncompressed) size of a file, in bytes. */
  size(name: string): number {
    return this.#entry(name).size;
  }

  /** A file's bytes, checked against its declared size and CRC-32. */
  read(name: string): Uint8Array {
    const e = this.#entry(name);
    const fail = (msg: string): never => {
      throw new ZipError(`${this.#source}: entry "${name}": ${msg}`);
    };
    const raw = this.#bytes.subarray(e.dataStart, e.dataStart + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else {
      if (this.#inflated + e.size > this.#budget) {
        fail(
          `inflating its ${e.size} bytes would bring the archive's inflated total to ${
            this.#inflated + e.size
          }, over the budget of ${this.#budget} bytes for a ${this.#bytes.length}-byte file`,
        );
      }
      data = inflateExactly(raw, e.size, fail);
      this.#inflated += e.size;
    }
    const crc = crc32(data);
    if (crc !== e.crc32) {
      fail(`CRC-32 is ${hex32(crc)}, but the central directory says ${hex32(e.crc32)}: corrupt`);
    }
    return data;
  }

  #entry(name: string): ZipEntry {
    const e = this.#entries.get(name);
    if (!e) throw new ZipError(`${this.#source}: no entry "${name}" in the archive`);
    return e;
  }
}

const hex32 = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;

function inflateExactly(raw: Uint8Array, size: number, fail: (msg: string) => never): Uint8Array {
  const out = new Uint8Array(size);
  let n = 0;
  let done = false;
  const inflater = new Inflate((chunk, final) => {
    if (n + chunk.length > size) fail(`inflates to more than the ${size} bytes it declares`);
    out.set(chunk, n);
    n += chunk.length;
    if (final) done = true;
  });
  try {
    if (raw.length === 0) inflater.push(raw, true);
    for (let i = 0; i < raw.length && !done; i += INFLATE_CHUNK) {
      inflater.push(raw.subarray(i, i + INFLATE_CHUNK), i + INFLATE_CHUNK >= raw.length);
    }
  } catch (e) {
    if (e instanceof ZipError) throw e;
    fail(`corrupt deflate data (${(e as Error).message})`);
  }
  if (n !== size) fail(`inflates to ${n} bytes, but declares ${size}`);
  return out;
}

/**
 * Opens a zip archive held in memory, checking its structure (see the module doc); nothing is
 * inflated yet. `source` names the archive in error messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipSync } from "npm:fflate@0.8.3";
 * import { openZip, ZipError } from "./zip.ts";
 * const bytes = zipSync({ "x.bin": new Uint8Array(4096) }); // deflated
 * const zip = openZip(bytes, "a.zip");
 * assert.deepEqual(zip.read("x.bin"), new Uint8Array(4096));
 * // A budget smaller than what the entry inflates to refuses it before inflating anything:
 * assert.throws(() => openZip(bytes, "a.zip", { maxInflatedBytes: 1000 }).read("x.bin"), ZipError);
 * ```
 */
export function openZip(
  bytes: Uint8Array,
  source = "<bytes>",
  { maxInflatedBytes = 64 * 2 ** 20 + 16 * bytes.length }: OpenZipOptions = {},
): ZipArchive {
  const fail = (msg: string): never => {
    throw new ZipError(`${source}: ${msg} (${bytes.length} bytes)`);
  };
  if (!looksLikeZip(bytes)) {
    throw new ZipError(`${source}: not a zip archive (it does not start with "PK\\x03\\x04")`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number, what: string): number => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is too large`);
    return Number(v);
  };
  // 1. The end of central directory: 22 bytes, followed by a comment of up to 65535 bytes.
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - U16_MAX); o--) {
    if (u32(o) === SIG_EOCD && o + 22 + u16(o + 20) === bytes.length) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) fail("corrupt or truncated zip archive (no end-of-central-directory record)");
  let count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16);
  let cdEnd = eocd;
  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== SIG_ZIP64_LOCATOR) {
      fail("the end-of-central-directory record is saturated (0xFFFF...) but has no zip64 locator");
    }
    const z = u64(loc + 8, "zip64 end record offset");
    if (z + 56 > loc || u32(z) !== SIG_ZIP64_EOCD) {
      fail(`the zip64 locator points at offset ${z}, where no zip64 end record is`);
    }
    count = u64(z + 32, "zip64 entry count");
    cdSize = u64(z + 40, "zip64 central directory size");
    cdOffset = u64(z + 48, "zip64 central directory offset");
    cdEnd = z;
  }
  if (cdOffset + cdSize > cdEnd) {
    fail(
      `corrupt or truncated zip archive (the central directory [${cdOffset}, ${
        cdOffset + cdSize
      }) runs past its end record at ${cdEnd})`,
    );
  }
  if (count * 46 > cdSize) {
    fail(
      `the archive claims ${count} entries, more than its ${cdSize}-byte central directory holds`,
    );
  }
  // 2. The central-directory records.
  const names = new TextDecoder("utf-8");
  const entries = new Map<string, ZipEntry>();
  const ranges: { start: number; end: number; name: string }[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || u32(p) !== SIG_CENTRAL) {
      fail(`central-directory record ${i} at offset ${p} is missing or corrupt`);
    }
    const flags = u16(p + 8), method = u16(p + 10), crc = u32(p + 16);
    const nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) fail(`central-directory record ${i} runs past the directory`);
    const nameBytes = bytes.subarray(p + 46, p + 46 + nameLen);
    const name = names.decode(nameBytes);
    const at = `entry "${name}"`;
    let compressedSize = u32(p + 20), size = u32(p + 24), localOffset = u32(p + 42);
    // Zip64 extra field (id 0x0001): the saturated fields, in this order.
    const want = [size, compressedSize, localOffset].filter((v) => v === U32_MAX).length;
    if (want > 0) {
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      let found = false;
      while (x + 4 <= xEnd) {
        const id = u16(x), len = u16(x + 2);
        if (x + 4 + len > xEnd) break;
        if (id === 0x0001) {
          if (len < 8 * want) {
            fail(`${at}: its zip64 extra field holds ${len} bytes, needs ${8 * want}`);
          }
          let q = x + 4;
          if (size === U32_MAX) size = u64((q += 8) - 8, `${at}: size`);
          if (compressedSize === U32_MAX) compressedSize = u64((q += 8) - 8, `${at}: size`);
          if (localOffset === U32_MAX) localOffset = u64((q += 8) - 8, `${at}: offset`);
          found = true;
          break;
        }
        x += 4 + len;
      }
      if (!found) {
        fail(`${at} declares a size or offset of 0xFFFFFFFF without a zip64 extra field`);
      }
    }
    p = next;
    if (name.endsWith("/") && size === 0) continue; // a directory
    if (flags & 1) fail(`${at} is encrypted`);
    if (method !== 0 && method !== 8) {
      fail(`${at} uses compression method ${method} (only stored and deflated are supported)`);
    }
    if (method === 0 && compressedSize !== size) {
      fail(`${at} is stored, but its sizes differ (${compressedSize} stored, ${size} declared)`);
    }
    if (method === 8 && size > MAX_DEFLATE_RATIO * compressedSize + 1024) {
      fail(
        `${at} claims ${size} bytes from ${compressedSize} compressed, beyond what deflate can do`,
      );
    }
    if (entries.has(name)) fail(`${at} appears twice in the central directory`);
    // The local header: its name must be this record's, and its data must lie in the file.
    if (localOffset + 30 > cdOffset || u32(localOffset) !== SIG_LOCAL) {
      fail(`${at}: no local header at offset ${localOffset}`);
    }
    const lName = u16(localOffset + 26), lExtra = u16(localOffset + 28);
    const dataStart = localOffset + 30 + lName + lExtra;
    const local = bytes.subarray(localOffset + 30, localOffset + 30 + lName);
    if (lName !== nameLen || local.some((b, j) => b !== nameBytes[j])) {
      fail(`${at}: the local header at offset ${localOffset} names another file`);
    }
    if (dataStart + compressedSize > cdOffset) {
      fail(
        `${at}: its ${compressedSize} data bytes at offset ${dataStart} run into the central directory at ${cdOffset}`,
      );
    }
    entries.set(name, {
      method,
      crc32: crc,
      compressedSize,
      size,
      dataStart,
    });
    ranges.push({ start: localOffset, end: dataStart + compressedSize, name });
  }
  // The entries' bytes may not overlap (two records pointing at the same data, say).
  ranges.sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].start < ranges[i - 1].end) {
      fail(
        `entries "${ranges[i - 1].name}" and "${ranges[i].name}" overlap (bytes ${
          ranges[i].start
        }..${ranges[i - 1].end})`,
      );
    }
  }
  return new ZipArchive(bytes, entries, source, maxInflatedBytes);
}

/** CRC-32 (IEEE) tables for slicing by 8. */
const CRC_TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >>> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
})();

/**
 * The CRC-32 (IEEE 802.3, as zip uses it) of bytes.
 *
 * @example
 * ```ts
 * import { crc32 } from "./zip.ts";
 * crc32(new TextEncoder().encode("123456789")).toString(16); // "cbf43926"
 * ```
 */
export function crc32(data: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
  let c = 0xffffffff;
  let i = 0;
  const n8 = data.length - (data.length % 8);
  for (; i < n8; i += 8) {
    const a = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>>
      0;
    c = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
  }
  for (; i < data.length; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

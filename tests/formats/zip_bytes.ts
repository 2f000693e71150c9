/**
 * Zip archives written byte by byte, with every field of their records under the test's control
 * (sizes, CRCs, offsets), so tests can build the hostile archives that no zip library writes.
 */
import { deflateSync } from "fflate";
import { crc32 } from "../../lib/formats/zip.ts";
import { concat } from "../fuzz/byte_mutators.ts";

/** One entry to write. Fields left out get their true values. */
export interface RawEntry {
  name: string;
  data: Uint8Array;
  /** Deflate the data (default: stored). */
  deflate?: boolean;
  crc?: number;
  /** The uncompressed size the records declare. */
  size?: number;
  /** The compressed size the records declare. */
  compressedSize?: number;
  /** Write no local header: the central record points at this offset instead. */
  localOffset?: number;
  /** Move the sizes into a zip64 extra field (the records say 0xFFFFFFFF). */
  zip64?: boolean;
}

const enc = new TextEncoder();
const deflated = new WeakMap<Uint8Array, Uint8Array>();

/** The bytes an entry stores: its data, or its data deflated (once per data array). */
function body(e: RawEntry): Uint8Array {
  if (!e.deflate) return e.data;
  let d = deflated.get(e.data);
  if (!d) deflated.set(e.data, d = deflateSync(e.data));
  return d;
}

function record(fields: [number, 2 | 4 | 8][], tail: Uint8Array[] = []): Uint8Array {
  const head = fields.reduce((n, [, w]) => n + w, 0);
  const out = new Uint8Array(head + tail.reduce((n, t) => n + t.length, 0));
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const [v, w] of fields) {
    if (w === 2) dv.setUint16(p, v, true);
    else if (w === 4) dv.setUint32(p, v >>> 0, true);
    else dv.setBigUint64(p, BigInt(v), true);
    p += w;
  }
  for (const t of tail) {
    out.set(t, p);
    p += t.length;
  }
  return out;
}

/** The local header of an entry followed by its (possibly deflated) data. */
export function localFile(e: RawEntry): Uint8Array {
  const stored = body(e);
  const name = enc.encode(e.name);
  const head = record([
    [0x04034b50, 4],
    [20, 2],
    [0, 2],
    [e.deflate ? 8 : 0, 2],
    [0, 4],
    [e.crc ?? crc32(e.data), 4],
    [e.zip64 ? 0xffffffff : e.compressedSize ?? stored.length, 4],
    [e.zip64 ? 0xffffffff : e.size ?? e.data.length, 4],
    [name.length, 2],
    [0, 2],
  ], [name]);
  return concat(head, stored);
}

/**
 * An archive of the entries, in order, with a zip64 end record on request.
 *
 * @example
 * ```ts
 * import { openZip } from "../../lib/formats/zip.ts";
 * import { buildZip } from "./zip_bytes.ts";
 * const bytes = buildZip([{ name: "a", data: new Uint8Array([1, 2]) }]);
 * openZip(bytes).read("a"); // Uint8Array [1, 2]
 * ```
 */
export function buildZip(entries: RawEntry[], { zip64End = false } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    let at = e.localOffset;
    if (at === undefined) {
      const file = localFile(e);
      parts.push(file);
      at = offset;
      offset += file.length;
    }
    const name = enc.encode(e.name);
    const csize = e.compressedSize ?? body(e).length, usize = e.size ?? e.data.length;
    const extra = e.zip64 ? record([[1, 2], [16, 2], [usize, 8], [csize, 8]]) : new Uint8Array();
    central.push(record([
      [0x02014b50, 4],
      [45, 2],
      [20, 2],
      [0, 2],
      [e.deflate ? 8 : 0, 2],
      [0, 4],
      [e.crc ?? crc32(e.data), 4],
      [e.zip64 ? 0xffffffff : csize, 4],
      [e.zip64 ? 0xffffffff : usize, 4],
      [name.length, 2],
      [extra.length, 2],
      [0, 2],
      [0, 2],
      [0, 2],
      [0, 4],
      [at, 4],
    ], [name, extra]));
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const tail: Uint8Array[] = [];
  if (zip64End) {
    const z = offset + cdSize;
    tail.push(record([
      [0x06064b50, 4],
      [44, 8],
      [45, 2],
      [45, 2],
      [0, 4],
      [0, 4],
      [entries.length, 8],
      [entries.length, 8],
      [cdSize, 8],
      [offset, 8],
    ]));
    tail.push(record([[0x07064b50, 4], [0, 4], [z, 8], [1, 4]]));
  }
  tail.push(record([
    [0x06054b50, 4],
    [0, 2],
    [0, 2],
    [zip64End ? 0xffff : entries.length, 2],
    [zip64End ? 0xffff : entries.length, 2],
    [zip64End ? 0xffffffff : cdSize, 4],
    [zip64End ? 0xffffffff : offset, 4],
    [0, 2],
  ]));
  return concat(...parts, ...central, ...tail);
}

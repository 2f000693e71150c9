/**
 * Mutations that know the zip layout: they locate the end-of-central-directory record
 * (`PK\x05\x06`), the central-directory records (`PK\x01\x02`) and the local headers they point
 * at (`PK\x03\x04`), and rewrite their fields (sizes, 0xFFFFFFFF included, offsets, counts,
 * method, flags, CRC, name lengths), duplicate a central record, point two records at one local
 * header, add zip64 extra fields and zip64 end records, or change an entry's data and fix its CRC
 * so that the bytes pass the CRC check.
 *
 * @module
 */
import { crc32 } from "../../lib/formats/zip.ts";
import { boundaryValue, concat, type Mutator, randomChunk, writeInt } from "./byte_mutators.ts";
import { chance, pick, type Rng } from "./rng.ts";

const SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_EOCD = 0x06054b50;

/** Offset and width of each field of a record. */
type Fields = Readonly<Record<string, readonly [number, number]>>;

const EOCD_FIELDS: Fields = {
  disk: [4, 2],
  cdDisk: [6, 2],
  diskCount: [8, 2],
  count: [10, 2],
  cdSize: [12, 4],
  cdOffset: [16, 4],
  commentLength: [20, 2],
};
const CENTRAL_FIELDS: Fields = {
  versionNeeded: [6, 2],
  flags: [8, 2],
  method: [10, 2],
  crc: [16, 4],
  compressedSize: [20, 4],
  size: [24, 4],
  nameLength: [28, 2],
  extraLength: [30, 2],
  commentLength: [32, 2],
  diskStart: [34, 2],
  localOffset: [42, 4],
};
const LOCAL_FIELDS: Fields = {
  flags: [6, 2],
  method: [8, 2],
  crc: [14, 4],
  compressedSize: [18, 4],
  size: [22, 4],
  nameLength: [26, 2],
  extraLength: [28, 2],
};

/** Where a zip's records are. */
export interface ZipLayout {
  /** Offset of the end-of-central-directory record. */
  eocd: number;
  cdOffset: number;
  cdSize: number;
  /** Offsets of the central records, in order. */
  centrals: number[];
  /** Offset of each central record's local header (`-1` where none is). */
  locals: number[];
}

const u16 = (b: Uint8Array, o: number) => o + 2 <= b.length ? b[o] | (b[o + 1] << 8) : -1;
const u32 = (b: Uint8Array, o: number) =>
  o >= 0 && o + 4 <= b.length
    ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
    : -1;

/**
 * Finds a zip's records; `undefined` when there is no end-of-central-directory record.
 *
 * @example
 * ```ts
 * import { zipSync } from "fflate";
 * import { zipLayout } from "./zip_mutators.ts";
 * const z = zipLayout(zipSync({ "a": new Uint8Array(3), "b": new Uint8Array(1) }, { level: 0 }));
 * z?.centrals.length; // 2
 * z?.locals[0]; // 0
 * ```
 */
export function zipLayout(bytes: Uint8Array): ZipLayout | undefined {
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - 0xffff); o--) {
    if (u32(bytes, o) === SIG_EOCD) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) return undefined;
  const cdOffset = u32(bytes, eocd + 16), cdSize = u32(bytes, eocd + 12);
  const centrals: number[] = [], locals: number[] = [];
  for (
    let p = cdOffset;
    p + 46 <= eocd && u32(bytes, p) === SIG_CENTRAL && centrals.length < 1000;
  ) {
    centrals.push(p);
    const lo = u32(bytes, p + 42);
    locals.push(u32(bytes, lo) === SIG_LOCAL ? lo : -1);
    p += 46 + u16(bytes, p + 28) + u16(bytes, p + 30) + u16(bytes, p + 32);
  }
  return { eocd, cdOffset, cdSize, centrals, locals };
}

/**
 * Whether the fuzzer may hand these bytes to fflate's `unzipSync` (which trusts the archive: it
 * allocates what a record declares, and loops over as many records as the end record, or a zip64
 * locator just before it, claims): a plain end record, no zip64 locator, counts that match the
 * central records found, each declaring at most 16 MiB and pointing at a local header.
 *
 * @example
 * ```ts
 * import { zipSync } from "fflate";
 * import { safeToUnzip } from "./zip_mutators.ts";
 * safeToUnzip(zipSync({ a: new Uint8Array(3) })); // true
 * ```
 */
export function safeToUnzip(bytes: Uint8Array): boolean {
  const z = zipLayout(bytes);
  if (!z || z.cdOffset === 0xffffffff || z.cdSize === 0xffffffff) return false;
  if (u32(bytes, z.eocd - 20) === 0x07064b50) return false; // fflate then trusts a zip64 count
  const n = z.centrals.length;
  return u16(bytes, z.eocd + 8) === n && u16(bytes, z.eocd + 10) === n &&
    z.locals.every((l) => l >= 0) &&
    z.centrals.every((c) => u32(bytes, c + 24) < 1 << 24 && u32(bytes, c + 20) < 1 << 24);
}

const centralLength = (b: Uint8Array, p: number) =>
  46 + u16(b, p + 28) + u16(b, p + 30) + u16(b, p + 32);

/** The bytes with the central records replaced by `records` and the end record patched to match. */
function rewriteCentral(b: Uint8Array, z: ZipLayout, records: Uint8Array[]): Uint8Array {
  const cd = concat(...records);
  const end = z.centrals.length
    ? z.centrals[z.centrals.length - 1] + centralLength(b, z.centrals[z.centrals.length - 1])
    : z.cdOffset;
  const out = concat(b.subarray(0, z.cdOffset), cd, b.subarray(Math.max(end, z.cdOffset)));
  const eocd = z.eocd + cd.length - (Math.max(end, z.cdOffset) - z.cdOffset);
  writeInt(out, eocd + 8, 2, BigInt(records.length));
  writeInt(out, eocd + 10, 2, BigInt(records.length));
  writeInt(out, eocd + 12, 4, BigInt(cd.length));
  return out;
}

const centralRecords = (b: Uint8Array, z: ZipLayout): Uint8Array[] =>
  z.centrals.map((p) => b.slice(p, p + centralLength(b, p)));

/** A mutator of a zip with at least one central record; `f` edits a copy in place or returns new bytes. */
function onZip(
  name: string,
  weight: number,
  f: (out: Uint8Array, z: ZipLayout, rng: Rng) => Uint8Array | void,
  needsRecord = true,
): Mutator {
  return {
    name: `zip.${name}`,
    weight,
    apply(bytes, rng) {
      const z = zipLayout(bytes);
      if (!z || (needsRecord && z.centrals.length === 0)) return undefined;
      const out = bytes.slice();
      return f(out, z, rng) ?? out;
    },
  };
}

/** Sets one field of the record at `at` to a boundary value or a value related to the archive. */
function mutateField(
  out: Uint8Array,
  at: number,
  fields: Fields,
  z: ZipLayout,
  rng: Rng,
  prefer: string[],
) {
  const name = chance(rng, 0.7) ? pick(rng, prefer) : pick(rng, Object.keys(fields));
  const [off, width] = fields[name];
  const current = width === 2 ? u16(out, at + off) : u32(out, at + off);
  const near = [
    current,
    out.length,
    z.cdOffset,
    z.cdSize,
    z.eocd,
    z.centrals.length,
    ...z.centrals,
    ...z.locals,
  ];
  writeInt(out, at + off, width, boundaryValue(rng, width, near));
}

/**
 * The zip-aware mutators.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipSync } from "fflate";
 * import { Rng } from "./rng.ts";
 * import { ZIP_MUTATORS } from "./zip_mutators.ts";
 * const seed = zipSync({ "a/b": new Uint8Array(10), "a/c": new Uint8Array(5000) });
 * for (const m of ZIP_MUTATORS) assert.ok(m.apply(seed, new Rng(2), seed) instanceof Uint8Array, m.name);
 * ```
 */
export const ZIP_MUTATORS: readonly Mutator[] = [
  onZip("eocd-field", 3, (out, z, rng) => {
    mutateField(out, z.eocd, EOCD_FIELDS, z, rng, ["count", "cdSize", "cdOffset", "commentLength"]);
  }, false),
  onZip("central-field", 6, (out, z, rng) => {
    const prefer = [
      "compressedSize",
      "size",
      "localOffset",
      "method",
      "crc",
      "nameLength",
      "extraLength",
      "flags",
    ];
    mutateField(out, pick(rng, z.centrals), CENTRAL_FIELDS, z, rng, prefer);
  }),
  onZip("local-field", 3, (out, z, rng) => {
    const locals = z.locals.filter((l) => l >= 0);
    if (!locals.length) return;
    const prefer = ["compressedSize", "size", "nameLength", "extraLength", "method"];
    mutateField(out, pick(rng, locals), LOCAL_FIELDS, z, rng, prefer);
  }),
  onZip("duplicate-central", 2, (out, z, rng) => {
    const records = centralRecords(out, z);
    const i = rng.int(records.length);
    records.splice(chance(rng, 0.5) ? i + 1 : rng.int(records.length + 1), 0, records[i].slice());
    return rewriteCentral(out, z, records);
  }),
  onZip("same-local", 2, (out, z, rng) => {
    const j = pick(rng, z.centrals);
    const target = z.centrals.length > 1
      ? u32(out, pick(rng, z.centrals) + 42)
      : pick(rng, [0, z.cdOffset, 1]);
    writeInt(out, j + 42, 4, BigInt(target));
  }),
  onZip("zip64-extra", 2, (out, z, rng) => {
    // Saturate some of size, compressed size and local offset, with their real values (or
    // boundary values) in a zip64 extra field (id 1), in the order the format gives them.
    const records = centralRecords(out, z);
    const i = rng.int(records.length);
    const r = records[i];
    const fields: [number, number][] = [[24, u32(r, 24)], [20, u32(r, 20)], [42, u32(r, 42)]];
    const chosen = fields.filter(() => chance(rng, 0.6));
    if (!chosen.length) chosen.push(pick(rng, fields));
    const body = new Uint8Array(8 * chosen.length);
    chosen.forEach(([off, v], k) => {
      writeInt(r, off, 4, 0xffffffffn);
      writeInt(body, 8 * k, 8, chance(rng, 0.6) ? BigInt(v) : boundaryValue(rng, 8, [v]));
    });
    const head = new Uint8Array(4);
    writeInt(head, 0, 2, 1n);
    writeInt(
      head,
      2,
      2,
      BigInt(chance(rng, 0.8) ? body.length : boundaryValue(rng, 2, [body.length])),
    );
    const nameEnd = 46 + u16(r, 28);
    const extra = concat(head, chance(rng, 0.9) ? body : body.subarray(0, rng.int(body.length)));
    const rec = concat(r.subarray(0, nameEnd), extra, r.subarray(nameEnd));
    writeInt(rec, 30, 2, BigInt(u16(r, 30) + extra.length));
    records[i] = rec;
    return rewriteCentral(out, z, records);
  }),
  onZip("zip64-end", 1, (out, z, rng) => {
    // A zip64 end record and locator before the end record, whose fields are then saturated.
    const count = BigInt(z.centrals.length);
    const rec = new Uint8Array(56), loc = new Uint8Array(20);
    const v = (real: number | bigint) =>
      chance(rng, 0.7) ? BigInt(real) : boundaryValue(rng, 8, [Number(real)]);
    writeInt(rec, 0, 4, 0x06064b50n);
    writeInt(rec, 4, 8, 44n);
    writeInt(rec, 24, 8, v(count));
    writeInt(rec, 32, 8, v(count));
    writeInt(rec, 40, 8, v(z.cdSize));
    writeInt(rec, 48, 8, v(z.cdOffset));
    writeInt(loc, 0, 4, 0x07064b50n);
    writeInt(loc, 8, 8, v(z.eocd));
    writeInt(loc, 16, 4, 1n);
    const eocd = out.slice(z.eocd);
    if (chance(rng, 0.7)) writeInt(eocd, 10, 2, 0xffffn);
    if (chance(rng, 0.5)) writeInt(eocd, 12, 4, 0xffffffffn);
    if (chance(rng, 0.7)) writeInt(eocd, 16, 4, 0xffffffffn);
    return concat(out.subarray(0, z.eocd), rec, loc, eocd);
  }, false),
  onZip("method-flags", 2, (out, z, rng) => {
    const i = rng.int(z.centrals.length);
    const method = BigInt(pick(rng, [0, 8, 12, 14, 99, 0xffff]));
    const flags = BigInt(pick(rng, [1, 8, 0x800, 0x41, 0]));
    for (const [at, f] of [[z.centrals[i], CENTRAL_FIELDS], [z.locals[i], LOCAL_FIELDS]] as const) {
      if (at < 0 || (at === z.locals[i] && chance(rng, 0.3))) continue;
      writeInt(out, at + f.method[0], 2, method);
      if (chance(rng, 0.3)) writeInt(out, at + f.flags[0], 2, flags);
    }
  }),
  onZip("comment", 1, (out, z, rng) => {
    const fake = new Uint8Array(22);
    writeInt(fake, 0, 4, BigInt(SIG_EOCD));
    const comment = pick(rng, [
      fake,
      new Uint8Array(1 + rng.int(300)).fill(0x50),
      new Uint8Array(0),
    ]);
    const res = concat(out, comment);
    writeInt(
      res,
      z.eocd + 20,
      2,
      BigInt(u16(out, z.eocd + 20) + comment.length + pick(rng, [0, 0, 1, -1])),
    );
    return res;
  }, false),
  onZip("name", 2, (out, z, rng) => {
    const i = rng.int(z.centrals.length);
    const c = z.centrals[i];
    const n = u16(out, c + 28);
    if (n === 0) return;
    const k = rng.int(n);
    const byte = pick(rng, [0x2f, 0xff, 0x00, 0x2e, 0x5c]);
    out[c + 46 + (chance(rng, 0.5) ? n - 1 : k)] = byte;
    if (z.locals[i] >= 0 && chance(rng, 0.5)) out[z.locals[i] + 30 + k] = byte;
  }),
  onZip("data-fixed-crc", 3, (out, z, rng) => {
    // Change a stored entry's bytes and fix its CRC-32 in both headers, so they reach the caller.
    const i = rng.int(z.centrals.length);
    const c = z.centrals[i], l = z.locals[i];
    if (l < 0 || u16(out, c + 10) !== 0) return;
    const start = l + 30 + u16(out, l + 26) + u16(out, l + 28), size = u32(out, c + 20);
    if (start + size > out.length || size === 0) return;
    const [s, e] = randomChunk(rng, size);
    for (let k = start + s; k < start + e; k++) {
      out[k] = chance(rng, 0.5) ? out[k] ^ (1 << rng.int(8)) : rng.int(256);
    }
    const crc = BigInt(crc32(out.subarray(start, start + size)));
    writeInt(out, c + 16, 4, crc);
    writeInt(out, l + 14, 4, crc);
  }),
  onZip("sizes", 2, (out, z, rng) => {
    // Both sizes of an entry changed together, in both headers.
    const i = rng.int(z.centrals.length);
    const c = z.centrals[i], l = z.locals[i];
    const v = boundaryValue(rng, 4, [u32(out, c + 20), u32(out, c + 24)]);
    writeInt(out, c + 20, 4, v);
    writeInt(out, c + 24, 4, v);
    if (l >= 0) {
      writeInt(out, l + 18, 4, v);
      writeInt(out, l + 22, 4, v);
    }
  }),
];

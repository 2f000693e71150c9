/**
 * A streaming reader of (gzip-compressed) tar archives, as npm packs packages: ustar headers,
 * with PAX `path`/`size` records and GNU long names. It never holds more than one 512-byte
 * block and one chunk of the stream in memory, whatever sizes the headers claim, and it checks
 * every header's checksum, so a truncated or corrupted archive is an error, not garbage.
 *
 * @module
 */

/** Raised for an archive that is not a readable tar (bad header, cut short). */
export class TarError extends Error {
  override name = "TarError";
}

/** One member of an archive, as {@link readTar} hands it over. */
export interface TarEntry {
  /** Path inside the archive (`/`-separated, e.g. `package/package.json`). */
  name: string;
  /** `file`, `directory`, or `other` (links, devices: their bodies are skipped). */
  type: "file" | "directory" | "other";
  /** Body size in bytes. */
  size: number;
}

/**
 * What to do with an entry: return a sink to receive its body in chunks (awaited), or
 * `undefined` to skip it.
 */
export type TarVisitor = (
  entry: TarEntry,
) => ((chunk: Uint8Array) => void | Promise<void>) | undefined;

const BLOCK = 512;

/** Reads exact byte counts from a stream of chunks. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #at = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next chunk of at most `max` bytes; an empty array at the end of the stream. */
  async next(max: number): Promise<Uint8Array> {
    if (this.#at === this.#chunk.length) {
      const { done, value } = await this.#reader.read();
      if (done) return new Uint8Array(0);
      this.#chunk = value;
      this.#at = 0;
    }
    const n = Math.min(max, this.#chunk.length - this.#at);
    const out = this.#chunk.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  /** Exactly `n` bytes (copied), or fewer at the end of the stream. */
  async exact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let have = 0;
    while (have < n) {
      const part = await this.next(n - have);
      if (part.length === 0) return out.subarray(0, have);
      out.set(part, have);
      have += part.length;
    }
    return out;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, nul(b)));
const nul = (b: Uint8Array) => {
  const i = b.indexOf(0);
  return i < 0 ? b.length : i;
};

/** An octal header field (or GNU's base-256 form for large sizes). */
function octal(field: Uint8Array, what: string): number {
  if (field[0] & 0x80) {
    let v = 0;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    if (!Number.isSafeInteger(v)) throw new TarError(`tar header: ${what} out of range`);
    return v;
  }
  const s = text(field).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`tar header: ${what} is not octal ("${s}")`);
  return parseInt(s, 8);
}

/** The header's stored checksum equals the sum of its bytes with the field as spaces. */
function checksumOk(h: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === octal(h.subarray(148, 156), "checksum");
}

/** PAX extended-header records (`"<len> key=value\n"`...). */
function paxRecords(body: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const s = new TextDecoder().decode(body);
  let at = 0;
  while (at < s.length) {
    const space = s.indexOf(" ", at);
    const len = parseInt(s.slice(at, space), 10);
    if (!(space > at && len > 0)) break;
    const rec = s.slice(space + 1, at + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

/** The largest PAX or GNU long-name body read into memory. */
const MAX_META = 1 << 20;

/**
 * Reads a tar stream, handing each entry to `visit`; resolves at the archive's end marker, or
 * before the next entry once `until()` returns true (the rest of the stream is not read).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTar } from "./_tar.ts";
 * // A one-file ustar archive, written by hand: header, body padded to 512, end marker.
 * const header = new Uint8Array(512);
 * const put = (s: string, at: number) => header.set(new TextEncoder().encode(s), at);
 * put("hello.txt", 0); put("0000644\0", 100); put("00000000005\0", 124); put("0", 156);
 * put("ustar\x0000", 257);
 * header.fill(32, 148, 156);
 * const sum = header.reduce((a, b) => a + b, 0);
 * put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
 * const body = new Uint8Array(512);
 * body.set(new TextEncoder().encode("hello"));
 * const archive = new Blob([header, body, new Uint8Array(1024)]).stream();
 * const got: string[] = [];
 * await readTar(archive, (e) => (chunk) => {
 *   got.push(`${e.name}: ${new TextDecoder().decode(chunk)}`);
 * });
 * got; // ["hello.txt: hello"]
 * assert.deepEqual(got, ["hello.txt: hello"]);
 * ```
 */
export async function readTar(
  stream: ReadableStream<Uint8Array>,
  visit: TarVisitor,
  { until }: { until?: () => boolean } = {},
): Promise<void> {
  const r = new ByteReader(stream);
  let pending: Map<string, string> = new Map(); // from a PAX or GNU long-name entry
  try {
    for (let index = 0;; index++) {
      if (until?.()) return;
      const h = await r.exact(BLOCK);
      if (h.length === 0) throw new TarError("tar archive ends without its end marker");
      if (h.length < BLOCK) throw new TarError("tar archive cut short inside a header");
      if (h.every((b) => b === 0)) return; // end marker
      if (!checksumOk(h)) {
        throw new TarError(`tar header ${index} has a bad checksum (corrupted archive?)`);
      }
      const flag = String.fromCharCode(h[156] || 48);
      let size = octal(h.subarray(124, 136), "size");
      const prefix = text(h.subarray(345, 500));
      let name = text(h.subarray(0, 100));
      if (prefix && text(h.subarray(257, 263)) === "ustar") name = `${prefix}/${name}`;
      if (pending.has("path")) name = pending.get("path")!;
      if (pending.has("size")) size = Number(pending.get("size"));
      pending = new Map();
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new TarError(`tar entry "${name}": bad size`);
      }
      const padded = Math.ceil(size / BLOCK) * BLOCK;

      if (flag === "x" || flag === "L") {
        if (size > MAX_META) throw new TarError(`tar entry ${index}: metadata of ${size} bytes`);
        const body = await r.exact(padded);
        if (body.length < padded) throw new TarError("tar archive cut short inside metadata");
        pending = flag === "x"
          ? paxRecords(body.subarray(0, size))
          : new Map([["path", text(body.subarray(0, size))]]);
        continue;
      }
      const type = flag === "0" || flag === "7" ? "file" : flag === "5" ? "directory" : "other";
      const sink = visit({ name, type, size });
      let left = padded;
      let body = size;
      while (left > 0) {
        const part = await r.next(left);
        if (part.length === 0) throw new TarError(`tar archive cut short inside "${name}"`);
        left -= part.length;
        if (sink && body > 0) {
          const use = part.subarray(0, Math.min(part.length, body));
          body -= use.length;
          await sink(use);
        }
      }
    }
  } finally {
    await r.cancel().catch(() => {});
  }
}

/**
 * A gzip-compressed tar stream (`.tgz`, as npm serves packages) as a tar stream; a corrupted
 * gzip stream makes the reads fail.
 *
 * @example
 * ```ts
 * import { gunzip } from "./_tar.ts";
 * const bytes = new Blob([new Uint8Array(8)]).stream().pipeThrough(new CompressionStream("gzip"));
 * const plain = new Uint8Array(await new Response(gunzip(bytes)).arrayBuffer());
 * plain.length; // 8
 * ```
 */
export function gunzip(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const pair = new DecompressionStream("gzip") as unknown as ReadableWritablePair<
    Uint8Array,
    Uint8Array
  >;
  return stream.pipeThrough(pair);
}

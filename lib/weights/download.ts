/**
 * A resumable, verifying HTTP(S) file download: streams to `<dest>.part`, resumes it with a
 * `Range` request, retries transient failures with exponential backoff, checks the size and the
 * sha256, and only then renames the file into place, so `dest` never holds a partial or wrong
 * file.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname } from "node:path";

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Expected size in bytes; `null`/absent: the server's Content-Length is checked instead. */
  size?: number | null;
  /** Expected lower-case hex sha256; `null`/absent: computed and returned, not checked. */
  sha256?: string | null;
  /** Called as bytes arrive: bytes in the `.part` file so far, and the total when known. */
  onProgress?: (done: number, total: number | null) => void;
  /** Further attempts after a transient failure (default 4). */
  retries?: number;
  /** First backoff delay in ms, doubled for each further retry (default 1000). */
  backoffMs?: number;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
  /** Aborts the download (the `.part` file is kept for a later resume). */
  signal?: AbortSignal;
}

/** What {@link downloadFile} did. */
export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** True when `dest` was already complete and nothing was downloaded. */
  skipped: boolean;
  /** True when an existing `.part` file was continued with a Range request. */
  resumed: boolean;
  /** HTTP requests made for the file body (0 when skipped). */
  attempts: number;
  /** Bytes received by this call (all attempts). */
  transferred: number;
}

/**
 * A download that failed; `status` is the HTTP status when the server answered with an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadFile, DownloadError } from "./download.ts";
 * // A local server that has no such file:
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("no such file", { status: 404 }),
 * );
 * const url = `http://127.0.0.1:${server.addr.port}/x.bin`;
 * const dir = await Deno.makeTempDir();
 * const e = await downloadFile(url, `${dir}/x.bin`).catch((e) => e);
 * e.status; // 404 (a 4xx is not retried)
 * e.message; // "HTTP 404 Not Found for http://127.0.0.1:…/x.bin (x.bin); not retried"
 * assert.ok(e instanceof DownloadError && e.message.startsWith(`HTTP 404 Not Found for ${url}`));
 * await server.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DownloadError extends Error {
  override name = "DownloadError";
  readonly url: string;
  readonly status?: number;
  constructor(message: string, url: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.url = url;
    this.status = options.status;
  }
}

/**
 * The downloaded bytes do not have the expected sha256 (the `.part` file was deleted).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { existsSync } from "node:fs";
 * import { ChecksumError, downloadFile } from "./download.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const dir = await Deno.makeTempDir();
 * const e = await downloadFile(`http://127.0.0.1:${server.addr.port}/a.txt`, `${dir}/a.txt`, {
 *   sha256: "0".repeat(64),
 * }).catch((e) => e);
 * await server.shutdown();
 * e.actual; // "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", the sha256 of "hello"
 * assert.ok(e instanceof ChecksumError);
 * assert.ok(!existsSync(`${dir}/a.txt`) && !existsSync(`${dir}/a.txt.part`)); // nothing is kept
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ChecksumError extends DownloadError {
  override name = "ChecksumError";
  readonly expected: string;
  readonly actual: string;
  constructor(message: string, url: string, expected: string, actual: string) {
    super(message, url);
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The host could not be reached at all (DNS failure, connection refused, no route).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadFile, OfflineError } from "./download.ts";
 * // A port that was just free: nothing listens there, so the connection is refused.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const host = `127.0.0.1:${listener.addr.port}`;
 * listener.close();
 * const dir = await Deno.makeTempDir();
 * const e = await downloadFile(`http://${host}/a.bin`, `${dir}/a.bin`).catch((e) => e);
 * e.host; // "127.0.0.1:…" (not retried: there is no one to ask)
 * assert.ok(e instanceof OfflineError && e.message.startsWith(`cannot reach ${host} (offline?)`));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class OfflineError extends DownloadError {
  override name = "OfflineError";
  readonly host: string;
  constructor(url: string, cause: unknown) {
    const host = new URL(url).host;
    super(
      `cannot reach ${host} (offline?): the embedded model in weights/tiny still works: deno task demo`,
      url,
      { cause },
    );
    this.host = host;
  }
}

/** A failure worth another attempt (network error, 5xx, truncated body). */
class Transient extends Error {}

/**
 * True for a fetch error raised before any connection to the host was made.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isConnectFailure } from "./download.ts";
 * const cause = new Error("tcp connect error: Connection refused (os error 111)");
 * isConnectFailure(new TypeError("error sending request", { cause })); // true (causes are read too)
 * assert.equal(isConnectFailure(new Error("connection reset by peer")), false); // it was reached
 * ```
 */
export function isConnectFailure(e: unknown): boolean {
  const texts: string[] = [];
  for (let x: unknown = e, depth = 0; x && depth < 5; depth++) {
    texts.push(x instanceof Error ? x.message : String(x));
    x = x instanceof Error ? x.cause : undefined;
  }
  const text = texts.join(" | ");
  return /client error \(Connect\)|tcp connect error|dns error|failed to lookup|name or service not known|no address associated|connection refused|network is unreachable|no route to host|host is unreachable/i
    .test(text);
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
  return `${e.message}${cause}`;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function removeIfExists(path: string): Promise<void> {
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * The sha256 of a file, read in streaming fashion (lower-case hex).
 *
 * @example
 * ```ts
 * import { sha256File } from "./download.ts";
 * const tmp = await Deno.makeTempFile();
 * await sha256File(tmp); // "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 * await Deno.remove(tmp);
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** Parses `Content-Range: bytes a-b/total` (or `bytes * /total`). */
function parseContentRange(
  value: string | null,
): { start: number | null; total: number | null } | null {
  const m = value?.match(/^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*\/\s*(\d+|\*)\s*$/i);
  if (!m) return null;
  return {
    start: m[1] === undefined ? null : Number(m[1]),
    total: m[3] === "*" ? null : Number(m[3]),
  };
}

const HTML_START = /^\s*<(!doctype|html|head|body)\b/i;

function htmlError(url: string, name: string, status: number, why: string): DownloadError {
  return new DownloadError(
    `${url} returned an HTML page instead of ${name} (HTTP ${status}, ${why}): ` +
      `an error or login page, or a proxy? Nothing was saved in place of ${name}`,
    url,
    { status },
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * Downloads `url` to `dest`, resuming a previous `<dest>.part`, retrying transient failures and
 * verifying the size and sha256 before renaming into place. An existing `dest` with the expected
 * size and sha256 (or, when neither is known, the size the server reports) is kept and not
 * downloaded again.
 *
 * Errors: an HTTP 4xx is a {@link DownloadError} naming the status and URL (not retried); an
 * HTML page instead of the file is a {@link DownloadError}; a wrong sha256 is a
 * {@link ChecksumError} with both hashes; a host that cannot be reached is an
 * {@link OfflineError}. In every case `dest` keeps whatever it held before.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadFile } from "./download.ts";
 * // A local server in place of Hugging Face:
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const dir = await Deno.makeTempDir();
 * const url = `http://127.0.0.1:${server.addr.port}/hello.txt`, dest = `${dir}/hello.txt`;
 * const sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
 * const r = await downloadFile(url, dest, { size: 5, sha256 });
 * r.skipped; // false
 * assert.equal(await Deno.readTextFile(dest), "hello");
 * const again = await downloadFile(url, dest, { size: 5, sha256 });
 * assert.equal(again.skipped, true); // the second run finds it complete
 * await server.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const { retries = 4, backoffMs = 1000, onProgress, signal } = options;
  const doFetch = options.fetch ?? fetch;
  const expectedSha = options.sha256?.toLowerCase() ?? null;
  let expectedSize = options.size ?? null;
  const name = basename(dest);
  const part = `${dest}.part`;

  // 1. A complete file already in place is kept.
  const existing = await statOrNull(dest);
  if (existing?.isFile) {
    let plausible = expectedSize === null || existing.size === expectedSize;
    if (plausible && expectedSha === null && expectedSize === null) {
      plausible = existing.size === await remoteSize(doFetch, url, signal);
    }
    if (plausible) {
      const sha = await sha256File(dest);
      if (expectedSha === null || sha === expectedSha) {
        return {
          path: dest,
          size: existing.size,
          sha256: sha,
          skipped: true,
          resumed: false,
          attempts: 0,
          transferred: 0,
        };
      }
    }
  }
  await Deno.mkdir(dirname(dest) || ".", { recursive: true });

  let reached = false;
  let resumed = false;
  let attempts = 0;
  let transferred = 0;

  /** One request; resolves when `.part` holds the whole file. */
  const attempt = async (): Promise<void> => {
    let offset = (await statOrNull(part))?.size ?? 0;
    if (expectedSize !== null && offset > expectedSize) {
      await removeIfExists(part);
      offset = 0;
    }
    if (expectedSize !== null && offset === expectedSize && offset > 0) return;
    const headers = new Headers({ "accept-encoding": "identity" });
    if (offset > 0) headers.set("range", `bytes=${offset}-`);
    attempts++;
    let res: Response;
    try {
      res = await doFetch(url, { headers, signal, redirect: "follow" });
    } catch (e) {
      if (signal?.aborted) throw e;
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
      if (!reached && isConnectFailure(e)) throw new OfflineError(url, e);
      throw new Transient(`network error: ${describe(e)}`, { cause: e });
    }
    reached = true;
    const status = res.status;
    const cancel = () => res.body?.cancel().catch(() => {});

    if (status === 416 && offset > 0) {
      await cancel();
      const range = parseContentRange(res.headers.get("content-range"));
      if (range?.total === offset && (expectedSize === null || expectedSize === offset)) {
        expectedSize = offset; // the .part already holds the whole file
        return;
      }
      await removeIfExists(part);
      throw new Transient(`HTTP 416 for bytes=${offset}- (the partial file was discarded)`);
    }
    if (status >= 500 || status === 408 || status === 429) {
      await cancel();
      throw new Transient(`HTTP ${status}${res.statusText ? ` ${res.statusText}` : ""}`);
    }
    if (status !== 200 && status !== 206) {
      await cancel();
      throw new DownloadError(
        `HTTP ${status}${
          res.statusText ? ` ${res.statusText}` : ""
        } for ${url} (${name}); not retried`,
        url,
        { status },
      );
    }
    const contentType = res.headers.get("content-type") ?? "";
    if (/\btext\/html\b/i.test(contentType)) {
      await cancel();
      throw htmlError(url, name, status, `Content-Type ${contentType}`);
    }

    let start = 0;
    let total: number | null = null;
    const encoded =
      (res.headers.get("content-encoding") ?? "identity").toLowerCase() !== "identity";
    if (status === 206) {
      const raw = res.headers.get("content-range");
      const range = parseContentRange(raw);
      if (range === null || range.start !== offset) {
        await cancel();
        await removeIfExists(part);
        throw new Transient(
          `HTTP 206 with Content-Range ${JSON.stringify(raw)} for a request from byte ${offset} ` +
            `(the partial file was discarded)`,
        );
      }
      start = offset;
      total = range.total;
      resumed = true;
    } else {
      // 200: the whole file (a server that ignores Range restarts from zero)
      resumed = false;
      const length = res.headers.get("content-length");
      total = length !== null && !encoded && /^\d+$/.test(length) ? Number(length) : null;
    }
    if (total !== null && expectedSize !== null && total !== expectedSize) {
      await cancel();
      throw new DownloadError(
        `${url} serves ${total} bytes for ${name}, expected ${expectedSize}: not the pinned file`,
        url,
        { status },
      );
    }
    const target = expectedSize ?? total;
    if (res.body === null) throw new Transient(`HTTP ${status} without a body`);

    const reader = res.body.getReader();
    const out: { file: Deno.FsFile | null } = { file: null };
    let written = start;
    let head: Uint8Array | null = start === 0 ? new Uint8Array(0) : null; // bytes held for sniffing
    const flush = async (bytes: Uint8Array) => {
      out.file ??= await Deno.open(
        part,
        start === 0 ? { write: true, create: true, truncate: true } : { write: true, append: true },
      );
      await writeAll(out.file, bytes);
      written += bytes.length;
      transferred += bytes.length;
      if (target !== null && written > target) {
        throw new DownloadError(
          `${url} sent more than the ${target} bytes of ${name}: not the pinned file`,
          url,
          { status },
        );
      }
      onProgress?.(written, target);
    };
    try {
      while (true) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (signal?.aborted) throw e;
          throw new Transient(
            `connection lost after ${written}${target === null ? "" : ` of ${target}`} bytes: ${
              describe(e)
            }`,
            { cause: e },
          );
        }
        if (head !== null) {
          // Hold the first bytes until an HTML page can be told from the file.
          if (!chunk.done) {
            const merged = new Uint8Array(head.length + chunk.value.length);
            merged.set(head);
            merged.set(chunk.value, head.length);
            head = merged;
          }
          if (head.length < 64 && !chunk.done) continue;
          if (HTML_START.test(new TextDecoder().decode(head.subarray(0, 64)))) {
            throw htmlError(url, name, status, "the body is an HTML document");
          }
          const held = head;
          head = null;
          await flush(held);
        } else if (!chunk.done) {
          await flush(chunk.value);
        }
        if (chunk.done) break;
      }
    } catch (e) {
      await reader.cancel().catch(() => {});
      if (e instanceof DownloadError && out.file !== null) {
        out.file.close();
        out.file = null;
        await removeIfExists(part); // what it held is not part of the pinned file
      }
      throw e;
    } finally {
      out.file?.close();
    }
    if (start === 0 && written === 0) await Deno.writeFile(part, new Uint8Array(0));
    if (target !== null && written < target) {
      throw new Transient(`transfer ended after ${written} of ${target} bytes`);
    }
    expectedSize ??= written;
  };

  let lastError: Transient | undefined;
  for (let i = 0; i <= retries; i++) {
    if (i > 0) await sleep(backoffMs * 2 ** (i - 1), signal);
    try {
      await attempt();
      lastError = undefined;
      break;
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      lastError = e;
    }
  }
  if (lastError !== undefined) {
    const kept = await statOrNull(part);
    throw new DownloadError(
      `downloading ${name} from ${url} failed after ${retries + 1} attempts: ${lastError.message}` +
        (kept && kept.size > 0
          ? `; ${part} (${kept.size} bytes) is kept and the next run resumes it`
          : ""),
      url,
      { cause: lastError.cause ?? lastError },
    );
  }

  // 2. Verify, then move into place.
  const size = (await Deno.stat(part)).size;
  if (expectedSize !== null && size !== expectedSize) {
    await removeIfExists(part);
    throw new DownloadError(
      `${name} from ${url} has ${size} bytes, expected ${expectedSize}; the download was deleted`,
      url,
    );
  }
  const sha = await sha256File(part);
  if (expectedSha !== null && sha !== expectedSha) {
    await removeIfExists(part);
    throw new ChecksumError(
      `sha256 mismatch for ${name} from ${url}: expected ${expectedSha}, got ${sha}; ` +
        `the download was deleted and ${dest} was left as it was`,
      url,
      expectedSha,
      sha,
    );
  }
  await Deno.rename(part, dest);
  return { path: dest, size, sha256: sha, skipped: false, resumed, attempts, transferred };
}

/** The size the server reports for `url` (HEAD), or null when it cannot tell. */
async function remoteSize(
  doFetch: typeof fetch,
  url: string,
  signal?: AbortSignal,
): Promise<number | null> {
  try {
    const res = await doFetch(url, {
      method: "HEAD",
      headers: { "accept-encoding": "identity" },
      signal,
      redirect: "follow",
    });
    await res.body?.cancel().catch(() => {});
    const length = res.headers.get("content-length");
    if (!res.ok || /\btext\/html\b/i.test(res.headers.get("content-type") ?? "")) return null;
    return length !== null && /^\d+$/.test(length) ? Number(length) : null;
  } catch {
    return null;
  }
}

/**
 * Test fixtures for the downloader: bytes in the real formats (a safetensors model file, and a
 * stored zip laid out like a `torch.save` archive, which is what the transcoder `.pt` files are),
 * and a local HTTP server on 127.0.0.1 with handlers that misbehave in the ways real servers do.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { serializeSafetensors } from "../../lib/formats/safetensors.ts";
import { buildZip } from "../formats/zip_bytes.ts";

/** Deterministic pseudo-random bytes (xorshift32). */
export function randomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Lower-case hex sha256 of some bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A GPT-2-shaped safetensors file of about 1.6 MB (float32 `wte` [1024, 384] and a bias). */
export function safetensorsFixture(seed = 7): Uint8Array {
  const wte = new Float32Array(1024 * 384);
  const noise = randomBytes(wte.length, seed);
  for (let i = 0; i < wte.length; i++) wte[i] = (noise[i] - 127.5) / 256;
  return serializeSafetensors({
    wte: { dtype: "float32", shape: [1024, 384], data: wte },
    "ln_f.bias": { dtype: "float32", shape: [384], data: new Float32Array(384).fill(0.5) },
  }, { metadata: { format: "pt" } });
}

/** A `.pt`-like zip (torch.save layout) of about 1 MB. */
export function ptZipFixture(seed = 11): Uint8Array {
  return buildZip([
    {
      name: "archive/data.pkl",
      data: new TextEncoder().encode("\x80\x02}q\x00(X\x05\x00\x00\x00W_encq\x01u."),
    },
    { name: "archive/data/0", data: randomBytes(1 << 20, seed) },
    { name: "archive/version", data: new TextEncoder().encode("3\n") },
  ]);
}

/** How a route misbehaves. */
export type Behavior =
  | "ok" // Range support, Content-Length
  | "cut-once" // the first GET sends `cutAfter` bytes, then the connection breaks
  | "503-twice" // two 503s, then ok
  | "html" // an HTML error page with status 200 and Content-Type text/html
  | "html-body" // an HTML page with status 200 but Content-Type application/octet-stream
  | "404"
  | "no-range"; // ignores Range: always 200 with the whole body

/** One served file. */
export interface Route {
  bytes: Uint8Array;
  behavior?: Behavior;
  /** For `cut-once`: bytes sent before the connection breaks. */
  cutAfter?: number;
}

/** A request the server saw. */
export interface Seen {
  method: string;
  path: string;
  range: string | null;
}

const HTML_PAGE =
  "<!DOCTYPE html>\n<html><head><title>503 - Hugging Face</title></head><body>Something went wrong</body></html>\n";

function serveBytes(req: Request, bytes: Uint8Array, honourRange = true): Response {
  const headers = new Headers({
    "content-type": "application/octet-stream",
    "accept-ranges": honourRange ? "bytes" : "none",
  });
  const range = honourRange ? req.headers.get("range")?.match(/^bytes=(\d+)-(\d*)$/) : null;
  let body = bytes;
  let status = 200;
  if (range) {
    const start = Number(range[1]);
    const end = range[2] === "" ? bytes.length - 1 : Math.min(Number(range[2]), bytes.length - 1);
    if (start >= bytes.length) {
      headers.set("content-range", `bytes */${bytes.length}`);
      return new Response(null, { status: 416, headers });
    }
    body = bytes.subarray(start, end + 1);
    status = 206;
    headers.set("content-range", `bytes ${start}-${end}/${bytes.length}`);
  }
  headers.set("content-length", String(body.length));
  return new Response(req.method === "HEAD" ? null : body.slice(), { status, headers });
}

/** A cut transfer: the full Content-Length is announced, then the stream breaks. */
function cutResponse(bytes: Uint8Array, cutAfter: number): Response {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes.slice(0, cutAfter));
      } else {
        controller.close(); // shorter than Content-Length: the connection is dropped
      }
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "application/octet-stream",
      "content-length": String(bytes.length),
    },
  });
}

/** A local HTTP server on 127.0.0.1 (port chosen by the OS) serving `routes` by path. */
export class FixtureServer {
  readonly routes: Record<string, Route>;
  readonly seen: Seen[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #gets = new Map<string, number>();

  constructor(routes: Record<string, Route>) {
    this.routes = routes;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
  }

  /** `http://127.0.0.1:<port>` */
  get origin(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** The URL of a path on this server. */
  url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** Requests seen for a path. */
  requests(path: string): Seen[] {
    return this.seen.filter((s) => s.path === path);
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  #handle(req: Request): Response {
    const path = new URL(req.url).pathname;
    this.seen.push({ method: req.method, path, range: req.headers.get("range") });
    const route = this.routes[path];
    if (!route) return new Response("Not Found", { status: 404 });
    if (req.method === "HEAD") return serveBytes(req, route.bytes, route.behavior !== "no-range");
    const n = (this.#gets.get(path) ?? 0) + 1;
    this.#gets.set(path, n);
    switch (route.behavior ?? "ok") {
      case "404":
        return new Response("Entry not found", { status: 404, statusText: "Not Found" });
      case "503-twice":
        return n <= 2
          ? new Response("busy", { status: 503, statusText: "Service Unavailable" })
          : serveBytes(req, route.bytes);
      case "html":
        return new Response(HTML_PAGE, {
          status: 200,
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      case "html-body":
        return new Response(HTML_PAGE, {
          status: 200,
          headers: { "content-type": "application/octet-stream" },
        });
      case "no-range":
        return serveBytes(req, route.bytes, false);
      case "cut-once":
        return n === 1
          ? cutResponse(route.bytes, route.cutAfter ?? route.bytes.length >> 1)
          : serveBytes(req, route.bytes);
      default:
        return serveBytes(req, route.bytes);
    }
  }
}

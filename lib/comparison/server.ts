/**
 * The rating server: `Deno.serve` on 127.0.0.1 for one session, with the page and a small JSON
 * API (every response `no-store`):
 *
 * | route                | answer                                                                  |
 * | -------------------- | ----------------------------------------------------------------------- |
 * | `GET /`              | the page (`page.ts`)                                                    |
 * | `GET /api/state`     | `{ total, rated, next, complete }`                                      |
 * | `GET /api/item/<i>`  | `{ item, state, view, answer }`: the blinded examples, the answer given |
 * | `POST /api/rate`     | records `{ item, rating, contextFree, note }` on disk, then `{ state }` |
 * | `GET /api/reveal`    | once all are rated: the tallies, chart and key (409 before)             |
 *
 * Nothing the server sends before every item is rated holds a feature id, a dictionary's name or
 * a raw activation: it never reads the key file until then. A rating is acknowledged only after
 * it is synced to disk, so a server killed at any moment has lost no acknowledged answer. A POST
 * must be `application/json` (a page on another site cannot send one without a preflight, which
 * is refused), and requests must name this server's own host (no DNS rebinding).
 *
 * @module
 */
import { ratingPageHtml } from "./page.ts";
import { RatingsError } from "./ratings.ts";
import { keyTableHtml, tallyChartSvg, tallyTableHtml } from "./results.ts";
import { type ComparisonSession, SESSION_FILES } from "./session.ts";

/** A running rating server. */
export interface RatingServer {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  port: number;
  /** Stops the server (open connections are closed). */
  close(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Options of `startRatingServer`. */
export interface RatingServerOptions {
  /** The port (default 0: a free one). */
  port?: number;
  /** The address (default 127.0.0.1, this machine only). */
  hostname?: string;
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
  "x-content-type-options": "nosniff",
};

/** The session's routes (see the module notes). */
async function route(session: ComparisonSession, req: Request): Promise<Response> {
  const { pathname } = new URL(req.url);
  if (req.method === "GET" && pathname === "/") {
    return new Response(ratingPageHtml(), { headers: PAGE_HEADERS });
  }
  if (req.method === "GET" && pathname === "/api/state") return json(200, session.state());
  const item = /^\/api\/item\/(\d+)$/.exec(pathname);
  if (req.method === "GET" && item) {
    const i = Number(item[1]);
    if (i >= session.items.length) {
      return json(404, { error: `item ${i} out of range 0..${session.items.length - 1}` });
    }
    const a = session.store.get(i);
    const answer = a ? { rating: a.rating, contextFree: a.contextFree, note: a.note } : null;
    return json(200, { item: i, state: session.state(), view: session.items[i], answer });
  }
  if (pathname === "/api/rate") {
    if (req.method !== "POST") return json(405, { error: "POST an answer" });
    if (!/^application\/json\b/.test(req.headers.get("content-type") ?? "")) {
      return json(415, { error: "expected an application/json body" });
    }
    let body: Record<string, unknown>;
    try {
      body = await req.json();
    } catch {
      return json(400, { error: "the body is not JSON" });
    }
    try {
      const { item, rating, contextFree, note } = body ?? {};
      await session.rate({ item, rating, contextFree, note } as never);
    } catch (e) {
      // Refused once complete (a changed answer after the reveal): 409; a bad answer: 400.
      if (e instanceof RatingsError) {
        return json(session.store.complete ? 409 : 400, { error: e.message });
      }
      throw e;
    }
    return json(200, { state: session.state() });
  }
  if (req.method === "GET" && pathname === "/api/reveal") {
    const state = session.state();
    if (!state.complete) {
      return json(409, { error: `${state.total - state.rated} items are not rated yet` });
    }
    const outcome = await session.outcome();
    return json(200, {
      state,
      tallies: outcome.rows,
      tableHtml: tallyTableHtml(outcome.rows),
      chartSvg: tallyChartSvg(outcome.rows),
      keyHtml: keyTableHtml(outcome),
      resultsFile: SESSION_FILES.results,
    });
  }
  return json(404, { error: `no such page: ${req.method} ${pathname}` });
}

/**
 * Serves a session's rating page and API (see the module notes) until `close()`; throws
 * `Deno.errors.AddrInUse` when the port is taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ComparisonSession, type SessionSpec } from "./session.ts";
 * import { startRatingServer } from "./server.ts";
 * const dir = await Deno.makeTempDir();
 * const dict = { source: "tiny:1", fingerprint: "ab12", kind: "transcoder" as const, hookName: "h", outHookName: "o", dSae: 8 };
 * const spec: SessionSpec = { model: { name: "tiny", fingerprint: "m" }, A: dict, B: { ...dict, source: "tiny:2", fingerprint: "cd34" },
 *   corpus: { source: "builtin", split: "validation", rows: 32 }, seed: 0, n: 1, display: { examples: 10, bands: 5, perBand: 4, window: 8 } };
 * const key = [{ item: 0, dictionary: "B" as const, feature: 7 }, { item: 1, dictionary: "A" as const, feature: 3 }];
 * const items = [{ top: ["<div>a</div>"], bands: [] }, { top: ["<div>b</div>"], bands: [] }];
 * const sampling = { A: { liveFeatures: 5, resampled: 0 }, B: { liveFeatures: 6, resampled: 1 } };
 * const session = await ComparisonSession.create(dir, spec, { key, items, tokens: 4096, sampling });
 * const server = startRatingServer(session); // a free port on 127.0.0.1
 * try {
 *   const rate = (item: number) => fetch(`${server.url}api/rate`, {
 *     method: "POST",
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({ item, rating: "yes", contextFree: false, note: "" }),
 *   }).then((r) => r.json());
 *   assert.deepEqual((await rate(0)).state, { total: 2, rated: 1, next: 1, complete: false });
 *   const early = await fetch(`${server.url}api/reveal`);
 *   assert.equal(early.status, 409); // the key stays secret until every item is rated
 *   await early.body?.cancel();
 *   await rate(1);
 *   const reveal = await (await fetch(`${server.url}api/reveal`)).json();
 *   assert.deepEqual(reveal.tallies.map((r: { tally: { yes: number } }) => r.tally.yes), [1, 1]);
 * } finally {
 *   await server.close();
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export function startRatingServer(
  session: ComparisonSession,
  { port = 0, hostname = "127.0.0.1" }: RatingServerOptions = {},
): RatingServer {
  let hosts: Set<string> = new Set();
  const server = Deno.serve({ port, hostname, onListen: () => {} }, async (req) => {
    const host = req.headers.get("host") ?? "";
    if (!hosts.has(host)) return json(403, { error: `unexpected Host header "${host}"` });
    try {
      return await route(session, req);
    } catch (e) {
      return json(500, { error: `the server failed: ${(e as Error).message}` });
    }
  });
  const actual = server.addr.port;
  hosts = new Set([`${hostname}:${actual}`, `localhost:${actual}`]);
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostname}:${actual}/`,
    port: actual,
    close: () => (closing ??= server.shutdown()),
    finished: server.finished,
  };
}

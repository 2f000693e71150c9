/**
 * The rating app end to end, in headless Chromium: a session of the tiny model's layer-1 and
 * layer-2 transcoders (6 features each, 32 corpus rows), every feature rated by clicking the
 * page's buttons (yes / maybe / no, context-free, notes, one answer changed through "previous"),
 * the server stopped midway (in-process, as a kill) and restarted, the page continuing at the
 * first unrated item with nothing lost or counted twice; before the reveal neither the page nor
 * any server response names a dictionary or a feature id or holds a raw activation; the revealed
 * tallies on the page and in results.md agree with the JSONL file and the key.
 *
 * Without Chromium (and TC_REQUIRE_CHROMIUM unset) a reduced check runs the same session
 * through the HTTP API instead (launchBrowser prints a note).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { launchBrowser } from "../helpers/browser.ts";
import { runCaptured } from "../helpers/captured.ts";
import { sessionArgs } from "./fixture.ts";
import { ratingPageHtml } from "../../lib/comparison/page.ts";
import { SESSION_FILES } from "../../lib/comparison/session.ts";
import type { KeyEntry } from "../../lib/comparison/sampling.ts";
import { type Rating, RatingsStore } from "../../lib/comparison/ratings.ts";
import { tallyRatings } from "../../lib/comparison/results.ts";
import { startCompareInterp, type StartedComparison } from "../../tasks/compare_interp.ts";

const N = 6, TOTAL = 2 * N;
const args = (out: string) => sessionArgs(out, { n: N, rows: 32 });

/** The answer given to item i (a mix of all three, context-free, notes with markup). */
function plannedAnswer(i: number): Omit<Rating, "time"> {
  return {
    item: i,
    rating: (["yes", "maybe", "no"] as const)[i % 3],
    contextFree: i % 4 === 1,
    note: i % 5 === 0 ? `note ${i}: <b>bold?</b> | "quoted"` : "",
  };
}

/** What must not be visible before the reveal: the dictionaries' names, hooks, the key. */
const FORBIDDEN = [
  /tiny:[12]/,
  /layer_[12]/,
  /transcoder/i,
  /\bSAE\b/,
  /hook_/,
  /blocks\.\d/,
  /SECRET/,
  /fingerprint/,
];
const FORBIDDEN_KEYS = new Set([
  "feature",
  "dictionary",
  "source",
  "layer",
  "value",
  "max",
  "count",
]);

/** Checks one pre-reveal text (page HTML or a response body) for anything that tells. */
function assertBlind(text: string, what: string, key: readonly KeyEntry[], out: string): void {
  for (const re of FORBIDDEN) assert.doesNotMatch(text, re, `${what} matches ${re}`);
  assert.ok(!text.includes(out), `${what} names the session folder`);
  // Hover values are activations relative to the feature's maximum: in [0, 1].
  for (const m of text.matchAll(/title=\\?"([^"\\]*)\\?"/g)) {
    const v = Number(m[1]);
    assert.ok(v >= 0 && v <= 1, `${what}: title ${m[1]} is not a normalised activation`);
  }
  if (!text.startsWith("{")) return;
  const ids = new Set(key.map((k) => k.feature).filter((f) => f >= TOTAL));
  const walk = (v: unknown, path: string): void => {
    if (typeof v === "number") {
      assert.ok(!ids.has(v) && v <= TOTAL, `${what}: number ${v} at ${path}`);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        assert.ok(!FORBIDDEN_KEYS.has(k), `${what}: key "${k}" at ${path}`);
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(JSON.parse(text), "$");
}

const readKey = async (out: string): Promise<KeyEntry[]> =>
  JSON.parse(await Deno.readTextFile(join(out, SESSION_FILES.key))).items;

/** The tallies the JSONL file and the key imply (the last line of an item counts). */
async function expectedTallies(out: string, key: readonly KeyEntry[]) {
  const store = await RatingsStore.open(join(out, SESSION_FILES.ratings), TOTAL);
  assert.equal(store.complete, true);
  return tallyRatings(key, store.ratings());
}

/** "3 (50%)" cells as numbers: yes, maybe, no, context-free. */
const counts = (cells: readonly string[]) => cells.slice(3, 7).map((c) => Number(c.split(" ")[0]));

/** The page's document as its scripts see it (the tests have no DOM types). */
interface PageGlobals {
  document: {
    body: { dataset: Record<string, string | undefined> };
    getElementById(id: string): { className: string };
  };
}

async function waitForItem(page: Page, item: number | "reveal"): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const { dataset } = (globalThis as unknown as PageGlobals).document.body;
      return want === "reveal"
        ? dataset.view === "reveal"
        : dataset.view === "rating" && dataset.item === want;
    },
    { timeout: 15000 },
    item === "reveal" ? "reveal" : String(item),
  );
}

/** Gives the planned (or another) answer to the item the page shows, through its controls. */
async function answerOnPage(page: Page, a: Omit<Rating, "time">): Promise<void> {
  const checked = await page.$eval(
    "#context-free",
    (e) => (e as unknown as { checked: boolean }).checked,
  );
  if (checked !== a.contextFree) await page.click("#context-free");
  await page.$eval("#note", (e) => ((e as unknown as { value: string }).value = ""));
  if (a.note) await page.type("#note", a.note);
  await page.click(`#rate-${a.rating}`);
}

async function checkReveal(page: Page, out: string, key: readonly KeyEntry[]): Promise<void> {
  const want = await expectedTallies(out, key);
  const rows = await page.$$eval(
    "#tallies tbody tr",
    (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
  );
  assert.deepEqual(rows.map((r) => r[0]), ["A", "B", "transcoder", "SAE"]);
  assert.deepEqual(counts(rows[0]), [want.A.yes, want.A.maybe, want.A.no, want.A.contextFree]);
  assert.deepEqual(counts(rows[1]), [want.B.yes, want.B.maybe, want.B.no, want.B.contextFree]);
  assert.deepEqual(counts(rows[2]), [41, 8, 1, 6]);
  assert.deepEqual(counts(rows[3]), [38, 8, 4, 16]);
  assert.match(rows[0][1], /^tiny:1 \(transcoder, blocks\.1\.ln2\.hook_normalized/);
  assert.equal(await page.$$eval("#chart svg rect", (r) => r.length), 16);
  const keyRows = await page.$$eval(
    "#key tbody tr",
    (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
  );
  assert.deepEqual(
    keyRows.map((r) => [Number(r[0]) - 1, r[1], Number(r[2])]),
    key.map((k) => [k.item, k.dictionary, k.feature]),
  );
  const md = await Deno.readTextFile(join(out, SESSION_FILES.results));
  for (const label of ["A", "B"] as const) {
    const line = md.split("\n").find((l) => l.startsWith(`| ${label} |`))!;
    const cells = line.split(" | ").map((c) => c.replace(/^\| |\s*\|$/g, ""));
    const t = want[label];
    assert.deepEqual(counts(cells), [t.yes, t.maybe, t.no, t.contextFree], line);
    assert.equal(Number(cells[2]), N);
  }
}

/** Without a browser: the page's controls, and the same session rated through the API. */
async function reducedCheck(out: string, app: StartedComparison): Promise<StartedComparison> {
  const html = ratingPageHtml();
  for (const id of ["rate-yes", "rate-maybe", "rate-no", "context-free", "note", "previous"]) {
    assert.ok(html.includes(`id="${id}"`), id);
  }
  const key = await readKey(out);
  assertBlind(html, "the page", key, out);
  const post = (url: string, a: Omit<Rating, "time">) =>
    fetch(`${url}api/rate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(a),
    }).then((r) => r.text());
  for (let i = 0; i < TOTAL; i++) {
    if (i === N) {
      await app.close();
      app = await startCompareInterp(args(out));
      const state = await (await fetch(`${app.url}api/state`)).json();
      assert.deepEqual(state, { total: TOTAL, rated: N, next: N, complete: false });
    }
    assertBlind(await (await fetch(`${app.url}api/item/${i}`)).text(), `item ${i}`, key, out);
    assertBlind(await post(app.url, plannedAnswer(i)), `rating ${i}`, key, out);
  }
  const reveal = await (await fetch(`${app.url}api/reveal`)).json();
  const want = await expectedTallies(out, key);
  assert.deepEqual(reveal.tallies.map((r: { tally: unknown }) => r.tally), [want.A, want.B]);
  return app;
}

Deno.test({
  name: "the rating app: rate every feature in Chromium, kill and restart midway, reveal",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "rating_app_test_" });
    let app = await startCompareInterp(args(out));
    try {
      const key = await readKey(out);
      assert.equal(key.length, TOTAL);
      const browser = await launchBrowser();
      if (!browser) {
        app = await reducedCheck(out, app);
        return;
      }
      try {
        const page = await browser.newPage();
        await page.setViewport({ width: 1200, height: 900 });
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(`pageerror: ${e}`));
        const bodies: Promise<[string, string]>[] = [];
        let revealed = false;
        page.on("response", (r) => {
          if (!revealed && !r.url().endsWith("/api/reveal")) {
            bodies.push(
              r.text().then((t) => [r.url(), t] as [string, string], () => [r.url(), ""]),
            );
          }
        });
        const dom = async (what: string) =>
          assertBlind(await page.content(), `the page at ${what}`, key, out);

        await page.goto(app.url);
        await waitForItem(page, 0);
        const examples = await page.$$eval("#top-examples .example", (e) => e.length);
        assert.ok(examples >= 4, `${examples} top examples`); // every feature has >= 4
        const expected = new Map<number, Omit<Rating, "time">>();

        // Items 0..4 through the buttons.
        for (let i = 0; i < 5; i++) {
          await dom(`item ${i}`);
          expected.set(i, plannedAnswer(i));
          await answerOnPage(page, plannedAnswer(i));
          await waitForItem(page, i + 1);
        }
        // Back to item 4: its answer is shown; change it (the last answer counts).
        await page.click("#previous");
        await waitForItem(page, 4);
        assert.equal(await page.$eval("#rate-maybe", (e) => e.classList.contains("chosen")), true);
        assert.equal(
          await page.$eval("#context-free", (e) => (e as unknown as { checked: boolean }).checked),
          false,
        );
        const changed = {
          item: 4,
          rating: "no" as const,
          contextFree: true,
          note: "changed my mind",
        };
        expected.set(4, changed);
        await answerOnPage(page, changed);
        await waitForItem(page, 5); // back at the first unrated item

        // Kill the server; an answer given meanwhile is reported as not saved.
        await app.close();
        const before = await Deno.readTextFile(join(out, SESSION_FILES.ratings));
        assert.equal(before.trim().split("\n").length, 6); // 5 answers and the changed one
        await page.click("#rate-yes");
        await page.waitForFunction(() =>
          (globalThis as unknown as PageGlobals).document.getElementById("status").className ===
            "error"
        );
        assert.match(await page.$eval("#status", (e) => e.textContent ?? ""), /not saved/);

        // Restart: the page continues at item 5, nothing lost, nothing counted twice.
        app = await startCompareInterp(args(out));
        assert.equal(await Deno.readTextFile(join(out, SESSION_FILES.ratings)), before);
        await page.goto(app.url);
        await waitForItem(page, 5);
        assert.match(await page.$eval("#progress", (e) => e.textContent ?? ""), /^5 of 12 rated$/);
        for (let i = 5; i < TOTAL; i++) {
          await dom(`item ${i}`);
          expected.set(i, plannedAnswer(i));
          await answerOnPage(page, plannedAnswer(i));
          await waitForItem(page, i + 1 < TOTAL ? i + 1 : "reveal");
        }
        revealed = true;
        for (const [url, text] of await Promise.all(bodies)) assertBlind(text, url, key, out);
        assert.ok(bodies.length >= 2 * TOTAL, `${bodies.length} responses checked`);

        // The JSONL holds exactly the answers given, the last one of item 4 counted.
        const store = await RatingsStore.open(join(out, SESSION_FILES.ratings), TOTAL);
        assert.equal(store.lines, TOTAL + 1);
        assert.deepEqual(
          store.ratings().map(({ item, rating, contextFree, note }) => ({
            item,
            rating,
            contextFree,
            note,
          })),
          [...expected.values()].sort((a, b) => a.item - b.item),
        );
        await checkReveal(page, out, key);
        assert.deepEqual(errors, []);

        // After the reveal the answers are final, and a reload shows the reveal again.
        const late = await fetch(`${app.url}api/rate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...plannedAnswer(0), rating: "no" }),
        });
        assert.equal(late.status, 409);
        await late.body?.cancel();
        await page.reload();
        await waitForItem(page, "reveal");
      } finally {
        await browser.close();
      }
    } finally {
      await app.close();
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("the server answers only its own API: no key file, no other host, JSON posts only", async () => {
  const out = await Deno.makeTempDir({ prefix: "rating_app_test_" });
  const app = await startCompareInterp(sessionArgs(out, { n: 2, rows: 16 }));
  try {
    const get = async (path: string, init?: RequestInit) => {
      const r = await fetch(`${app.url}${path}`, init);
      return [r.status, await r.text()] as const;
    };
    assert.equal((await get(SESSION_FILES.key))[0], 404);
    assert.equal((await get(`../${SESSION_FILES.key}`))[0], 404);
    assert.equal((await get("api/item/4"))[0], 404);
    const [status, body] = await get("api/reveal");
    assert.equal(status, 409);
    assert.match(body, /4 items are not rated yet/);
    const form = await get("api/rate", { method: "POST", body: "item=0&rating=yes" });
    assert.equal(form[0], 415); // a cross-site form post cannot rate
    const bad = await get("api/rate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ item: 0, rating: "great", contextFree: false }),
    });
    assert.deepEqual([bad[0], JSON.parse(bad[1]).error], [
      400,
      'rating must be one of yes, maybe, no, got "great"',
    ]);
    // Another Host (DNS rebinding: a site whose name resolves to 127.0.0.1) is refused.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: app.server.port });
    try {
      const request = "GET /api/state HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
      await conn.write(new TextEncoder().encode(request));
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 403/);
    } finally {
      conn.close();
    }
    const page = await fetch(app.url);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.equal(await page.text(), ratingPageHtml());
  } finally {
    await app.close();
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("the same dictionary twice is compared with itself, with a warning", async () => {
  const out = await Deno.makeTempDir({ prefix: "rating_app_test_" });
  const r = await runCaptured(async (a) => {
    const app = await startCompareInterp(a);
    await app.close();
    return 0;
  }, sessionArgs(out, { n: 2, rows: 16, b: "tiny:1" }));
  try {
    assert.deepEqual(r.stderr, [
      "warning: --a tiny:1 and --b tiny:1 are the same dictionary (same weights): the comparison is of a dictionary with itself",
    ]);
    const key = await readKey(out);
    assert.deepEqual(key.map((k) => k.dictionary).sort(), ["A", "A", "B", "B"]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

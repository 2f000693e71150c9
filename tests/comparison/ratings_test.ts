/**
 * The ratings store: every answer is a line on disk when `append` resolves, a reopened store
 * continues at the first unrated item, the last answer of an item is the one counted (never
 * two), answers are final once all items are rated, and a bad line is an error naming the file
 * and line that leaves the file untouched.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkRating, type Rating, RatingsStore } from "../../lib/comparison/ratings.ts";
import { tallyRatings } from "../../lib/comparison/results.ts";
import type { KeyEntry } from "../../lib/comparison/sampling.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ratings_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const answer = (item: number, rating: Rating["rating"], contextFree = false, note = "") => ({
  item,
  rating,
  contextFree,
  note,
});

const fileLines = async (path: string) =>
  (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");

Deno.test("append() writes one JSON line per answer; a reopened store resumes at the first unrated item", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ratings.jsonl");
    const store = await RatingsStore.open(path, 5);
    assert.equal(store.firstUnrated(), 0);
    const r = await store.append(answer(0, "yes", true, 'a "quoted" note\nover two lines'));
    assert.ok(!Number.isNaN(Date.parse(r.time)));
    await store.append(answer(1, "maybe"));
    await store.append(answer(3, "no")); // out of order: 2 is still unrated
    const text = await Deno.readTextFile(path);
    assert.ok(text.endsWith("\n"));
    const lines = await fileLines(path);
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[0]), r);
    const again = await RatingsStore.open(path, 5);
    assert.equal(again.rated, 3);
    assert.equal(again.firstUnrated(), 2);
    assert.equal(again.get(0)?.note, 'a "quoted" note\nover two lines');
    assert.equal(again.complete, false);
    assert.deepEqual(again.ratings().map((x) => x.item), [0, 1, 3]);
  });
});

Deno.test("rating an item again counts once: the last answer wins, in memory and after a reopen", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ratings.jsonl");
    const store = await RatingsStore.open(path, 2);
    await store.append(answer(0, "no"));
    await store.append(answer(0, "yes", true, "second look"));
    await store.append(answer(0, "maybe")); // three lines for one item
    assert.equal(store.rated, 1);
    assert.equal(store.lines, 3);
    for (const s of [store, await RatingsStore.open(path, 2)]) {
      assert.equal(s.get(0)?.rating, "maybe");
      assert.equal(s.ratings().length, 1);
    }
    const key: KeyEntry[] = [
      { item: 0, dictionary: "A", feature: 5 },
      { item: 1, dictionary: "B", feature: 6 },
    ];
    assert.deepEqual(tallyRatings(key, store.ratings()).A, {
      yes: 0,
      maybe: 1,
      no: 0,
      contextFree: 0,
      total: 1,
    });
    // A double submit (the same answer twice, at once) is written once.
    const [first, second] = await Promise.all([
      store.append(answer(1, "yes")),
      store.append(answer(1, "yes")),
    ]);
    assert.deepEqual(second, first);
    assert.equal(store.rated, 2);
    assert.equal((await fileLines(path)).length, 4);
  });
});

Deno.test("answers are final once every item is rated: a further one is refused, the file unchanged", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ratings.jsonl");
    const store = await RatingsStore.open(path, 2);
    await store.append(answer(1, "yes"));
    await store.append(answer(0, "no"));
    assert.equal(store.complete, true);
    assert.equal(store.firstUnrated(), undefined);
    const before = await Deno.readTextFile(path);
    assert.equal((await store.append(answer(0, "no"))).rating, "no"); // the same answer: acknowledged
    await assert.rejects(store.append(answer(0, "yes")), {
      name: "RatingsError",
      message: /every item is rated and the key is revealed/,
    });
    assert.equal(await Deno.readTextFile(path), before);
    const reopened = await RatingsStore.open(path, 2);
    await assert.rejects(reopened.append(answer(1, "maybe")), { name: "RatingsError" });
  });
});

Deno.test("a bad answer is refused before anything is written", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ratings.jsonl");
    const store = await RatingsStore.open(path, 3);
    const bad: [unknown, RegExp][] = [
      [{ ...answer(3, "yes") }, /item 3 out of range 0\.\.2/],
      [{ ...answer(0, "yes"), rating: "perhaps" }, /rating must be one of yes, maybe, no/],
      [{ ...answer(0, "yes"), contextFree: "no" }, /contextFree must be true or false/],
      [{ ...answer(0, "yes"), note: 5 }, /note must be a string/],
      [{ ...answer(0, "yes"), note: "x".repeat(2001) }, /more than 2000/],
      [{ ...answer(0, "yes"), item: 1.5 }, /item must be an integer/],
    ];
    for (const [value, message] of bad) {
      await assert.rejects(store.append(value as never), { name: "RatingsError", message });
    }
    assert.equal(store.rated, 0);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound); // never created
    assert.equal(checkRating([], 3), "expected a JSON object");
  });
});

Deno.test("a corrupt ratings file is an error naming the file and line, and is left as it is", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ratings.jsonl");
    const good = JSON.stringify({ ...answer(0, "yes"), time: "2025-01-01T00:00:00.000Z" });
    const cases: [string, RegExp][] = [
      [`${good}\n${good}\n{"item": 1, "rating": "ye`, /line 3: not JSON/],
      [`${good}\n{"item": 1, "rating": "sure", "contextFree": false}\n`, /line 2: rating must be/],
      [
        `${good}\n\n{"item": 9, "rating": "no", "contextFree": false}\n`,
        /line 3: item 9 out of range/,
      ],
      [`[1, 2]\n`, /line 1: expected a JSON object/],
      [`${good.replace(/"time":"[^"]+"/, '"time":"yesterday"')}\n`, /line 1: time must be/],
    ];
    for (const [text, message] of cases) {
      await Deno.writeTextFile(path, text);
      await assert.rejects(RatingsStore.open(path, 3), (e: Error) => {
        assert.equal(e.name, "RatingsError");
        assert.ok(e.message.startsWith(`${path} line `), e.message);
        assert.match(e.message, message);
        assert.match(e.message, /the file was left as it is/);
        return true;
      });
      assert.equal(await Deno.readTextFile(path), text); // not truncated, not rewritten
    }
  });
});

Deno.test("a file whose last line has no newline gets one before the next answer", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ratings.jsonl");
    const good = JSON.stringify({ ...answer(0, "yes"), time: "2025-01-01T00:00:00.000Z" });
    await Deno.writeTextFile(path, `\n${good}`); // a blank line, then no final newline
    const store = await RatingsStore.open(path, 2);
    assert.equal(store.rated, 1);
    await store.append(answer(1, "no"));
    const lines = await fileLines(path);
    assert.equal(lines.length, 2);
    assert.equal(JSON.parse(lines[1]).rating, "no");
    assert.equal((await RatingsStore.open(path, 2)).complete, true);
  });
});

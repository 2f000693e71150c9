/**
 * The session folder and the results: a restart with other settings is refused naming the
 * setting; the key is read only once every item is rated; the tallies, results.md and its chart
 * agree with the answers; answers without a session record are never overwritten.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkSameSession,
  ComparisonSession,
  SESSION_FILES,
  type SessionSpec,
} from "../../lib/comparison/session.ts";
import { REFERENCE_TALLIES, tallyRatings } from "../../lib/comparison/results.ts";
import type { KeyEntry } from "../../lib/comparison/sampling.ts";

const dict = (source: string, fingerprint: string) => ({
  source,
  fingerprint,
  kind: "transcoder" as const,
  hookName: "blocks.1.ln2.hook_normalized",
  outHookName: "blocks.1.hook_mlp_out",
  dSae: 2048,
});

const SPEC: SessionSpec = {
  model: { name: "tiny", fingerprint: "model-fp" },
  A: dict("tiny:1", "aaaa"),
  B: { ...dict("sae-folder", "bbbb"), kind: "SAE", outHookName: "blocks.1.ln2.hook_normalized" },
  corpus: { source: "builtin", split: "validation", rows: 32 },
  seed: 0,
  n: 3,
  display: { examples: 10, bands: 5, perBand: 4, window: 8 },
};

const KEY: KeyEntry[] = [
  { item: 0, dictionary: "B", feature: 17 },
  { item: 1, dictionary: "A", feature: 1001 },
  { item: 2, dictionary: "A", feature: 5 },
  { item: 3, dictionary: "B", feature: 800 },
  { item: 4, dictionary: "B", feature: 2 },
  { item: 5, dictionary: "A", feature: 64 },
];

const ITEMS = KEY.map((_, i) => ({ top: [`<div>example ${i}</div>`], bands: [] }));

async function withSession(fn: (dir: string, s: ComparisonSession) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "session_test_" });
  try {
    const sampling = {
      A: { liveFeatures: 900, resampled: 1 },
      B: { liveFeatures: 700, resampled: 0 },
    };
    const s = await ComparisonSession.create(dir, SPEC, {
      key: KEY,
      items: ITEMS,
      tokens: 4096,
      sampling,
    });
    await fn(dir, s);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("checkSameSession() refuses each sampling setting that differs, naming it", () => {
  const changes: [Partial<SessionSpec>, RegExp][] = [
    [{ model: { name: "tiny", fingerprint: "other" } }, /with --model tiny, not tiny/],
    [
      { A: dict("tiny:1", "cccc") },
      /with --a tiny:1, fingerprint aaaa, not tiny:1, fingerprint cccc/,
    ],
    [{ B: dict("tiny:3", "dddd") }, /with --b sae-folder, fingerprint bbbb, not tiny:3/],
    [{ corpus: { ...SPEC.corpus, rows: null } }, /with --rows 32, not all/],
    [{ corpus: { ...SPEC.corpus, split: "train" } }, /with --split validation, not train/],
    [{ n: 50 }, /with --n 3, not 50/],
    [{ seed: 2 }, /with --seed 0, not 2/],
    [{ display: { ...SPEC.display, window: 4 } }, /with --window 8, not 4/],
  ];
  for (const [change, message] of changes) {
    assert.throws(
      () => checkSameSession(SPEC, { ...SPEC, ...change }, "x/session.json"),
      (e: Error) => {
        assert.equal(e.name, "SessionError");
        assert.match(e.message, message);
        assert.ok(e.message.startsWith("x/session.json is a session with "), e.message);
        assert.match(
          e.message,
          /continue it with deno task compare-interp --model tiny --a tiny:1 --b sae-folder --n 3 --seed 0 .*--rows 32/,
        );
        assert.match(e.message, /or give another --out for a new session$/);
        return true;
      },
    );
  }
  // The same weights from another path are the same dictionary; the port is no part of it.
  checkSameSession(SPEC, { ...SPEC, A: dict("copies/layer_1", "aaaa") }, "x");
});

Deno.test("a session keeps its key secret until every item is rated, then writes results.md", async () => {
  await withSession(async (dir, session) => {
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [SESSION_FILES.key, SESSION_FILES.items, SESSION_FILES.session].sort(),
    );
    assert.deepEqual(session.state(), { total: 6, rated: 0, next: 0, complete: false });
    const answers = [
      { item: 0, rating: "yes", contextFree: true, note: "B's | pipe" },
      { item: 1, rating: "yes", contextFree: false, note: "" },
      { item: 2, rating: "no", contextFree: false, note: "" },
      { item: 3, rating: "maybe", contextFree: true, note: "line\nbreak" },
      { item: 4, rating: "yes", contextFree: false, note: "" },
    ] as const;
    for (const a of answers) await session.rate(a);
    await assert.rejects(session.outcome(), {
      name: "SessionError",
      message: /1 of 6 items are not rated yet/,
    });
    await assert.rejects(session.writeResults(), { name: "SessionError" });
    assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name === SESSION_FILES.results));

    // A restart with the same settings continues at item 5 and completes the session.
    const again = (await ComparisonSession.open(dir, SPEC))!;
    assert.deepEqual(again.state(), { total: 6, rated: 5, next: 5, complete: false });
    await again.rate({ item: 5, rating: "maybe", contextFree: false, note: "" });
    assert.equal(again.state().complete, true);
    const { rows, key, ratings } = await again.outcome();
    assert.deepEqual(key, KEY);
    assert.deepEqual(rows.map((r) => r.tally), [
      { yes: 1, maybe: 1, no: 1, contextFree: 0, total: 3 },
      { yes: 2, maybe: 1, no: 0, contextFree: 2, total: 3 },
    ]);
    assert.deepEqual(tallyRatings(KEY, ratings), { A: rows[0].tally, B: rows[1].tally });
    assert.match(
      rows[0].description,
      /^tiny:1 \(transcoder, blocks\.1\.ln2\.hook_normalized -> blocks\.1\.hook_mlp_out, 2048 features\)$/,
    );
    assert.match(
      rows[1].description,
      /^sae-folder \(SAE, blocks\.1\.ln2\.hook_normalized, 2048 features\)$/,
    );

    const md = await Deno.readTextFile(join(dir, SESSION_FILES.results));
    assert.match(md, /^# Blind interpretability comparison/);
    assert.match(
      md,
      /\| A \| tiny:1 \(transcoder, .*\) \| 3 \| 1 \(33%\) \| 1 \(33%\) \| 1 \(33%\) \| 0 \(0%\) \|/,
    );
    assert.match(
      md,
      /\| B \| sae-folder \(SAE, .*\) \| 3 \| 2 \(67%\) \| 1 \(33%\) \| 0 \(0%\) \| 2 \(67%\) \|/,
    );
    for (const r of REFERENCE_TALLIES) {
      const t = r.tally;
      assert.ok(md.includes(`| ${r.label} | ${r.description} | 50 | ${t.yes} (`), r.label);
    }
    assert.match(md, /\| 1 \| B \| 17 \| yes \| yes \| B's \\\| pipe \|/); // escaped pipe
    assert.match(md, /\| 4 \| B \| 800 \| maybe \| yes \| line break \|/);
    assert.match(md, /!\[tallies\]\(results\.svg\)/);
    const svg = await Deno.readTextFile(join(dir, SESSION_FILES.chart));
    assert.ok(svg.startsWith("<svg"));
    assert.equal(svg.match(/<rect/g)?.length, 16); // 4 dictionaries x 4 answers

    // Complete: answers are final.
    await assert.rejects(again.rate({ item: 0, rating: "no", contextFree: false, note: "" }), {
      name: "RatingsError",
    });
  });
});

Deno.test("open() refuses other settings and incomplete folders; create() never overwrites answers", async () => {
  await withSession(async (dir) => {
    await assert.rejects(ComparisonSession.open(dir, { ...SPEC, seed: 1 }), {
      name: "SessionError",
      message: /session\.json is a session with --seed 0, not 1/,
    });
    await assert.rejects(
      ComparisonSession.create(dir, SPEC, {
        key: KEY,
        items: ITEMS,
        tokens: 1,
        sampling: { A: { liveFeatures: 1, resampled: 0 }, B: { liveFeatures: 1, resampled: 0 } },
      }),
      { name: "SessionError", message: /already holds a session/ },
    );
    await Deno.remove(join(dir, SESSION_FILES.items));
    await assert.rejects(ComparisonSession.open(dir, SPEC), { message: /items\.json not found/ });
  });
  const dir = await Deno.makeTempDir({ prefix: "session_test_" });
  try {
    assert.equal(await ComparisonSession.open(dir, SPEC), undefined); // nothing there yet
    const ratings = join(dir, SESSION_FILES.ratings);
    await Deno.writeTextFile(ratings, '{"item": 0}\n');
    await assert.rejects(ComparisonSession.open(dir, SPEC), {
      name: "SessionError",
      message: /ratings\.jsonl holds answers but .*session\.json is missing/,
    });
    assert.equal(await Deno.readTextFile(ratings), '{"item": 0}\n');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Document,
  loadDocuments,
  loadPackedCorpus,
  packDocuments,
  packedCorpusCachePath,
  packTokens,
  parseJsonlCorpus,
  parseTextCorpus,
  RowPacker,
  splitDocuments,
} from "../../lib/train/corpus.ts";
import { readSafetensors } from "../../lib/formats/safetensors.ts";
import { BOS_TOKEN_ID, encodeText } from "../../lib/tokenizer/gpt2_tokenizer.ts";

const B = BOS_TOKEN_ID;

function rowsOf(t: { shape: readonly number[]; data: Int32Array }): number[][] {
  const [n, c] = t.shape;
  return Array.from({ length: n }, (_, i) => Array.from(t.data.subarray(i * c, (i + 1) * c)));
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "corpus_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---- packing ----

Deno.test("packTokens: BOS per row, BOS between documents, overflow continues after BOS, last partial row dropped", () => {
  const t = packTokens([[1, 2, 3], [4, 5, 6, 7, 8], [9], [10, 11, 12, 13, 14, 15]], { nCtx: 4 });
  assert.equal(t.dtype, "int32");
  assert.deepEqual(t.shape, [5, 4]);
  assert.deepEqual(rowsOf(t), [
    [B, 1, 2, 3], // doc 1 fills the row exactly
    [B, 4, 5, 6], // doc 2 starts a fresh row: no separator besides the row's BOS
    [B, 7, 8, B], // doc 2 overflows onto a row that starts with BOS; the separator before doc 3 fills it
    [B, 9, B, 10], // doc 3 starts after the next row's BOS; separator before doc 4
    [B, 11, 12, 13], // doc 4 continues; [B, 14, 15] is dropped
  ]);
});

Deno.test("packTokens: documents already starting with BOS get no second BOS; empty documents are skipped", () => {
  const t = packTokens([[B, 1, 2], [], [B, 3], [4, 5, 6, 7]], { nCtx: 4 });
  assert.deepEqual(rowsOf(t), [
    [B, 1, 2, B], // doc 3's own BOS is its separator
    [B, 3, B, 4], // a row whose next token is not BOS gets one
    [B, 5, 6, 7],
  ]);
});

Deno.test("packTokens without prependBos: windows of doc1 BOS doc2 BOS ...", () => {
  const t = packTokens([[1, 2, 3], [4, 5], [6, 7, 8, 9, 10]], { nCtx: 3, prependBos: false });
  assert.deepEqual(rowsOf(t), [[1, 2, 3], [4, 5, B], [6, 7, 8]]);
  // a document that starts a row gets no separator; [9, 10] is dropped
});

Deno.test("packTokens: fewer tokens than one row gives zero rows", () => {
  const t = packTokens([[1, 2], [3]], { nCtx: 8 });
  assert.deepEqual(t.shape, [0, 8]);
  assert.equal(t.data.length, 0);
});

Deno.test("RowPacker streams: rows come out as soon as they are complete, as packTokens packs them", () => {
  const docs = [[1, 2, 3, 4, 5, 6, 7], [8], [9, 10], [B, 11], [12, 13, 14, 15, 16, 17, 18, 19]];
  const packer = new RowPacker({ nCtx: 5 });
  const streamed: number[][] = [];
  const counts = docs.map((d) => {
    const rows = packer.push(Int32Array.from(d));
    for (const r of rows) streamed.push(Array.from(r));
    return rows.length;
  });
  assert.deepEqual(counts, [1, 1, 1, 0, 2]);
  assert.deepEqual(streamed, rowsOf(packTokens(docs, { nCtx: 5 })));
  assert.equal(packer.rowsEmitted, 5);
  assert.equal(packer.pendingTokens, 3); // [B, 18, 19] waits for more
  assert.deepEqual(streamed, [[B, 1, 2, 3, 4], [B, 5, 6, 7, B], [B, 8, B, 9, 10], [
    B,
    11,
    B,
    12,
    13,
  ], [B, 14, 15, 16, 17]]);
});

Deno.test("packing rejects an nCtx with no room for tokens", () => {
  assert.throws(() => new RowPacker({ nCtx: 1 }), {
    message: "nCtx must be an integer >= 2 when prependBos is true, got 1",
  });
  assert.throws(() => packTokens([[1]], { nCtx: 2.5 }), {
    message: "nCtx must be an integer >= 2 when prependBos is true, got 2.5",
  });
  assert.throws(() => new RowPacker({ nCtx: 0, prependBos: false }), {
    message: "nCtx must be an integer >= 1, got 0",
  });
  assert.deepEqual(rowsOf(packTokens([[1, 2], [3]], { nCtx: 1, prependBos: false })), [[1], [2], [
    3,
  ]]);
});

Deno.test("packDocuments tokenizes without BOS and packs like packTokens; progress after each document", () => {
  const docs = [{ text: "The quick brown fox jumps over the lazy dog." }, { text: "" }, {
    text: " Call me Ishmael.",
  }];
  const progress: number[][] = [];
  const t = packDocuments(docs, {
    nCtx: 6,
    onProgress: (p) => progress.push([p.documents, p.totalDocuments, p.tokens]),
  });
  const tokenLists = docs.map((d) => encodeText(d.text, { prependBos: false }));
  assert.deepEqual(rowsOf(t), rowsOf(packTokens(tokenLists, { nCtx: 6 })));
  assert.deepEqual(rowsOf(t)[0], [
    B,
    ...encodeText("The quick brown fox jumps", { prependBos: false }),
  ]);
  const n0 = tokenLists[0].length, n2 = tokenLists[2].length;
  assert.deepEqual(progress, [[1, 3, n0], [2, 3, n0], [3, 3, n0 + n2]]);
});

// ---- split ----

const manyDocs: Document[] = Array.from(
  { length: 41 },
  (_, i) => ({ id: `doc${i}`, text: `text ${i}` }),
);

Deno.test("splitDocuments is deterministic, disjoint, covers every document, and depends on the seed", () => {
  const a = splitDocuments(manyDocs, { validationFraction: 0.2, seed: 3 });
  const b = splitDocuments(manyDocs, { validationFraction: 0.2, seed: 3 });
  assert.deepEqual(a, b);
  assert.equal(a.validation.length, 8); // round(0.2 * 41)
  assert.equal(a.train.length, 33);
  const trainIds = new Set(a.train.map((d) => d.id)),
    valIds = new Set(a.validation.map((d) => d.id));
  assert.equal([...valIds].filter((id) => trainIds.has(id)).length, 0);
  assert.deepEqual([...trainIds, ...valIds].sort(), manyDocs.map((d) => d.id).sort());
  const c = splitDocuments(manyDocs, { validationFraction: 0.2, seed: 4 });
  assert.notDeepEqual(c.validation.map((d) => d.id), a.validation.map((d) => d.id));
  // the order is shuffled, not the input order
  assert.notDeepEqual(
    a.train.map((d) => d.id),
    manyDocs.filter((d) => trainIds.has(d.id)).map((d) => d.id),
  );
});

Deno.test("splitDocuments: default 5%, at least one validation document, a larger fraction only adds", () => {
  assert.equal(splitDocuments(manyDocs).validation.length, 2); // round(0.05 * 41)
  assert.equal(splitDocuments(manyDocs.slice(0, 2)).validation.length, 1);
  assert.deepEqual(
    splitDocuments(manyDocs.slice(0, 2), { validationFraction: 0.9 }).train.length,
    1,
  );
  assert.equal(splitDocuments(manyDocs.slice(0, 1)).validation.length, 0);
  assert.equal(splitDocuments(manyDocs, { validationFraction: 0 }).validation.length, 0);
  const small = new Set(
    splitDocuments(manyDocs, { validationFraction: 0.1 }).validation.map((d) => d.id),
  );
  const large = new Set(
    splitDocuments(manyDocs, { validationFraction: 0.3 }).validation.map((d) => d.id),
  );
  assert.ok([...small].every((id) => large.has(id)));
  assert.throws(() => splitDocuments(manyDocs, { validationFraction: 1 }), {
    message: "validationFraction must be in [0, 1), got 1",
  });
  assert.throws(() => splitDocuments(manyDocs, { seed: 0.5 }), {
    message: "seed must be an integer, got 0.5",
  });
});

// ---- parsing ----

Deno.test("parseTextCorpus splits on <|endoftext|> lines and trims blank lines", () => {
  const text =
    "\nFirst doc,\n  indented line.\n\n<|endoftext|>\n\nSecond doc.\r\n <|endoftext|> \r\n\n" +
    "<|endoftext|>\nThird has <|endoftext|> inline.\n\n";
  assert.deepEqual(parseTextCorpus(text, "c.txt"), [
    { id: "c.txt#0", text: "First doc,\n  indented line." },
    { id: "c.txt#1", text: "Second doc." },
    { id: "c.txt#3", text: "Third has <|endoftext|> inline." },
  ]);
  assert.deepEqual(parseTextCorpus("Just one\n\ndocument.\n", "one.txt"), [{
    id: "one.txt#0",
    text: "Just one\n\ndocument.",
  }]);
  assert.deepEqual(parseTextCorpus(" \n\n<|endoftext|>\n", "blank.txt"), []);
});

Deno.test("parseJsonlCorpus reads text fields and names the bad line", () => {
  assert.deepEqual(
    parseJsonlCorpus(
      '{"text": "One."}\n\n{"text": "Two.", "meta": 1}\r\n{"text": "  "}\n',
      "c.jsonl",
    ),
    [
      { id: "c.jsonl:1", text: "One." },
      { id: "c.jsonl:3", text: "Two." },
    ],
  );
  assert.throws(
    () => parseJsonlCorpus('{"text": "ok"}\n{"text": oops}\n', "c.jsonl", "/data/c.jsonl"),
    {
      name: "SyntaxError",
      message: /^corpus \/data\/c\.jsonl line 2: invalid JSON \(/,
    },
  );
  assert.throws(() => parseJsonlCorpus('{"text": "ok"}\n{"body": "x"}', "c.jsonl"), {
    message: 'corpus c.jsonl line 2: the object has no "text" field',
  });
  assert.throws(() => parseJsonlCorpus('{"text": 42}', "c.jsonl"), {
    message: 'corpus c.jsonl line 1: "text" is a number (42), expected a string',
  });
  assert.throws(() => parseJsonlCorpus('\n\n["text"]', "c.jsonl"), {
    message:
      'corpus c.jsonl line 3: expected a JSON object with a string "text" field, got an array',
  });
});

Deno.test("loadDocuments reads .txt and .jsonl files and directories of .txt files", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "a.txt"), "Alpha.\n\n<|endoftext|>\n\nBeta.\n");
    assert.deepEqual(await loadDocuments({ path: join(dir, "a.txt") }), [
      { id: "a.txt#0", text: "Alpha." },
      { id: "a.txt#1", text: "Beta." },
    ]);
    await Deno.writeTextFile(join(dir, "b.jsonl"), '{"text": "Gamma."}\n{"text": "Delta."}\n');
    assert.deepEqual((await loadDocuments({ path: join(dir, "b.jsonl") })).map((d) => d.text), [
      "Gamma.",
      "Delta.",
    ]);
    await Deno.writeTextFile(join(dir, "bad.jsonl"), '{"text": "Gamma."}\n{"text": null}\n');
    await assert.rejects(loadDocuments({ path: join(dir, "bad.jsonl") }), {
      message: `corpus ${join(dir, "bad.jsonl")} line 2: "text" is null, expected a string`,
    });

    const sub = join(dir, "docs");
    await Deno.mkdir(sub);
    await Deno.writeTextFile(join(sub, "b.txt"), "Second.\n");
    await Deno.writeTextFile(join(sub, "a.txt"), "\nFirst.\n");
    await Deno.writeTextFile(join(sub, "c.txt"), "  \n");
    await Deno.writeTextFile(join(sub, "notes.md"), "ignored");
    assert.deepEqual(await loadDocuments({ path: sub }), [{ id: "a.txt", text: "First." }, {
      id: "b.txt",
      text: "Second.",
    }]);
  });
});

Deno.test("loadDocuments errors: missing path, empty corpus, unsupported file, unknown source", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "x", "y.txt");
    await assert.rejects(loadDocuments({ path: missing }), {
      message: `corpus ${missing} not found`,
    });
    await Deno.writeTextFile(join(dir, "empty.txt"), "\n\n<|endoftext|>\n");
    await assert.rejects(loadDocuments({ path: join(dir, "empty.txt") }), {
      message: `corpus ${join(dir, "empty.txt")} has no documents`,
    });
    await Deno.writeTextFile(join(dir, "empty.jsonl"), "\n");
    await assert.rejects(loadDocuments({ path: join(dir, "empty.jsonl") }), {
      message: /has no documents$/,
    });
    await Deno.mkdir(join(dir, "nothing"));
    await assert.rejects(loadDocuments({ path: join(dir, "nothing") }), {
      message: `corpus ${join(dir, "nothing")} has no documents`,
    });
    await Deno.writeTextFile(join(dir, "data.csv"), "a,b\n");
    await assert.rejects(loadDocuments({ path: join(dir, "data.csv") }), {
      message: `corpus ${
        join(dir, "data.csv")
      }: unsupported file type ".csv" (expected a .txt or .jsonl file, or a directory of .txt files)`,
    });
  });
  // deno-lint-ignore no-explicit-any
  await assert.rejects(loadDocuments("wikipedia" as any), {
    message:
      'unknown corpus source "wikipedia" (expected "sotu", "moby-dick", "builtin" or {path})',
  });
});

Deno.test("built-in sources: State of the Union by address, Moby-Dick by chapter", async () => {
  const sotu = await loadDocuments("sotu");
  const moby = await loadDocuments("moby-dick");
  assert.ok(sotu.length > 200, `sotu has ${sotu.length} documents`);
  assert.ok(moby.length > 100, `moby-dick has ${moby.length} documents`);
  assert.equal(sotu[0].id, "sotu/1790-george-washington");
  assert.match(sotu[0].text, /^Fellow-Citizens of the Senate and House of Representatives/);
  assert.ok(
    moby.some((d) => d.id === "moby-dick/chapter-1" && d.text.startsWith("Call me Ishmael.")),
  );
  const all = await loadDocuments("builtin");
  assert.equal(all.length, sotu.length + moby.length);
  assert.equal(new Set(all.map((d) => d.id)).size, all.length);
  assert.ok(all.every((d) => d.text.trim().length > 0));
  const chars = all.reduce((s, d) => s + d.text.length, 0);
  assert.ok(chars > 10_000_000, `builtin corpus has ${chars} characters`);
});

// ---- cached packed corpus ----

const sentences = [
  "The whale surfaced near the ship.",
  "Congress met in the winter session.",
  "A storm gathered over the harbor at dusk.",
  "The report of the Treasury was laid before the House.",
  "Sailors mended the rigging by lantern light.",
];

async function writeSmallCorpus(path: string, nDocs: number, salt = ""): Promise<void> {
  const lines = Array.from({ length: nDocs }, (_, i) => {
    const text = Array.from(
      { length: 1 + (i % 4) },
      (_, j) => sentences[(i + j) % sentences.length],
    ).join(" ");
    return JSON.stringify({ text: `${salt}Document ${i}. ${text}` });
  });
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

Deno.test("loadPackedCorpus packs the chosen split, caches it, and trusts a matching cache", async () => {
  await withTempDir(async (dir) => {
    const corpus = join(dir, "small.jsonl"), cacheDir = join(dir, "cache");
    await writeSmallCorpus(corpus, 30);
    const options = {
      source: { path: corpus },
      nCtx: 16,
      split: "train" as const,
      validationFraction: 0.2,
      seed: 7,
      cacheDir,
      quiet: true,
    };
    const train = await loadPackedCorpus(options);
    const docs = await loadDocuments({ path: corpus });
    const { train: trainDocs, validation: valDocs } = splitDocuments(docs, {
      validationFraction: 0.2,
      seed: 7,
    });
    assert.deepEqual(train, packDocuments(trainDocs, { nCtx: 16 }));
    assert.ok(train.shape[0] > 5);

    const path = await packedCorpusCachePath(options);
    assert.match(path, /small-jsonl-[0-9a-f]{12}-ctx16-train-val0\.2-seed7-v1\.safetensors$/);
    const file = await readSafetensors(path);
    assert.deepEqual(file.tensors.get("tokens"), train);
    assert.equal(file.storedDtypes.get("tokens"), "I32");
    assert.equal(file.metadata.n_ctx, "16");
    assert.equal(file.metadata.split, "train");
    assert.equal(file.metadata.seed, "7");
    assert.equal(file.metadata.validation_fraction, "0.2");
    assert.equal(file.metadata.format_version, "1");
    assert.equal(file.metadata.documents, String(trainDocs.length));

    // A matching cache file is used as is: its (back-dated) modification time stays.
    await Deno.utime(path, 0, 0);
    assert.deepEqual(await loadPackedCorpus(options), train);
    assert.equal((await Deno.stat(path)).mtime?.getTime(), 0);

    const val = await loadPackedCorpus({ ...options, split: "validation", nCtx: 8 });
    assert.deepEqual(val, packDocuments(valDocs, { nCtx: 8 }));
    const names = [];
    for await (const e of Deno.readDir(cacheDir)) names.push(e.name);
    assert.equal(names.length, 2);
  });
});

Deno.test("loadPackedCorpus rebuilds a corrupt, tampered or stale cache file", async () => {
  await withTempDir(async (dir) => {
    const corpus = join(dir, "small.jsonl"), cacheDir = join(dir, "cache");
    await writeSmallCorpus(corpus, 20);
    const options = {
      source: { path: corpus },
      nCtx: 12,
      split: "train" as const,
      cacheDir,
      quiet: true,
    };
    const expected = await loadPackedCorpus(options);
    const path = await packedCorpusCachePath(options);
    const good = await Deno.readFile(path);

    // Truncated file.
    await Deno.writeFile(path, good.subarray(0, good.length - 10));
    assert.deepEqual(await loadPackedCorpus(options), expected);
    assert.deepEqual(await Deno.readFile(path), good);

    // Garbage.
    await Deno.writeTextFile(path, "not a safetensors file");
    assert.deepEqual(await loadPackedCorpus(options), expected);
    assert.deepEqual(await Deno.readFile(path), good);

    // A flipped byte in the token data.
    const flipped = good.slice();
    flipped[flipped.length - 1] ^= 0x7f;
    await Deno.writeFile(path, flipped);
    assert.deepEqual(await loadPackedCorpus(options), expected);
    assert.deepEqual(await Deno.readFile(path), good);

    // The corpus changed on disk: the cache no longer matches its documents.
    await writeSmallCorpus(corpus, 20, "Revised. ");
    const revised = await loadPackedCorpus(options);
    assert.notDeepEqual(revised, expected);
    const { train } = splitDocuments(await loadDocuments({ path: corpus }));
    assert.deepEqual(revised, packDocuments(train, { nCtx: 12 }));
  });
});

Deno.test("loadPackedCorpus rejects bad options and a split with no complete row", async () => {
  await withTempDir(async (dir) => {
    const corpus = join(dir, "tiny.txt"), cacheDir = join(dir, "cache");
    await Deno.writeTextFile(corpus, "Hello there.\n\n<|endoftext|>\n\nGeneral Kenobi.\n");
    const base = { source: { path: corpus }, nCtx: 64, cacheDir, quiet: true };
    await assert.rejects(loadPackedCorpus({ ...base, split: "train" }), {
      message: `corpus path:${corpus} train split (1 documents) holds no complete row of 64 tokens`,
    });
    // deno-lint-ignore no-explicit-any
    await assert.rejects(loadPackedCorpus({ ...base, split: "test" as any }), {
      message: 'split must be "train" or "validation", got "test"',
    });
    await assert.rejects(loadPackedCorpus({ ...base, split: "train", nCtx: 1 }), {
      message: "nCtx must be an integer >= 2 when prependBos is true, got 1",
    });
    await assert.rejects(loadPackedCorpus({ ...base, split: "train", validationFraction: -0.1 }), {
      message: "validationFraction must be in [0, 1), got -0.1",
    });
  });
});

/**
 * The training corpus: documents from a built-in or user source, a deterministic train /
 * validation split by document, packing into `[nRows, nCtx]` token rows (SAELens's rule, see
 * `packing.ts`), and a safetensors cache of the packed rows so the tokenization runs once.
 *
 * This module re-exports the sources (`corpus_sources.ts`) and the packers (`packing.ts`).
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import { Rng } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type CorpusSource,
  describeSource,
  type Document,
  loadDocuments,
} from "./corpus_sources.ts";
import { checkPackOptions, packDocuments, type PackProgress } from "./packing.ts";

export * from "./corpus_sources.ts";
export * from "./packing.ts";

/** Options of {@link splitDocuments}. */
export interface SplitOptions {
  /** Fraction of the documents held out for validation, in [0, 1) (default 0.05). */
  validationFraction?: number;
  /** Seed of the document shuffle (default 0). */
  seed?: number;
}

/** The two sides of a split, each in shuffled order. */
export interface DocumentSplit {
  train: Document[];
  validation: Document[];
}

function checkSplitOptions(validationFraction: number, seed: number): void {
  if (!Number.isFinite(validationFraction) || validationFraction < 0 || validationFraction >= 1) {
    throw new RangeError(`validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
}

/**
 * Splits documents (never inside a document) into train and validation sets: the document order
 * is shuffled with a seeded {@link Rng}, the first `round(validationFraction * n)` documents of
 * that order go to validation and the rest to train. With a fraction above 0 and at least two
 * documents, validation gets at least one document and train keeps at least one. The same
 * documents, fraction and seed always give the same split, and a larger fraction only adds
 * documents to the validation set.
 *
 * @example
 * ```ts
 * import { splitDocuments } from "./corpus.ts";
 * const docs = Array.from({ length: 20 }, (_, i) => ({ id: `d${i}`, text: `document ${i}` }));
 * const { train, validation } = splitDocuments(docs, { validationFraction: 0.1, seed: 1 });
 * [train.length, validation.length]; // [18, 2]
 * ```
 */
export function splitDocuments(
  docs: readonly Document[],
  { validationFraction = 0.05, seed = 0 }: SplitOptions = {},
): DocumentSplit {
  checkSplitOptions(validationFraction, seed);
  const n = docs.length;
  const nValidation = validationFraction > 0 && n >= 2
    ? Math.min(n - 1, Math.max(1, Math.round(validationFraction * n)))
    : 0;
  const order = new Rng(seed).permutation(n);
  const validation: Document[] = [], train: Document[] = [];
  order.forEach((k, i) => (i < nValidation ? validation : train).push(docs[k]));
  return { train, validation };
}

function formatCount(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return `${Math.round(x)}`;
}

function writeStderr(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let p = 0; p < bytes.length;) p += Deno.stderr.writeSync(bytes.subarray(p));
}

/**
 * A progress callback for {@link packDocuments} that prints `label: D/N documents, T tokens,
 * R tokens/s` on stderr, but only once the work has run for `delayMs` (default 1 s), so quick
 * runs print nothing. On a terminal the line updates in place; otherwise a line is printed every
 * 5 s and at the end.
 *
 * @example
 * ```ts
 * import { packDocuments, stderrProgress } from "./corpus.ts";
 * packDocuments([{ text: "Some text" }], { nCtx: 2, onProgress: stderrProgress("tokenizing") });
 * ```
 */
export function stderrProgress(
  label: string,
  { delayMs = 1000 } = {},
): (progress: PackProgress) => void {
  const tty = Deno.stderr.isTerminal();
  const interval = tty ? 200 : 5000;
  let last = -Infinity;
  return ({ documents, totalDocuments, tokens, elapsedMs }) => {
    const final = documents === totalDocuments;
    if (elapsedMs < delayMs || (!final && elapsedMs - last < interval)) return;
    last = elapsedMs;
    const rate = tokens / Math.max(elapsedMs / 1000, 1e-9);
    const line =
      `${label}: ${documents}/${totalDocuments} documents, ${formatCount(tokens)} tokens, ` +
      `${formatCount(rate)} tokens/s`;
    writeStderr(tty ? `\r${line}\x1b[K${final ? "\n" : ""}` : `${line}\n`);
  };
}

/**
 * Version of the packed-corpus cache files; bump it when packing or the file layout changes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CORPUS_CACHE_VERSION, packedCorpusCachePath } from "./corpus.ts";
 * CORPUS_CACHE_VERSION; // 1
 * const path = await packedCorpusCachePath({ source: "sotu", nCtx: 128, split: "train" });
 * assert.ok(path.endsWith(`-v${CORPUS_CACHE_VERSION}.safetensors`)); // a new version, a new file
 * ```
 */
export const CORPUS_CACHE_VERSION = 1;
const CACHE_FORMAT = "transcoder-circuits/packed-corpus";
const TOKENIZER = "gpt2/r50k_base";

/** Options of {@link loadPackedCorpus}. */
export interface PackedCorpusOptions extends SplitOptions {
  source: CorpusSource;
  /** Tokens per row. */
  nCtx: number;
  split: "train" | "validation";
  /** Start every row with BOS (default true). */
  prependBos?: boolean;
  /** Folder of the cache files (default `.cache/corpus`, created when needed). */
  cacheDir?: string;
  /** Print nothing on stderr (default false: progress for slow tokenization, cache rebuild notes). */
  quiet?: boolean;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "corpus";
}

/** The cache identity of a source: a file-name key and the metadata value. */
async function sourceKey(source: CorpusSource): Promise<{ key: string; meta: string }> {
  if (typeof source === "string") return { key: source, meta: source };
  const full = resolve(source.path);
  const hash = (await sha256Hex(new TextEncoder().encode(full))).slice(0, 12);
  return { key: `path-${slug(basename(full))}-${hash}`, meta: `path:${full}` };
}

/** Hash of the documents' texts in order (ids are not part of it: they do not change the rows). */
function documentsHash(docs: readonly Document[]): Promise<string> {
  const parts: string[] = [];
  for (const d of docs) parts.push(`${d.text.length}:`, d.text);
  return sha256Hex(new TextEncoder().encode(parts.join("")));
}

/**
 * The cache file {@link loadPackedCorpus} uses for these options (the file may not exist yet):
 * `<cacheDir>/<source>-ctx<nCtx>-<split>-val<fraction>-seed<seed>[-nobos]-v<version>.safetensors`,
 * where a path source is named `path-<file name>-<hash of the absolute path>`.
 *
 * @example
 * ```ts
 * import { packedCorpusCachePath } from "./corpus.ts";
 * await packedCorpusCachePath({ source: "sotu", nCtx: 128, split: "train" });
 * // ".cache/corpus/sotu-ctx128-train-val0.05-seed0-v1.safetensors"
 * ```
 */
export async function packedCorpusCachePath(options: PackedCorpusOptions): Promise<string> {
  const { source, nCtx, split, validationFraction = 0.05, seed = 0, prependBos = true } = options;
  const { key } = await sourceKey(source);
  const bos = prependBos ? "" : "-nobos";
  const name =
    `${key}-ctx${nCtx}-${split}-val${validationFraction}-seed${seed}${bos}-v${CORPUS_CACHE_VERSION}`;
  return join(options.cacheDir ?? ".cache/corpus", `${name}.safetensors`);
}

/** Why a cache file cannot be used, or the tokens when it can. */
async function readCache(
  path: string,
  expected: Record<string, string>,
  nCtx: number,
): Promise<{ tokens: Tensor<"int32"> } | { problem: string | undefined }> {
  let file;
  try {
    file = await readSafetensors(path);
  } catch (e) {
    try {
      await Deno.lstat(path);
    } catch (statError) {
      if (statError instanceof Deno.errors.NotFound) return { problem: undefined };
    }
    return { problem: (e as Error).message };
  }
  for (const [k, v] of Object.entries(expected)) {
    if (file.metadata[k] !== v) {
      return {
        problem: `metadata ${k} is ${JSON.stringify(file.metadata[k])}, expected ${
          JSON.stringify(v)
        }`,
      };
    }
  }
  const t = file.tensors.get("tokens");
  if (!t || t.dtype !== "int32" || t.shape.length !== 2 || t.shape[1] !== nCtx || t.shape[0] < 1) {
    return { problem: `no int32 tensor "tokens" of shape [rows >= 1, ${nCtx}]` };
  }
  if (file.metadata.rows !== String(t.shape[0])) {
    return {
      problem: `metadata rows is ${JSON.stringify(file.metadata.rows)} but the tensor has ${
        t.shape[0]
      }`,
    };
  }
  const data = t.data as Int32Array;
  const hash = await sha256Hex(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (file.metadata.tokens_sha256 !== hash) {
    return { problem: "the tokens do not match their recorded SHA-256" };
  }
  return { tokens: t as Tensor<"int32"> };
}

/**
 * Loads a split of a corpus as packed token rows, an int32 tensor `[nRows, nCtx]`: the
 * documents are split by {@link splitDocuments} and the chosen side is tokenized and packed by
 * {@link packDocuments} (BOS at the start of every row and between documents; the last partial
 * row dropped).
 *
 * The rows are cached as a safetensors file in `cacheDir` (tensor `tokens`, I32, with metadata
 * recording the source, nCtx, split, seed, validation fraction, BOS setting, a hash of the
 * documents, a hash of the tokens and a format version), named after those parameters (see
 * {@link packedCorpusCachePath}). A cache file that is unreadable, corrupt or does not match
 * (another version, or the corpus changed) is rebuilt, never trusted. The documents are always
 * loaded, to check the cache against them (a fraction of a second for the built-in corpus).
 *
 * Tokenization that runs over a second reports progress on stderr; `quiet: true` silences it.
 * A split that packs into no complete row is an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPackedCorpus, packedCorpusCachePath } from "./corpus.ts";
 * const dir = await Deno.makeTempDir();
 * const docs = ["One two three four five.", "Six seven eight.", "Nine ten eleven."];
 * await Deno.writeTextFile(`${dir}/mine.txt`, docs.join("\n<|endoftext|>\n"));
 * const options = {
 *   source: { path: `${dir}/mine.txt` },
 *   nCtx: 4,
 *   split: "validation",
 *   validationFraction: 0.3, // 1 of the 3 documents
 *   cacheDir: dir,
 *   quiet: true,
 * } as const;
 * const val = await loadPackedCorpus(options);
 * val.shape; // [1, 4]: BOS, "Six", " seven", " eight" (the partial row [BOS, "."] is dropped)
 * assert.deepEqual(val.data, new Int32Array([50256, 21447, 3598, 3624]));
 * await Deno.stat(await packedCorpusCachePath(options)); // the cache file: the next call reads it
 * assert.deepEqual((await loadPackedCorpus(options)).data, val.data);
 * // The built-in corpus is loaded the same way: { source: "builtin", nCtx: 128, split: "train" }.
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadPackedCorpus(options: PackedCorpusOptions): Promise<Tensor<"int32">> {
  const {
    source,
    nCtx,
    split,
    validationFraction = 0.05,
    seed = 0,
    prependBos = true,
    quiet = false,
  } = options;
  checkPackOptions(nCtx, prependBos);
  checkSplitOptions(validationFraction, seed);
  if (split !== "train" && split !== "validation") {
    throw new RangeError(`split must be "train" or "validation", got ${JSON.stringify(split)}`);
  }
  const docs = await loadDocuments(source);
  const expected: Record<string, string> = {
    format: CACHE_FORMAT,
    format_version: String(CORPUS_CACHE_VERSION),
    tokenizer: TOKENIZER,
    source: (await sourceKey(source)).meta,
    documents_sha256: await documentsHash(docs),
    n_ctx: String(nCtx),
    split,
    seed: String(seed),
    validation_fraction: String(validationFraction),
    prepend_bos: String(prependBos),
  };
  const path = await packedCorpusCachePath(options);
  const cached = await readCache(path, expected, nCtx);
  if ("tokens" in cached) return cached.tokens;
  if (cached.problem !== undefined && !quiet) {
    const problem = cached.problem.startsWith(`${path}: `)
      ? cached.problem.slice(path.length + 2)
      : cached.problem;
    writeStderr(`corpus cache ${path} is unusable (${problem}); rebuilding it\n`);
  }

  const chosen = splitDocuments(docs, { validationFraction, seed })[split];
  const label = `tokenizing ${describeSource(source)} ${split}`;
  const tokens = packDocuments(chosen, {
    nCtx,
    prependBos,
    onProgress: quiet ? undefined : stderrProgress(label),
  });
  if (tokens.shape[0] === 0) {
    throw new RangeError(
      `corpus ${
        describeSource(source)
      } ${split} split (${chosen.length} documents) holds no complete row of ${nCtx} tokens`,
    );
  }
  const data = tokens.data;
  const metadata = {
    ...expected,
    documents: String(chosen.length),
    rows: String(tokens.shape[0]),
    tokens_sha256: await sha256Hex(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  };
  try {
    await Deno.mkdir(options.cacheDir ?? ".cache/corpus", { recursive: true });
    await writeSafetensors(path, { tokens }, { metadata });
  } catch (e) {
    if (!quiet) writeStderr(`could not write corpus cache ${path}: ${(e as Error).message}\n`);
  }
  return tokens;
}

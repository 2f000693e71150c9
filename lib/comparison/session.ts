/**
 * A blind comparison session: one folder (default `reports/interp-comparison/`) holding
 *
 * - `session.json`: what was sampled and how (the model's and both dictionaries' fingerprints,
 *   the corpus rows, seed, n, the display settings), so that a restart with other dictionaries,
 *   seed, n or rows is refused instead of mixing two samples; written last, so a folder with it
 *   is complete;
 * - `items.json`: the blinded view of every item, in the shuffled order (examples only: no ids);
 * - `SECRET_key.json`: which dictionary and feature each item is (the reference's
 *   `SECRET_FEATURES_LIST.txt`), read only to reveal the results once every item is rated;
 * - `ratings.jsonl`: the rater's answers, appended one a line (`ratings.ts`);
 * - `results.md` and `results.svg`: the tallies beside the reference's, and their chart, written
 *   when the last item is rated.
 *
 * @module
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { writeFileAtomic } from "../formats/safetensors.ts";
import type { ItemView } from "./items.ts";
import { type Rating, RatingsStore } from "./ratings.ts";
import {
  type ComparisonOutcome,
  resultsMarkdown,
  tallyChartSvg,
  tallyRatings,
  type TallyRow,
} from "./results.ts";
import type { DictionaryLabel, KeyEntry } from "./sampling.ts";

/**
 * The files of a session folder.
 *
 * @example
 * ```ts
 * import { SESSION_FILES } from "./session.ts";
 * SESSION_FILES.key; // "SECRET_key.json"
 * ```
 */
export const SESSION_FILES = {
  session: "session.json",
  items: "items.json",
  key: "SECRET_key.json",
  ratings: "ratings.jsonl",
  results: "results.md",
  chart: "results.svg",
} as const;

const FORMAT = "transcoder-circuits/interp-comparison";
const VERSION = 1;

/**
 * A session folder that cannot be used as asked (made with other settings, incomplete, or
 * holding answers without a session record).
 *
 * @example
 * ```ts
 * import { SessionError } from "./session.ts";
 * new SessionError("x/session.json is a session with --seed 0, not 1").name; // "SessionError"
 * ```
 */
export class SessionError extends Error {
  override name = "SessionError";
}

/** One dictionary of a session. */
export interface DictionaryInfo {
  /** As given (`tiny:1`, a SAELens folder, a reference `.pt`). */
  source: string;
  /** Weights fingerprint (`tensorFingerprint` of all five parameters). */
  fingerprint: string;
  kind: "transcoder" | "SAE";
  hookName: string;
  outHookName: string;
  dSae: number;
}

/** What a session samples, and how: a restart must ask for the same. */
export interface SessionSpec {
  model: { name: string; fingerprint: string };
  A: DictionaryInfo;
  B: DictionaryInfo;
  /** `rows: null` is the whole split. */
  corpus: { source: string; split: string; rows: number | null };
  seed: number;
  /** Features per dictionary. */
  n: number;
  display: { examples: number; bands: number; perBand: number; window: number };
}

/** `session.json`: the spec and what sampling found. */
export interface SessionRecord extends SessionSpec {
  format: string;
  version: number;
  created: string;
  /** 2n. */
  items: number;
  tokens: number;
  /** Per dictionary: live features on the rows, and how many were passed over (< 4 examples). */
  sampling: Record<DictionaryLabel, { liveFeatures: number; resampled: number }>;
}

/** Where the rater stands. */
export interface SessionState {
  total: number;
  rated: number;
  /** The first unrated item (where the page continues), or null when all are rated. */
  next: number | null;
  complete: boolean;
}

/** The command line that continues a session, from its record. */
function resumeCommand(s: SessionSpec): string {
  const args = [
    `--model ${s.model.name}`,
    `--a ${s.A.source}`,
    `--b ${s.B.source}`,
    `--n ${s.n}`,
    `--seed ${s.seed}`,
    `--corpus ${s.corpus.source}`,
    `--split ${s.corpus.split}`,
    ...(s.corpus.rows === null ? [] : [`--rows ${s.corpus.rows}`]),
    `--examples ${s.display.examples}`,
    `--bands ${s.display.bands}`,
    `--per-band ${s.display.perBand}`,
    `--window ${s.display.window}`,
  ];
  return `deno task compare-interp ${args.join(" ")}`;
}

/** The settings a restart must repeat: the option, and the value compared and shown. */
const CHECKED: [
  option: string,
  compared: (s: SessionSpec) => unknown,
  shown: (s: SessionSpec) => string,
][] = [
  ["--model", (s) => s.model.fingerprint, (s) => s.model.name],
  ["--a", (s) => s.A.fingerprint, (s) => `${s.A.source}, fingerprint ${s.A.fingerprint}`],
  ["--b", (s) => s.B.fingerprint, (s) => `${s.B.source}, fingerprint ${s.B.fingerprint}`],
  ["--corpus", (s) => s.corpus.source, (s) => s.corpus.source],
  ["--split", (s) => s.corpus.split, (s) => s.corpus.split],
  ["--rows", (s) => s.corpus.rows, (s) => `${s.corpus.rows ?? "all"}`],
  ["--n", (s) => s.n, (s) => `${s.n}`],
  ["--seed", (s) => s.seed, (s) => `${s.seed}`],
  ["--examples", (s) => s.display.examples, (s) => `${s.display.examples}`],
  ["--bands", (s) => s.display.bands, (s) => `${s.display.bands}`],
  ["--per-band", (s) => s.display.perBand, (s) => `${s.display.perBand}`],
  ["--window", (s) => s.display.window, (s) => `${s.display.window}`],
];

/**
 * Refuses to continue a session with other settings: throws a SessionError naming the first
 * setting that differs, both values, and the command that continues the session.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSameSession, type SessionSpec } from "./session.ts";
 * const dict = { source: "tiny:1", fingerprint: "ab12", kind: "transcoder" as const, hookName: "h", outHookName: "o", dSae: 8 };
 * const spec: SessionSpec = { model: { name: "tiny", fingerprint: "m" }, A: dict, B: { ...dict, source: "tiny:2", fingerprint: "cd34" },
 *   corpus: { source: "builtin", split: "validation", rows: 32 }, seed: 0, n: 6, display: { examples: 10, bands: 5, perBand: 4, window: 8 } };
 * checkSameSession(spec, { ...spec, A: { ...dict, source: "elsewhere/layer_1" } }, "s.json"); // same weights: fine
 * assert.throws(() => checkSameSession(spec, { ...spec, seed: 1 }, "s.json"), {
 *   name: "SessionError",
 *   message: /^s\.json is a session with --seed 0, not 1: continue it with deno task compare-interp .*--seed 0/,
 * });
 * ```
 */
export function checkSameSession(saved: SessionSpec, wanted: SessionSpec, path: string): void {
  for (const [option, compared, shown] of CHECKED) {
    if (JSON.stringify(compared(saved)) === JSON.stringify(compared(wanted))) continue;
    throw new SessionError(
      `${path} is a session with ${option} ${shown(saved)}, not ${
        shown(wanted)
      }: continue it with ${resumeCommand(saved)}, or give another --out for a new session`,
    );
  }
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SessionError(`${path} not found: the session folder is incomplete (${what})`);
    }
    throw e;
  }
  try {
    const v = JSON.parse(text);
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v;
  } catch { /* reported below */ }
  throw new SessionError(`${path}: not the JSON object of a session's ${what}`);
}

const writeJson = (path: string, value: unknown) =>
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 1) + "\n"));

/** One line per dictionary, e.g. `tiny:1 (transcoder, blocks.1.ln2.hook_normalized -> ..., 2048 features)`. */
function describe(d: DictionaryInfo): string {
  const hooks = d.kind === "SAE" ? d.hookName : `${d.hookName} -> ${d.outHookName}`;
  return `${d.source} (${d.kind}, ${hooks}, ${d.dSae} features)`;
}

/**
 * A session folder opened for rating (see the module notes): the blinded items, the answers,
 * and, once every item is rated, the key and the results.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ComparisonSession, type SessionSpec } from "./session.ts";
 * const dir = await Deno.makeTempDir();
 * const dict = { source: "tiny:1", fingerprint: "ab12", kind: "transcoder" as const, hookName: "h", outHookName: "o", dSae: 8 };
 * const spec: SessionSpec = { model: { name: "tiny", fingerprint: "m" }, A: dict, B: { ...dict, source: "tiny:2", fingerprint: "cd34" },
 *   corpus: { source: "builtin", split: "validation", rows: 32 }, seed: 0, n: 1, display: { examples: 10, bands: 5, perBand: 4, window: 8 } };
 * const key = [{ item: 0, dictionary: "B" as const, feature: 7 }, { item: 1, dictionary: "A" as const, feature: 3 }];
 * const items = [{ top: ["<div>...</div>"], bands: [] }, { top: ["<div>...</div>"], bands: [] }];
 * const sampling = { A: { liveFeatures: 5, resampled: 0 }, B: { liveFeatures: 6, resampled: 1 } };
 * const session = await ComparisonSession.create(dir, spec, { key, items, tokens: 4096, sampling });
 * await session.rate({ item: 0, rating: "yes", contextFree: false, note: "" });
 * session.state(); // { total: 2, rated: 1, next: 1, complete: false }
 * await assert.rejects(session.outcome(), { name: "SessionError" }); // the key stays secret
 * const again = await ComparisonSession.open(dir, spec); // a restart continues at item 1
 * await again!.rate({ item: 1, rating: "no", contextFree: true, note: "" });
 * const { rows } = await again!.outcome();
 * assert.deepEqual(rows.map((r) => r.tally.yes), [0, 1]); // A: 0 yes, B: 1 yes
 * assert.ok((await Deno.readTextFile(`${dir}/results.md`)).includes("| B |"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ComparisonSession {
  readonly dir: string;
  readonly record: SessionRecord;
  readonly items: readonly ItemView[];
  readonly store: RatingsStore;

  private constructor(
    dir: string,
    record: SessionRecord,
    items: readonly ItemView[],
    store: RatingsStore,
  ) {
    this.dir = dir;
    this.record = record;
    this.items = items;
    this.store = store;
  }

  /** A file of the session folder. */
  path(file: keyof typeof SESSION_FILES): string {
    return join(this.dir, SESSION_FILES[file]);
  }

  /**
   * Writes a new session into `dir` (items, key, then session.json) and opens it; refuses a
   * folder that already holds answers without a session record.
   */
  static async create(
    dir: string,
    spec: SessionSpec,
    { key, items, tokens, sampling }: {
      key: readonly KeyEntry[];
      items: readonly ItemView[];
      tokens: number;
      sampling: SessionRecord["sampling"];
    },
  ): Promise<ComparisonSession> {
    if (key.length !== items.length || key.length !== 2 * spec.n) {
      throw new RangeError(`${key.length} key entries and ${items.length} items for n = ${spec.n}`);
    }
    if (existsSync(join(dir, SESSION_FILES.session))) {
      throw new SessionError(`${join(dir, SESSION_FILES.session)} already holds a session`);
    }
    await checkNoOrphanRatings(dir);
    await Deno.mkdir(dir, { recursive: true });
    const record: SessionRecord = {
      format: FORMAT,
      version: VERSION,
      created: new Date().toISOString(),
      ...spec,
      items: items.length,
      tokens,
      sampling,
    };
    await writeJson(join(dir, SESSION_FILES.items), { format: `${FORMAT}/items`, items });
    await writeJson(join(dir, SESSION_FILES.key), {
      format: `${FORMAT}/key`,
      note: "The secret key of a blind comparison: do not read it before every item is rated.",
      dictionaries: { A: spec.A.source, B: spec.B.source },
      items: key,
    });
    await writeJson(join(dir, SESSION_FILES.session), record);
    const store = await RatingsStore.open(join(dir, SESSION_FILES.ratings), items.length);
    return new ComparisonSession(dir, record, items, store);
  }

  /**
   * Opens the session in `dir`, or returns undefined when there is none; throws a SessionError
   * when it was made with other settings than `wanted` (see `checkSameSession`) or is
   * incomplete, and a RatingsError for a bad line of its ratings file.
   */
  static async open(dir: string, wanted: SessionSpec): Promise<ComparisonSession | undefined> {
    const recordPath = join(dir, SESSION_FILES.session);
    if (!existsSync(recordPath)) {
      await checkNoOrphanRatings(dir);
      return undefined;
    }
    const raw = await readJson(recordPath, "record");
    if (raw.format !== FORMAT || raw.version !== VERSION) {
      throw new SessionError(
        `${recordPath}: not a session record of this version (format ${FORMAT}, version ${VERSION})`,
      );
    }
    const record = raw as unknown as SessionRecord;
    checkSameSession(record, wanted, recordPath);
    const itemsPath = join(dir, SESSION_FILES.items);
    const items = (await readJson(itemsPath, "items")).items as ItemView[];
    if (!Array.isArray(items) || items.length !== record.items) {
      throw new SessionError(`${itemsPath}: expected ${record.items} items`);
    }
    const store = await RatingsStore.open(join(dir, SESSION_FILES.ratings), items.length);
    return new ComparisonSession(dir, record, items, store);
  }

  /** Where the rater stands. */
  state(): SessionState {
    const next = this.store.firstUnrated();
    return {
      total: this.items.length,
      rated: this.store.rated,
      next: next ?? null,
      complete: this.store.complete,
    };
  }

  /**
   * Records an answer (durably, see `RatingsStore.append`); the last answer completes the
   * session and writes the results.
   */
  async rate(answer: Omit<Rating, "time">): Promise<Rating> {
    const r = await this.store.append(answer);
    if (this.store.complete) await this.writeResults();
    return r;
  }

  /** The key, the counted answers and the tallies; a SessionError until every item is rated. */
  async outcome(): Promise<ComparisonOutcome> {
    const left = this.items.length - this.store.rated;
    if (left > 0) {
      throw new SessionError(`${left} of ${this.items.length} items are not rated yet`);
    }
    const keyPath = this.path("key");
    const key = (await readJson(keyPath, "key")).items as KeyEntry[];
    if (!Array.isArray(key) || key.length !== this.items.length) {
      throw new SessionError(`${keyPath}: expected ${this.items.length} entries`);
    }
    const ratings = this.store.ratings();
    const tallies = tallyRatings(key, ratings);
    const rows: TallyRow[] = (["A", "B"] as const).map((label) => ({
      label,
      description: describe(this.record[label]),
      tally: tallies[label],
    }));
    return { rows, key, ratings };
  }

  /** Writes `results.md` and `results.svg` (every item must be rated); returns their paths. */
  async writeResults(): Promise<{ markdown: string; chart: string }> {
    const outcome = await this.outcome();
    const r = this.record;
    const rowsNote = r.corpus.rows === null ? "all rows" : `the first ${r.corpus.rows} rows`;
    const head = [
      "# Blind interpretability comparison",
      "",
      `${r.items} features (${r.n} from each dictionary, seed ${r.seed}) of model ${r.model.name}, ` +
      `sampled among the live features on ${rowsNote} of the ${r.corpus.split} split of the ` +
      `${r.corpus.source} corpus (${r.tokens} tokens), shuffled and rated blind. The reference: ` +
      "Dunefsky, Chlenski and Nanda (2024), interp-comparison.ipynb.",
      "",
      `![tallies](${SESSION_FILES.chart})`,
      "",
    ];
    const markdown = this.path("results"), chart = this.path("chart");
    const enc = new TextEncoder();
    await writeFileAtomic(chart, enc.encode(tallyChartSvg(outcome.rows) + "\n"));
    await writeFileAtomic(markdown, enc.encode(`${head.join("\n")}\n${resultsMarkdown(outcome)}`));
    return { markdown, chart };
  }
}

/** Refuses a folder whose ratings file has answers but no session record to tell their items. */
async function checkNoOrphanRatings(dir: string): Promise<void> {
  const ratings = join(dir, SESSION_FILES.ratings);
  if (existsSync(ratings) && (await Deno.stat(ratings)).size > 0) {
    throw new SessionError(
      `${ratings} holds answers but ${
        join(dir, SESSION_FILES.session)
      } is missing, so they cannot be matched to items: move the folder away or give another --out`,
    );
  }
}

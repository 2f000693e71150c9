/**
 * The rater's answers as an append-only JSONL file, one answer a line:
 *
 * ```
 * {"item":3,"rating":"yes","contextFree":true,"note":"the token \" Congress\"","time":"2025-01-01T12:00:00.000Z"}
 * ```
 *
 * - **Durable at once.** Each answer is one `write` of one whole line to the file opened for
 *   appending, then `fsync`, before the answer is acknowledged: a closed browser, a killed server
 *   or a crash after the acknowledgement loses nothing, and nothing is ever rewritten.
 * - **Last answer wins.** Changing the answer about an item (the page's "previous" button)
 *   appends another line, and only the last line of an item counts, so an item is never counted
 *   twice; the same answer again (a retried request, a double click) is acknowledged without a
 *   new line. Once every item is rated the key is revealed and the answers are final: a changed
 *   answer is refused (the rater has seen the key).
 * - **Strict reading.** Every line is checked when the file is opened (JSON, the item in range,
 *   the rating one of yes/maybe/no, ...); a bad line is an error naming the file and the line,
 *   and the file is left as it is. Blank lines are skipped.
 *
 * @module
 */

/** An answer: is the feature interpretable? */
export type Interpretability = "yes" | "maybe" | "no";

/**
 * The answers, in the order the page shows their buttons.
 *
 * @example
 * ```ts
 * import { INTERPRETABILITY } from "./ratings.ts";
 * INTERPRETABILITY.join("/"); // "yes/maybe/no"
 * ```
 */
export const INTERPRETABILITY: readonly Interpretability[] = ["yes", "maybe", "no"];

/** The longest note kept (characters). */
export const MAX_NOTE = 2000;

/** One answer about one item. */
export interface Rating {
  /** The session's item (its position in the shuffled list). */
  item: number;
  rating: Interpretability;
  /** A single-token feature that ignores its context. */
  contextFree: boolean;
  /** Free text ("" for none). */
  note: string;
  /** ISO time the answer was recorded. */
  time: string;
}

/**
 * A ratings file that cannot be used, or an answer that cannot be recorded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RatingsError, RatingsStore } from "./ratings.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ratings.jsonl`, "{oops\n");
 * await assert.rejects(RatingsStore.open(`${dir}/ratings.jsonl`, 2), RatingsError); // "... line 1: not JSON ..."
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RatingsError extends Error {
  override name = "RatingsError";
}

/**
 * Checks an answer (a parsed JSONL line, or a request's body) for a session of `nItems` items;
 * returns the problem as a message, or the answer (with `time` filled in when missing and
 * `fillTime` is given).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRating } from "./ratings.ts";
 * const r = checkRating({ item: 1, rating: "maybe", contextFree: false, note: "" }, 4, "2025-01-01T00:00:00.000Z");
 * assert.equal(typeof r === "string" ? r : r.rating, "maybe");
 * checkRating({ item: 4, rating: "yes", contextFree: false, note: "" }, 4); // "item 4 out of range 0..3"
 * checkRating({ item: 0, rating: "sure", contextFree: false, note: "" }, 4); // 'rating must be one of yes, maybe, no, got "sure"'
 * ```
 */
export function checkRating(value: unknown, nItems: number, fillTime?: string): Rating | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "expected a JSON object";
  }
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.item)) {
    return `item must be an integer, got ${JSON.stringify(v.item)}`;
  }
  const item = v.item as number;
  if (item < 0 || item >= nItems) return `item ${item} out of range 0..${nItems - 1}`;
  if (!INTERPRETABILITY.includes(v.rating as Interpretability)) {
    return `rating must be one of ${INTERPRETABILITY.join(", ")}, got ${JSON.stringify(v.rating)}`;
  }
  if (typeof v.contextFree !== "boolean") {
    return `contextFree must be true or false, got ${JSON.stringify(v.contextFree)}`;
  }
  const note = v.note ?? "";
  if (typeof note !== "string") return `note must be a string, got ${JSON.stringify(note)}`;
  if (note.length > MAX_NOTE) return `note has ${note.length} characters, more than ${MAX_NOTE}`;
  const time = v.time ?? fillTime;
  if (typeof time !== "string" || Number.isNaN(Date.parse(time))) {
    return `time must be an ISO date string, got ${JSON.stringify(v.time)}`;
  }
  return { item, rating: v.rating as Interpretability, contextFree: v.contextFree, note, time };
}

/**
 * The answers of one session, read from and appended to its JSONL file (see the module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RatingsStore } from "./ratings.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await RatingsStore.open(`${dir}/ratings.jsonl`, 3); // no file yet: nothing rated
 * await store.append({ item: 0, rating: "yes", contextFree: true, note: "" });
 * await store.append({ item: 1, rating: "no", contextFree: false, note: "noise" });
 * await store.append({ item: 1, rating: "maybe", contextFree: false, note: "on second look" }); // last wins
 * const again = await RatingsStore.open(`${dir}/ratings.jsonl`, 3); // e.g. after a restart
 * assert.equal(again.get(1)?.rating, "maybe");
 * assert.equal(again.rated, 2); // items 0 and 1, each counted once
 * again.firstUnrated(); // 2: where the page continues
 * assert.equal(again.lines, 3);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RatingsStore {
  readonly path: string;
  readonly nItems: number;
  readonly #byItem = new Map<number, Rating>();
  #lines = 0;
  /** The file's last byte is not a newline: the next line starts with one. */
  #needsNewline = false;
  /** Appends run one after another, in the order asked. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, nItems: number) {
    this.path = path;
    this.nItems = nItems;
  }

  /**
   * Opens the ratings file of a session of `nItems` items (a missing file has no answers);
   * throws a RatingsError naming the file and line of the first bad line.
   */
  static async open(path: string, nItems: number): Promise<RatingsStore> {
    const store = new RatingsStore(path, nItems);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return store;
      throw e;
    }
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === "") continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (e) {
        throw store.#corrupt(i + 1, `not JSON (${(e as Error).message})`);
      }
      const r = checkRating(json, nItems);
      if (typeof r === "string") throw store.#corrupt(i + 1, r);
      store.#byItem.set(r.item, r);
      store.#lines++;
    }
    store.#needsNewline = text.length > 0 && !text.endsWith("\n");
    return store;
  }

  #corrupt(line: number, what: string): RatingsError {
    return new RatingsError(
      `${this.path} line ${line}: ${what}; the file was left as it is: fix or remove that line to continue the session`,
    );
  }

  /** The counted answer about an item (its last line), if any. */
  get(item: number): Rating | undefined {
    return this.#byItem.get(item);
  }

  /** Items with an answer. */
  get rated(): number {
    return this.#byItem.size;
  }

  /** Answer lines in the file (re-ratings included). */
  get lines(): number {
    return this.#lines;
  }

  /** Every item has an answer: the key may be revealed and the answers are final. */
  get complete(): boolean {
    return this.#byItem.size === this.nItems;
  }

  /** The first item without an answer, or undefined when all are rated. */
  firstUnrated(): number | undefined {
    for (let i = 0; i < this.nItems; i++) if (!this.#byItem.has(i)) return i;
    return undefined;
  }

  /** The counted answers, by item. */
  ratings(): Rating[] {
    return [...this.#byItem.values()].sort((a, b) => a.item - b.item);
  }

  /**
   * Records an answer: checks it, appends its line and syncs the file to disk before resolving
   * (an answer equal to the item's counted one is not written again); throws a RatingsError for
   * a bad answer, or for a changed answer once the session is complete.
   */
  append(answer: Omit<Rating, "time"> & { time?: string }): Promise<Rating> {
    const run = this.#queue.then(() => this.#append(answer));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #append(answer: Omit<Rating, "time"> & { time?: string }): Promise<Rating> {
    const r = checkRating(answer, this.nItems, new Date().toISOString());
    if (typeof r === "string") throw new RatingsError(r);
    const known = this.#byItem.get(r.item);
    if (
      known && known.rating === r.rating && known.contextFree === r.contextFree &&
      known.note === r.note
    ) return known; // the same answer again (a retried request): already on disk
    if (this.complete) {
      throw new RatingsError(
        "every item is rated and the key is revealed: the answers are final",
      );
    }
    const line = (this.#needsNewline ? "\n" : "") + JSON.stringify(r) + "\n";
    const bytes = new TextEncoder().encode(line);
    const file = await Deno.open(this.path, { append: true, create: true });
    try {
      for (let p = 0; p < bytes.length;) p += await file.write(bytes.subarray(p));
      await file.syncData();
    } finally {
      file.close();
    }
    this.#needsNewline = false;
    this.#byItem.set(r.item, r);
    this.#lines++;
    return r;
  }
}

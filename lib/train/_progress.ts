/**
 * A progress line for long work: done/total, throughput, ETA and custom fields, redrawn in place
 * on a terminal and printed every few seconds otherwise (logs, CI).
 *
 * @module
 */

/**
 * Formats seconds as `1h02m`, `3m05s` or `42s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./_progress.ts";
 * assert.deepEqual([3725, 185, 42, Infinity].map(formatDuration), ["1h02m", "3m05s", "42s", "?"]);
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * Reports progress on stderr.
 *
 * @example
 * ```ts
 * import { Progress } from "./_progress.ts";
 * const p = new Progress("train", 100, { unit: "tok", quiet: true });
 * p.update(50, { loss: 3.2 }); // "train 50/100 tok 50% | ... tok/s | ETA ... | loss 3.2"
 * p.done();
 * ```
 */
export class Progress {
  readonly label: string;
  readonly total: number;
  readonly #unit: string;
  readonly #quiet: boolean;
  readonly #tty: boolean;
  readonly #interval: number;
  readonly #start = performance.now();
  readonly #startCount: number;
  #last = 0;
  #lastLine = "";

  constructor(
    label: string,
    total: number,
    { unit = "", quiet = false, start = 0, intervalMs }: {
      unit?: string;
      quiet?: boolean;
      start?: number;
      intervalMs?: number;
    } = {},
  ) {
    this.label = label;
    this.total = total;
    this.#unit = unit;
    this.#quiet = quiet;
    this.#startCount = start;
    let tty = false;
    try {
      tty = Deno.stderr.isTerminal();
    } catch { /* not a terminal */ }
    this.#tty = tty;
    this.#interval = intervalMs ?? (tty ? 200 : 10_000);
  }

  /** The progress line for `done` units and the given fields. */
  line(done: number, fields: Record<string, string | number> = {}): string {
    const elapsed = (performance.now() - this.#start) / 1000;
    const rate = (done - this.#startCount) / Math.max(elapsed, 1e-9);
    const eta = (this.total - done) / rate;
    const pct = this.total > 0 ? Math.floor((100 * done) / this.total) : 100;
    const extras = Object.entries(fields).map(([k, v]) =>
      `${k} ${typeof v === "number" ? Number(v.toPrecision(4)) : v}`
    );
    return [
      `${this.label} ${done}/${this.total}${this.#unit ? ` ${this.#unit}` : ""} ${pct}%`,
      `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} ${this.#unit || "it"}/s`,
      `elapsed ${formatDuration(elapsed)}`,
      `ETA ${formatDuration(eta)}`,
      ...extras,
    ].join(" | ");
  }

  /** Reports progress (throttled). */
  update(done: number, fields: Record<string, string | number> = {}): void {
    this.#lastLine = this.line(done, fields);
    const now = performance.now();
    if (this.#quiet || now - this.#last < this.#interval) return;
    this.#last = now;
    this.#write(this.#lastLine);
  }

  /** Prints the final line. */
  done(message?: string): void {
    if (this.#quiet) return;
    this.#write(message ?? this.#lastLine, true);
  }

  #write(line: string, final = false): void {
    const text = this.#tty ? `\r\x1b[2K${line}${final ? "\n" : ""}` : `${line}\n`;
    Deno.stderr.writeSync(new TextEncoder().encode(text));
  }
}

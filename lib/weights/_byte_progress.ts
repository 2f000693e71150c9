/**
 * A download progress line (bytes, MB/s, ETA) on top of the training `Progress` reporter, which
 * gives the throttling and the in-place redraw on a terminal.
 *
 * @module
 */
import { formatDuration, Progress } from "../train/_progress.ts";

/**
 * Formats a byte count in decimal units, as the Hugging Face Hub lists files.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./_byte_progress.ts";
 * formatBytes(665); // "665 B"
 * formatBytes(548_105_171); // "548.1 MB"
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/**
 * Reports a transfer on stderr: `name 12.0/548.1 MB 2% | 35.1 MB/s | ETA 15s`.
 *
 * @example
 * ```ts
 * import { ByteProgress } from "./_byte_progress.ts";
 * const p = new ByteProgress("model.safetensors", 548_105_171, { quiet: true });
 * p.update(12_000_000);
 * p.done();
 * ```
 */
export class ByteProgress extends Progress {
  readonly #t0 = performance.now();
  readonly #from: number;
  readonly #size: number | null;

  /** `total` null when unknown; `start` the bytes already there (a resumed download). */
  constructor(
    label: string,
    total: number | null,
    options: { quiet?: boolean; start?: number; intervalMs?: number } = {},
  ) {
    super(label, total ?? 0, options);
    this.#size = total;
    this.#from = options.start ?? 0;
  }

  /** The progress line after `done` bytes. */
  override line(done: number): string {
    const elapsed = (performance.now() - this.#t0) / 1000;
    const rate = (done - this.#from) / Math.max(elapsed, 1e-9);
    const size = this.#size;
    const head = size === null
      ? `${this.label} ${formatBytes(done)}`
      : `${this.label} ${formatBytes(done)}/${formatBytes(size)} ${
        size > 0 ? Math.floor((100 * done) / size) : 100
      }%`;
    const parts = [head, `${(rate / 1e6).toFixed(1)} MB/s`];
    if (size !== null) {
      parts.push(
        done >= size ? `${formatDuration(elapsed)}` : `ETA ${formatDuration((size - done) / rate)}`,
      );
    }
    return parts.join(" | ");
  }
}

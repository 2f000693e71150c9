/**
 * The one streaming pass over corpus rows behind every corpus-wide computation (the dashboards'
 * feature statistics, scores, columns and mean input-times-gradient; transcoder evaluation): token rows
 * `[n, p]` in batches of `batchSize` rows, each handed to `visit` with its first and last row,
 * with a progress line in tokens (tokens/s, ETA) that `visit` may add fields to.
 *
 * @module
 */
import { sliceRows, type Tensor } from "../tensor/tensor.ts";
import { Progress } from "./_progress.ts";

/** Options of `streamRows`. */
export interface RowStreamOptions {
  /** Rows per batch. */
  batchSize: number;
  /** The progress line's label. */
  label: string;
  /** No progress line. */
  quiet: boolean;
}

/** One batch: its rows `[end - start, p]` and their range in the corpus rows. */
export interface RowBatch {
  rows: Tensor<"int32">;
  start: number;
  end: number;
}

/**
 * Visits `rows` batch by batch, in order; `visit` may return fields for the progress line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { streamRows } from "./_row_stream.ts";
 * const rows = { dtype: "int32" as const, shape: [5, 2], data: Int32Array.from({ length: 10 }, (_, i) => i) };
 * const seen: number[][] = [];
 * await streamRows(rows, { batchSize: 2, label: "demo", quiet: true }, ({ rows: b, start, end }) => {
 *   seen.push([start, end, b.shape[0]]);
 * });
 * assert.deepEqual(seen, [[0, 2, 2], [2, 4, 2], [4, 5, 1]]);
 * ```
 */
export async function streamRows(
  rows: Tensor<"int32">,
  { batchSize, label, quiet }: RowStreamOptions,
  visit: (batch: RowBatch) => Promise<Record<string, string | number> | void> | void,
): Promise<void> {
  const [n, p] = rows.shape;
  const progress = new Progress(label, n * p, { unit: "tok", quiet });
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const fields = await visit({ rows: sliceRows(rows, start, end), start, end });
    progress.update(end * p, fields ?? {});
  }
  progress.done();
}

/**
 * Influence on the logits through an attribution graph, as circuit-tracer's `graph.py` computes
 * it (reference `attribution_graphs.md`, sections 1.2 step 10 and 2, P2-P4 and P9):
 *
 * - `normalizeRows`: `|A|` with every row divided by its sum (clamped): a target's incoming
 *   weights sum to 1, zero rows stay zero (`normalize_matrix`).
 * - `nodeInfluence`: `I = sum_{k>=1} w Â^k`, iterated until the vector is exactly zero (the graph
 *   is a DAG, so `Â` is nilpotent) (`compute_influence`).
 * - `findThreshold`: the score at which the cumulative share of the sorted scores first reaches
 *   `tau` (`find_threshold`), in O(n) expected time by a radix selection on the floats' bit
 *   patterns instead of a full sort.
 * - `partialInfluences`: the influence estimate from the rows computed so far, which orders the
 *   feature rows during attribution (`compute_partial_influences`).
 * - `cumulativeScores`: each node's cumulative share of the total influence in descending order,
 *   the JSON export's `influence` field.
 *
 * Vectors are accumulated in float64; matrices stay float32 (`[R, C]` row-major, rows are targets
 * and columns sources). The internal kernels (`propagate`, `thresholdOfSource`) also work on
 * the raw adjacency with per-row scales and on column subsets, so that pruning never copies the
 * `[N, N]` matrix.
 *
 * @module
 */

/**
 * Rows whose sum is below this are divided by it instead (circuit-tracer's clamp, 1e-10).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeRows, ROW_SUM_CLAMP } from "./influence.ts";
 * assert.equal(ROW_SUM_CLAMP, 1e-10);
 * const tiny = normalizeRows(Float32Array.of(1e-12), 1); // 1e-12 / 1e-10, not 1
 * assert.ok(Math.abs(tiny[0] - 0.01) < 1e-9);
 * ```
 */
export const ROW_SUM_CLAMP = 1e-10;

/**
 * The clamp of the row sums of `partialInfluences` (circuit-tracer's 1e-8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PARTIAL_ROW_SUM_CLAMP } from "./influence.ts";
 * assert.equal(PARTIAL_ROW_SUM_CLAMP, 1e-8);
 * ```
 */
export const PARTIAL_ROW_SUM_CLAMP = 1e-8;

/**
 * `|A|` with each row divided by its sum, the sum clamped below at `minSum` (default 1e-10):
 * circuit-tracer's `normalize_matrix`. Zero rows stay zero.
 *
 * @param matrix `[R, nCols]` row-major.
 * @returns `[R, nCols]` float32, rows summing to 1 (or 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeRows } from "./influence.ts";
 * const a = Float32Array.from([3, -1, 0, 0]); // [2, 2]: row 0 = (3, -1), row 1 = 0
 * const n = normalizeRows(a, 2); // Float32Array [0.75, 0.25, 0, 0]
 * assert.deepEqual(Array.from(n), [0.75, 0.25, 0, 0]);
 * ```
 */
export function normalizeRows(
  matrix: Float32Array,
  nCols: number,
  { minSum = ROW_SUM_CLAMP }: { minSum?: number } = {},
): Float32Array {
  const R = rowCount(matrix.length, nCols, "normalizeRows");
  const out = new Float32Array(matrix.length);
  for (let i = 0; i < R; i++) {
    const off = i * nCols;
    let s = 0;
    for (let j = 0; j < nCols; j++) s += Math.abs(matrix[off + j]);
    const d = Math.max(s, minSum);
    for (let j = 0; j < nCols; j++) out[off + j] = Math.abs(matrix[off + j]) / d;
  }
  return out;
}

/** Options of `nodeInfluence`. */
export interface NodeInfluenceOptions {
  /** Give up (the graph has a cycle) after this many products (default 1000). */
  maxIter?: number;
}

/**
 * Node influence `I = sum_{k>=1} w Â^k` (circuit-tracer's `compute_influence`): `v <- v Â`,
 * summed, until `v` is exactly zero. `I_j` is how much node j feeds the weighted targets (`w`:
 * the logit probabilities on the logit nodes) through all paths. Throws when `v` has not vanished
 * after `maxIter` (1000) products: the graph is not a DAG.
 *
 * @param adjacencyNormalized `[n, n]` row-normalised (`normalizeRows`), rows targets.
 * @param w `[n]` the weights of the targets.
 * @returns `[n]` float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeInfluence, normalizeRows } from "./influence.ts";
 * // logit <- a (2), logit <- b (2), a <- b (1): nodes [a, b, logit]
 * const A = Float32Array.from([0, 1, 0, 0, 0, 0, 2, 2, 0]);
 * const I = nodeInfluence(normalizeRows(A, 3), 3, [0, 0, 1]); // [0.5, 1, 0]
 * assert.deepEqual(Array.from(I), [0.5, 1, 0]); // b: 0.5 directly + 0.5 through a
 * const cycle = normalizeRows(Float32Array.from([0, 1, 1, 0]), 2);
 * assert.throws(() => nodeInfluence(cycle, 2, [1, 0]), /not a DAG/);
 * ```
 */
export function nodeInfluence(
  adjacencyNormalized: Float32Array,
  n: number,
  w: ArrayLike<number>,
  { maxIter = 1000 }: NodeInfluenceOptions = {},
): Float64Array {
  if (adjacencyNormalized.length !== n * n) {
    throw new RangeError(
      `nodeInfluence: matrix has ${adjacencyNormalized.length} entries, expected ${n}x${n}`,
    );
  }
  if (w.length !== n) throw new RangeError(`nodeInfluence: w has ${w.length} entries, not ${n}`);
  return propagate(adjacencyNormalized, n, w, { maxIter });
}

/** Options of `propagate`. */
export interface PropagateOptions {
  /** Multiply row i by this (`[rows]`; 0 skips it); absent: 1. */
  rowScale?: Float64Array;
  /** Read `|A|` instead of `A` (for the raw adjacency). */
  abs?: boolean;
  /**
   * Work on these node indices only (ascending), rows and columns: `A` restricted to them. The
   * vectors (`w` and the result) are then indexed by position in this list.
   */
  subset?: Int32Array;
  /** See `NodeInfluenceOptions.maxIter` (default 1000). */
  maxIter?: number;
}

/**
 * `sum_{k>=1} w M^k` with `M[i, j] = rowScale[i] * |A[i, j]|` (or `A[i, j]`), optionally on a
 * subset of the nodes; rows whose weight is zero are skipped. The kernel of `nodeInfluence` and
 * of pruning (which never materialises the normalised matrix). Throws as `nodeInfluence`.
 *
 * @param A `[n, n]` row-major.
 * @param w `[n]`, or `[subset.length]` with a subset.
 * @returns `[n]` (or `[subset.length]`) float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { propagate } from "./influence.ts";
 * // Raw weights with the row scales 1 / row sum: the same as nodeInfluence(normalizeRows(A)).
 * const A = Float32Array.from([0, -1, 0, 0, 0, 0, 2, -2, 0]); // [a, b, logit]
 * const I = propagate(A, 3, [0, 0, 1], { rowScale: Float64Array.of(1, 0, 0.25), abs: true });
 * assert.deepEqual(Array.from(I), [0.5, 1, 0]);
 * // On the nodes [b, logit] only (a removed): b feeds the logit directly.
 * const sub = propagate(A, 3, [0, 1], { rowScale: Float64Array.of(1, 0, 0.5), abs: true, subset: Int32Array.of(1, 2) });
 * assert.deepEqual(Array.from(sub), [1, 0]);
 * ```
 */
export function propagate(
  A: Float32Array,
  n: number,
  w: ArrayLike<number>,
  { rowScale, abs = false, subset, maxIter = 1000 }: PropagateOptions = {},
): Float64Array {
  const m = subset ? subset.length : n;
  if (w.length !== m) throw new RangeError(`propagate: w has ${w.length} entries, not ${m}`);
  if (A.length !== n * n) throw new RangeError(`propagate: ${A.length} entries are not ${n}x${n}`);
  if (rowScale && rowScale.length < n) {
    throw new RangeError(`propagate: rowScale has ${rowScale.length} entries, not ${n}`);
  }
  if (subset) {
    for (let a = 0; a < m; a++) {
      if (!(subset[a] >= 0 && subset[a] < n) || (a > 0 && subset[a] <= subset[a - 1])) {
        throw new RangeError(`propagate: the subset must be ascending node indices below ${n}`);
      }
    }
  }
  let v = Float64Array.from(w);
  let next = new Float64Array(m);
  const acc = new Float64Array(m);
  const rows = new Int32Array(m), weights = new Float64Array(m);
  for (let it = 0;; it++) {
    if (it >= maxIter) {
      throw new Error(
        `influence: the graph is not a DAG (the influence did not vanish after ${maxIter} iterations)`,
      );
    }
    next.fill(0);
    // The rows with a nonzero weight, then next += weight * row.
    let r = 0;
    for (let a = 0; a < m; a++) {
      const i = subset ? subset[a] : a;
      const s = rowScale ? v[a] * rowScale[i] : v[a];
      if (s === 0) continue;
      rows[r] = i;
      weights[r++] = s;
    }
    if (subset) accumulateGather(A, rows, weights, r, n, subset, next, abs);
    else accumulate(A, rows, weights, r, n, next, abs);
    let any = false;
    for (let b = 0; b < m; b++) {
      const x = next[b];
      if (x !== 0) {
        if (x !== x) throw new RangeError("influence: the matrix or the weights hold NaN");
        any = true;
        acc[b] += x;
      }
    }
    if (!any) return acc;
    [v, next] = [next, v];
  }
}

/** `next[j] += sum_q weights[q] * (|A|)[rows[q] * n + j]` over `j < n`. */
function accumulate(
  A: Float32Array,
  rows: Int32Array,
  weights: Float64Array,
  count: number,
  n: number,
  next: Float64Array,
  abs: boolean,
): void {
  if (abs) { for (let q = 0; q < count; q++) addAbsRow(A, rows[q] * n, weights[q], n, next); }
  else for (let q = 0; q < count; q++) addRow(A, rows[q] * n, weights[q], n, next);
}

function addAbsRow(A: Float32Array, o: number, s: number, n: number, next: Float64Array): void {
  for (let j = 0; j < n; j++) next[j] += s * Math.abs(A[o + j]);
}

function addRow(A: Float32Array, o: number, s: number, n: number, next: Float64Array): void {
  for (let j = 0; j < n; j++) next[j] += s * A[o + j];
}

/** As `accumulate`, on the columns `cols` only (`next` indexed by position in `cols`). */
function accumulateGather(
  A: Float32Array,
  rows: Int32Array,
  weights: Float64Array,
  count: number,
  n: number,
  cols: Int32Array,
  next: Float64Array,
  abs: boolean,
): void {
  const m = cols.length;
  for (let q = 0; q < count; q++) {
    const o = rows[q] * n, s = weights[q];
    if (abs) { for (let b = 0; b < m; b++) next[b] += s * Math.abs(A[o + cols[b]]); }
    else for (let b = 0; b < m; b++) next[b] += s * A[o + cols[b]];
  }
}

// ---- thresholds -------------------------------------------------------------------------------

/** A chunk of scores: non-negative finite floats. */
export type ScoreChunk = Float32Array | Float64Array;

/**
 * A collection of scores visited chunk by chunk: calls `visit` on chunks (all float32 or all
 * float64) and `zeros(count)` for runs of zeros, the same scores on every call (it is called
 * once per pass). Chunks may be reused buffers.
 */
export type ScoreSource = (
  visit: (chunk: ScoreChunk) => void,
  zeros: (count: number) => void,
) => void;

const DIGITS = 1 << 16;
/** Crossing buckets at most this big are sorted instead of refined. */
const COLLECT_LIMIT = 1 << 15;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Inputs this small are sorted directly (`findThreshold`). */
const SORT_LIMIT = 2048;
/** The histogram buffers (one histogram is alive at a time; nothing here awaits). */
const SCRATCH_COUNT = new Float64Array(DIGITS), SCRATCH_SUM = new Float64Array(DIGITS);

function u32View(c: ScoreChunk): Uint32Array {
  return new Uint32Array(c.buffer, c.byteOffset, c.length * (c instanceof Float32Array ? 1 : 2));
}

function badScore(c: ScoreChunk, i: number): never {
  throw new RangeError(
    `findThreshold: scores must be finite and non-negative, got ${c[i]} at index ${i} of a chunk`,
  );
}

/** Digit `level` of a key (hi, lo): 16 bits, then 15, 16, 16. */
function digitOf(hi: number, lo: number, level: number): number {
  return level === 0
    ? hi >>> 15
    : level === 1
    ? hi & 0x7fff
    : level === 2
    ? lo >>> 16
    : lo & 0xffff;
}

/** The (hi, lo) masks of the bits fixed by digits 0 .. level-1. */
function masksOf(level: number): [number, number] {
  return [
    level >= 2 ? -1 : level === 1 ? 0xffff8000 | 0 : 0,
    level >= 4 ? -1 : level === 3 ? 0xffff0000 | 0 : 0,
  ];
}

interface Prefix {
  level: number;
  hi: number;
  lo: number;
}

/** Histogram (counts, sums) of digit `level` among the scores matching `prefix`. */
function histogram(
  source: ScoreSource,
  prefix: Prefix,
  isF32: { value: boolean | undefined },
): { count: Float64Array; sum: Float64Array } {
  const count = SCRATCH_COUNT.fill(0), sum = SCRATCH_SUM.fill(0);
  const level = prefix.level;
  const [hiMask, loMask] = masksOf(level);
  const check = (c: ScoreChunk) => {
    const f = c instanceof Float32Array;
    if (isF32.value === undefined) isF32.value = f;
    else if (isF32.value !== f) {
      throw new TypeError("findThreshold: mixed float32 and float64 chunks");
    }
    if (!f && !LITTLE_ENDIAN) {
      throw new Error("findThreshold: float64 scores need a little-endian host");
    }
  };
  source((c) => {
    check(c);
    const u = u32View(c), n = c.length;
    if (level === 0) {
      if (c instanceof Float32Array) {
        for (let i = 0; i < n; i++) {
          let b = u[i] >>> 15;
          if (b >= 0xff00) {
            if (u[i] === 0x80000000) b = 0; // -0
            else badScore(c, i);
          }
          count[b]++;
          sum[b] += c[i];
        }
      } else {
        for (let i = 0; i < n; i++) {
          const hi = u[2 * i + 1];
          let b = hi >>> 15;
          if (b >= 0xffe0) {
            if (hi === 0x80000000 && u[2 * i] === 0) b = 0; // -0
            else badScore(c, i);
          }
          count[b]++;
          sum[b] += c[i];
        }
      }
      return;
    }
    const f = c instanceof Float32Array;
    for (let i = 0; i < n; i++) {
      let hi = f ? u[i] : u[2 * i + 1];
      const lo = f ? 0 : u[2 * i];
      if (hi === 0x80000000 && lo === 0) hi = 0;
      if ((hi & hiMask) !== prefix.hi || (lo & loMask) !== prefix.lo) continue;
      const d = digitOf(hi, lo, level);
      count[d]++;
      sum[d] += c[i];
    }
  }, (z) => {
    if (level === 0 || (prefix.hi === 0 && prefix.lo === 0)) count[0] += z;
  });
  return { count, sum };
}

/** The scores matching `prefix` (all digits before `prefix.level`), as float64. */
function collect(source: ScoreSource, prefix: Prefix, size: number): Float64Array {
  const out = new Float64Array(size);
  const [hiMask, loMask] = masksOf(prefix.level);
  let k = 0;
  source((c) => {
    const u = u32View(c), f = c instanceof Float32Array;
    for (let i = 0; i < c.length; i++) {
      let hi = f ? u[i] : u[2 * i + 1];
      const lo = f ? 0 : u[2 * i];
      if (hi === 0x80000000 && lo === 0) hi = 0;
      if ((hi & hiMask) === prefix.hi && (lo & loMask) === prefix.lo) out[k++] = c[i] + 0;
    }
  }, (z) => {
    if (prefix.hi === 0 && prefix.lo === 0) k += z; // zeros are already 0 in `out`
  });
  if (k !== size) throw new Error(`findThreshold: the score source changed between passes`);
  return out;
}

/**
 * `findThreshold` over a score source (scores produced chunk by chunk, e.g. recomputed rows of
 * an `[N, N]` matrix that is never stored): the radix selection on the bit patterns, two or
 * three passes over the source for float32 scores (up to five for float64).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { thresholdOfSource } from "./influence.ts";
 * // The scores [3, 1, 1, 0, 0, 0] as a chunk and a run of zeros.
 * const cut = thresholdOfSource((visit, zeros) => {
 *   visit(Float32Array.of(3, 1, 1));
 *   zeros(3);
 * }, 0.7); // shares .6 .8 1 1 1 1
 * assert.equal(cut, 1);
 * ```
 */
export function thresholdOfSource(source: ScoreSource, tau: number): number {
  const isF32 = { value: undefined as boolean | undefined };
  const prefix: Prefix = { level: 0, hi: 0, lo: 0 };
  let before = 0, total = 0, clip = false, n = -1;
  for (;;) {
    const { count, sum } = histogram(source, prefix, isF32);
    const levels = isF32.value === false ? 4 : 2;
    if (prefix.level === 0) {
      n = 0;
      for (let d = DIGITS - 1; d >= 0; d--) {
        total += sum[d];
        n += count[d];
      }
      if (n === 0) throw new RangeError("findThreshold: no scores");
    }
    // The digit whose bucket holds the first cumulative share >= tau (or, clipped, the lowest).
    let pick = -1, cum = before;
    if (!clip) {
      for (let d = DIGITS - 1; d >= 0; d--) {
        if (count[d] === 0) continue;
        const next = cum + sum[d];
        if (next / total >= tau) {
          pick = d;
          break;
        }
        cum = next;
      }
    }
    if (pick < 0) {
      clip = true; // no index reaches tau: the last (smallest) score
      for (let d = 0; d < DIGITS; d++) {
        if (count[d] > 0) {
          pick = d;
          break;
        }
      }
    }
    before = cum;
    const size = count[pick];
    const level = prefix.level;
    if (level === 0) prefix.hi = pick << 15;
    else if (level === 1) prefix.hi |= pick;
    else if (level === 2) prefix.lo = pick << 16;
    else prefix.lo |= pick;
    prefix.hi |= 0;
    prefix.lo |= 0;
    prefix.level = level + 1;
    if (prefix.level === levels) return keyValue(prefix, isF32.value !== false);
    if (size <= COLLECT_LIMIT) {
      const vals = collect(source, prefix, size).sort(); // ascending
      if (clip) return vals[0];
      let c = before;
      for (let k = vals.length - 1; k >= 0; k--) {
        c += vals[k];
        if (c / total >= tau) return vals[k];
      }
      return vals[0]; // rounding of the bucket sums; cannot happen with exact sums
    }
  }
}

function keyValue(prefix: Prefix, f32: boolean): number {
  if (f32) return new Float32Array(Uint32Array.of(prefix.hi >>> 0).buffer)[0];
  return new Float64Array(Uint32Array.of(prefix.lo >>> 0, prefix.hi >>> 0).buffer)[0];
}

/**
 * circuit-tracer's `find_threshold` (P4): sort the scores descending, take the cumulative sums
 * divided by the total, find the first index where that share is `>= tau` (left search),
 * clipped to the last index, and return the sorted score there. Keeping every score `>=` the
 * result keeps the smallest set of top scores whose share reaches `tau`, ties included.
 *
 * Runs in O(n) time and O(1) extra memory in n (two or three passes over the scores: histograms
 * of the float's bit pattern, which orders non-negative floats, find the bucket where the share
 * crosses `tau`; it is refined or, when small, sorted; inputs of at most 2048 scores are simply
 * sorted). The result equals the sort-based
 * definition whenever the float64 sums are exact (it groups the additions differently, so the
 * two can differ only when a share lies within rounding of `tau`). Scores must be non-negative
 * and finite. A total of zero (all scores 0) or `tau > 1` gives the smallest score.
 *
 * @param scores `[n]` non-negative scores.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findThreshold } from "./influence.ts";
 * // Sorted .75 .75 .375 .25 0: shares .353 .706 .882 1 1; the first >= .8 is at .375.
 * assert.equal(findThreshold(Float64Array.from([0.375, 0.75, 0.25, 0.75, 0]), 0.8), 0.375);
 * assert.equal(findThreshold(Float32Array.from([1, 1, 1, 1, 1]), 0.8), 1); // ties: all kept
 * assert.equal(findThreshold(Float32Array.from([3, 2, 0]), 2), 0); // never reached: the last
 * ```
 */
export function findThreshold(scores: ScoreChunk | readonly number[], tau: number): number {
  if (typeof tau !== "number" || Number.isNaN(tau)) {
    throw new RangeError(`findThreshold: tau must be a number, got ${tau}`);
  }
  const chunk = Array.isArray(scores) ? Float64Array.from(scores) : scores as ScoreChunk;
  if (chunk.length === 0) throw new RangeError("findThreshold: no scores");
  if (chunk.length > SORT_LIMIT) return thresholdOfSource((visit) => visit(chunk), tau);
  const sorted = Float64Array.from(chunk, (x, i) => {
    if (!(x >= 0 && x < Infinity)) badScore(chunk, i);
    return x + 0;
  }).sort();
  let total = 0;
  for (let k = sorted.length - 1; k >= 0; k--) total += sorted[k];
  let cum = 0;
  for (let k = sorted.length - 1; k >= 0; k--) {
    cum += sorted[k];
    if (cum / total >= tau) return sorted[k];
  }
  return sorted[0];
}

// ---- partial influences -----------------------------------------------------------------------

/** Options of `partialInfluences`. */
export interface PartialInfluenceOptions {
  /** Stop after this many products even if the vector has not vanished (default 128). */
  maxIter?: number;
  /**
   * The layer of each row's node `[R]`, when every source of a row lies in a strictly lower
   * layer (as in an attribution graph: features read the layers below them, logits all of
   * them). The series is then summed in one pass over the rows, from the top layer down,
   * instead of one pass per power: the same sums, added in another order.
   */
  rowLayers?: Int32Array;
  /** `sum_c |rows[r, c]|` of each row `[R]`, when the caller keeps them (rows computed once). */
  rowAbsSums?: Float64Array;
  /**
   * With `rowLayers`: per layer, the column ranges `[start0, end0, start1, end1, ...]` outside
   * which the rows of that layer are zero (in an attribution graph, the columns of the layers
   * below), so that the pass reads only those.
   */
  layerColumnSpans?: readonly Int32Array[];
}

/**
 * The influence estimate from the rows computed so far (circuit-tracer's
 * `compute_partial_influences`, reference 1.2 step 10): `|rows|` normalised per row (sums
 * clamped at 1e-8); `prod` starts as the logit probabilities on the last K columns; then
 * `prod <- prod[rowToCol] @ normalized`, summed, until `prod` is all zero or after `maxIter`
 * (128) products. Rows whose weight is zero are skipped.
 *
 * @param rows `[R, nCols]` row-major: the rows computed so far.
 * @param rowToCol `[R]` the column of each row's node.
 * @param logitProbs `[K]` the logit probabilities; the last K columns are the logit nodes.
 * @returns `[nCols]` float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partialInfluences } from "./influence.ts";
 * // Columns [f0, f1, tok, logit]; rows so far: the logit (<- f0 3, f1 1) and f0 (<- tok 2).
 * const rows = Float32Array.from([3, 1, 0, 0, 0, 0, 2, 0]);
 * const infl = partialInfluences(rows, 4, Int32Array.from([3, 0]), [1]);
 * assert.deepEqual(Array.from(infl), [0.75, 0.25, 0.75, 0]); // f1's row is not known yet
 * ```
 */
export function partialInfluences(
  rows: Float32Array,
  nCols: number,
  rowToCol: Int32Array,
  logitProbs: ArrayLike<number>,
  { maxIter = 128, rowLayers, rowAbsSums, layerColumnSpans }: PartialInfluenceOptions = {},
): Float64Array {
  const R = rowCount(rows.length, nCols, "partialInfluences");
  if (rowLayers && rowLayers.length !== R) {
    throw new RangeError(`partialInfluences: ${rowLayers.length} row layers for ${R} rows`);
  }
  if (rowToCol.length !== R) {
    throw new RangeError(`partialInfluences: ${rowToCol.length} row columns for ${R} rows`);
  }
  const K = logitProbs.length;
  if (K > nCols) throw new RangeError(`partialInfluences: ${K} logits for ${nCols} columns`);
  for (let r = 0; r < R; r++) {
    if (!(rowToCol[r] >= 0 && rowToCol[r] < nCols)) {
      throw new RangeError(`partialInfluences: row ${r} maps to column ${rowToCol[r]}`);
    }
  }
  if (rowAbsSums && rowAbsSums.length < R) {
    throw new RangeError(`partialInfluences: ${rowAbsSums.length} row sums for ${R} rows`);
  }
  const scale = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let s = 0;
    if (rowAbsSums) s = rowAbsSums[r];
    else {
      const off = r * nCols;
      for (let c = 0; c < nCols; c++) s += Math.abs(rows[off + c]);
    }
    scale[r] = 1 / Math.max(s, PARTIAL_ROW_SUM_CLAMP);
  }
  let prod = new Float64Array(nCols), next = new Float64Array(nCols);
  for (let k = 0; k < K; k++) prod[nCols - K + k] = logitProbs[k];
  const influence = new Float64Array(nCols);
  if (rowLayers) {
    // Top layer first: when a row is reached, everything that reads its node is done, so its
    // node's mass (its logit weight plus its influence) is final.
    const order = Int32Array.from({ length: R }, (_, r) => r).sort((a, b) =>
      rowLayers[b] - rowLayers[a] || a - b
    );
    const all = Int32Array.of(0, nCols);
    for (const r of order) {
      const col = rowToCol[r], u = prod[col] + influence[col];
      if (u === 0) continue;
      const s = u * scale[r], off = r * nCols;
      const spans = layerColumnSpans?.[rowLayers[r]] ?? all;
      for (let i = 0; i < spans.length; i += 2) {
        for (let c = spans[i], end = spans[i + 1]; c < end; c++) {
          influence[c] += s * Math.abs(rows[off + c]);
        }
      }
    }
    return influence;
  }
  for (let it = 0; it < maxIter; it++) {
    next.fill(0);
    for (let r = 0; r < R; r++) {
      const u = prod[rowToCol[r]];
      if (u === 0) continue;
      const s = u * scale[r], off = r * nCols;
      for (let c = 0; c < nCols; c++) next[c] += s * Math.abs(rows[off + c]);
    }
    let any = false;
    for (let c = 0; c < nCols; c++) {
      if (next[c] !== 0) {
        any = true;
        influence[c] += next[c];
      }
    }
    if (!any) break;
    [prod, next] = [next, prod];
  }
  return influence;
}

// ---- cumulative scores ------------------------------------------------------------------------

/**
 * circuit-tracer's `cumulative_scores` (P9): nodes ranked by influence, descending (ties: lower
 * index first); each node's score is the cumulative share of the total influence up to and
 * including itself. Small means important: the viewer's slider keeps nodes with a score below
 * its setting. With a total of zero every score is 1.
 *
 * @param influence `[N]` non-negative.
 * @returns `[N]` in (0, 1].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cumulativeScores } from "./influence.ts";
 * const s = cumulativeScores([0.375, 0.75, 0.25, 0.75, 0]); // total 2.125
 * assert.deepEqual(Array.from(s, (x) => +x.toFixed(3)), [0.882, 0.353, 1, 0.706, 1]);
 * ```
 */
export function cumulativeScores(influence: ArrayLike<number>): Float64Array {
  const n = influence.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => influence[b] - influence[a] || a - b);
  let total = 0;
  for (const i of order) total += influence[i];
  const out = new Float64Array(n);
  let cum = 0;
  for (const i of order) {
    cum += influence[i];
    out[i] = total > 0 ? cum / total : 1;
  }
  return out;
}

function rowCount(length: number, nCols: number, what: string): number {
  if (!Number.isInteger(nCols) || nCols < 1 || length % nCols !== 0) {
    throw new RangeError(`${what}: ${length} entries are not rows of ${nCols} columns`);
  }
  return length / nCols;
}

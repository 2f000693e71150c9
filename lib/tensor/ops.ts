/**
 * The few host-side operations that analysis code needs: top-k, sorting, norms and comparisons.
 * Heavy numerics run in the graph runtime, never here.
 *
 * @module
 */
import { shapeStr, type Tensor, type TypedArray } from "./tensor.ts";

/** One ranked entry: its position in the input and its value. */
export interface Ranked {
  index: number;
  value: number;
}

/**
 * The k largest (or smallest) entries of a flat array, best first.
 *
 * @example
 * ```ts
 * import { topk } from "./ops.ts";
 * topk(new Float32Array([3, 9, 1, 7]), 2); // [{ index: 1, value: 9 }, { index: 3, value: 7 }]
 * ```
 */
export function topk(
  values: ArrayLike<number>,
  k: number,
  { largest = true }: { largest?: boolean } = {},
): Ranked[] {
  const n = values.length;
  k = Math.max(0, Math.min(k, n));
  const sign = largest ? 1 : -1;
  // A small binary heap of the current best k (worst at the root).
  const heap: Ranked[] = [];
  const worse = (a: Ranked, b: Ranked) =>
    sign * a.value < sign * b.value || (a.value === b.value && a.index > b.index);
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l], heap[m])) m = l;
      if (r < heap.length && worse(heap[r], heap[m])) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    const e = { index: i, value: v };
    if (heap.length < k) {
      heap.push(e);
      up(heap.length - 1);
    } else if (k > 0 && worse(heap[0], e)) {
      heap[0] = e;
      down(0);
    }
  }
  return heap.sort((a, b) => sign * (b.value - a.value) || a.index - b.index);
}

/**
 * The position of the largest value (the first on ties; NaN is skipped); -1 for no values.
 *
 * @example
 * ```ts
 * import { argmax } from "./ops.ts";
 * argmax([0.1, 3, -2, 3]); // 1
 * ```
 */
export function argmax(values: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isNaN(values[i]) && (best < 0 || values[i] > values[best])) best = i;
  }
  return best;
}

/**
 * Indices that sort a flat array ascending (or descending).
 *
 * @example
 * ```ts
 * import { argsort } from "./ops.ts";
 * argsort([3, 1, 2]); // Int32Array [1, 2, 0]
 * ```
 */
export function argsort(values: ArrayLike<number>, { descending = false } = {}): Int32Array {
  const idx = new Int32Array(values.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  const s = descending ? -1 : 1;
  idx.sort((a, b) => s * (values[a] - values[b]) || a - b);
  return idx;
}

/**
 * Largest absolute value of an array (0 for an empty one; NaN if any entry is NaN).
 *
 * @example
 * ```ts
 * import { maxAbs } from "./ops.ts";
 * maxAbs([1, -5, 2]); // 5
 * ```
 */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (!(a <= m)) m = a;
  }
  return m;
}

/**
 * Relative error of `actual` against `expected`: `max|a - e| / max|e|` over the finite entries
 * (infinite entries must match exactly, else the result is Infinity). This is the measure the
 * tests mean by "agree to 1e-5 relative".
 *
 * @example
 * ```ts
 * import { relativeError } from "./ops.ts";
 * relativeError([1, 2.0001], [1, 2]); // about 5e-5
 * ```
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new RangeError(`length ${actual.length} vs ${expected.length}`);
  }
  let num = 0, den = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) return Infinity;
      continue;
    }
    num = Math.max(num, Math.abs(a - e));
    den = Math.max(den, Math.abs(e));
  }
  return den === 0 ? num : num / den;
}

/**
 * Throws unless a tensor has exactly the expected shape; `what` names it in the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertShape } from "./ops.ts";
 * import { zeros } from "./tensor.ts";
 * assertShape(zeros([2, 3]), [2, 3], "x"); // passes
 * assert.throws(
 *   () => assertShape(zeros([2, 3]), [3, 2], "x"),
 *   { name: "RangeError", message: "x has shape [2, 3], expected [3, 2]" },
 * );
 * ```
 */
export function assertShape(t: Tensor, shape: readonly number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${what} has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)}`);
  }
}

/**
 * Sum of an array in float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sum } from "./ops.ts";
 * sum(new Float32Array([1, 2, 3.5])); // 6.5
 * assert.equal(sum(new Float32Array([1, 2, 3.5])), 6.5);
 * ```
 */
export function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

/**
 * Mean of an array in float64 (NaN for an empty array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mean } from "./ops.ts";
 * mean([1, 2, 3, 4]); // 2.5
 * assert.equal(mean([1, 2, 3, 4]), 2.5);
 * assert.ok(Number.isNaN(mean([])));
 * ```
 */
export function mean(values: ArrayLike<number>): number {
  return values.length === 0 ? NaN : sum(values) / values.length;
}

/**
 * Dot product in float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dot } from "./ops.ts";
 * dot([1, 2, 3], [4, 5, 6]); // 32
 * assert.equal(dot([1, 2, 3], [4, 5, 6]), 32);
 * ```
 */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`dot of lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Converts any numeric typed array to plain numbers (int64 via Number). Arrays that already
 * hold numbers are returned as they are, not copied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toNumbers } from "./ops.ts";
 * toNumbers(new BigInt64Array([1n, 2n])); // [1, 2]
 * assert.deepEqual(toNumbers(new BigInt64Array([1n, 2n])), [1, 2]);
 * const f = new Float32Array([0.5]);
 * assert.equal(toNumbers(f), f); // no copy
 * ```
 */
export function toNumbers(data: TypedArray): ArrayLike<number> {
  return data instanceof BigInt64Array ? Array.from(data, Number) : data;
}

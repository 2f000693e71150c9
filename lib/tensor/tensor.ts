/**
 * The host tensor: a typed array, a shape and a dtype. Every value that crosses between the
 * graph runtime and TypeScript code (weights, hook values, gradients, statistics) has this form.
 *
 * @module
 */

/** Element types a host tensor can hold. */
export type DType = "float32" | "float64" | "int32" | "int64" | "bool";

/** The typed array that backs each dtype. */
export interface DataOf {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

/** A dense, row-major tensor held in host memory. */
export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DataOf[D];
}

/** Any of the typed arrays a tensor may hold. */
export type TypedArray = DataOf[DType];

/**
 * Number of elements of a shape (1 for a scalar `[]`).
 *
 * @example
 * ```ts
 * import { sizeOf } from "./tensor.ts";
 * sizeOf([2, 3, 4]); // 24
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Formats a shape as `[2, 3]` for error messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapeStr } from "./tensor.ts";
 * shapeStr([2, 3]); // "[2, 3]"
 * assert.equal(shapeStr([2, 3]), "[2, 3]");
 * assert.equal(shapeStr([]), "[]"); // a scalar
 * ```
 */
export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Uint8Array) return "bool";
  throw new TypeError("unsupported typed array");
}

/**
 * Wraps a typed array as a tensor of the given shape, checking that the sizes agree.
 * The data is not copied.
 *
 * @example
 * ```ts
 * import { tensor } from "./tensor.ts";
 * const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * t.shape; // [2, 3]
 * ```
 */
export function tensor<A extends TypedArray>(
  data: A,
  shape: readonly number[],
): Tensor<DtypeOfArray<A>> {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`invalid shape ${shapeStr(shape)}: dimensions must be integers >= 0`);
    }
  }
  if (sizeOf(shape) !== data.length) {
    throw new RangeError(
      `shape ${shapeStr(shape)} needs ${sizeOf(shape)} elements but the data has ${data.length}`,
    );
  }
  return { dtype: dtypeOfArray(data), shape: [...shape], data } as unknown as Tensor<
    DtypeOfArray<A>
  >;
}

/** Maps a typed array type to its dtype name. */
export type DtypeOfArray<A> = A extends Float32Array ? "float32"
  : A extends Float64Array ? "float64"
  : A extends Int32Array ? "int32"
  : A extends BigInt64Array ? "int64"
  : A extends Uint8Array ? "bool"
  : never;

/**
 * Allocates a zero-filled typed array of a dtype.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocate } from "./tensor.ts";
 * allocate("int32", 3); // Int32Array [0, 0, 0]
 * assert.deepEqual(allocate("int32", 3), new Int32Array(3));
 * assert.ok(allocate("int64", 2) instanceof BigInt64Array);
 * ```
 */
export function allocate<D extends DType>(dtype: D, n: number): DataOf[D] {
  switch (dtype) {
    case "float32":
      return new Float32Array(n) as DataOf[D];
    case "float64":
      return new Float64Array(n) as DataOf[D];
    case "int32":
      return new Int32Array(n) as DataOf[D];
    case "int64":
      return new BigInt64Array(n) as DataOf[D];
    case "bool":
      return new Uint8Array(n) as DataOf[D];
  }
  throw new TypeError(`unknown dtype ${dtype}`);
}

/**
 * A zero-filled tensor.
 *
 * @example
 * ```ts
 * import { zeros } from "./tensor.ts";
 * zeros([2, 2]).data; // Float32Array [0, 0, 0, 0]
 * ```
 */
export function zeros<D extends DType = "float32">(
  shape: readonly number[],
  dtype: D = "float32" as D,
): Tensor<D> {
  return { dtype, shape: [...shape], data: allocate(dtype, sizeOf(shape)) };
}

/**
 * A tensor of the given shape filled with one value.
 *
 * @example
 * ```ts
 * import { full } from "./tensor.ts";
 * full([3], 7).data; // Float32Array [7, 7, 7]
 * ```
 */
export function full(shape: readonly number[], value: number): Tensor<"float32"> {
  const t = zeros(shape);
  t.data.fill(value);
  return t;
}

/**
 * Builds a float32 tensor from nested arrays; the shape is read from the nesting.
 *
 * @example
 * ```ts
 * import { fromNested } from "./tensor.ts";
 * fromNested([[1, 2], [3, 4]]).shape; // [2, 2]
 * ```
 */
export function fromNested(nested: unknown): Tensor<"float32"> {
  const shape: number[] = [];
  let level: unknown = nested;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const flat = (nested as unknown[]).flat(Infinity) as number[];
  if (flat.length !== sizeOf(shape)) {
    throw new RangeError(
      `ragged nested array: expected ${sizeOf(shape)} elements for shape ${shapeStr(shape)}`,
    );
  }
  return tensor(Float32Array.from(flat), shape);
}

/**
 * Row-major strides of a shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stridesOf } from "./tensor.ts";
 * stridesOf([2, 3, 4]); // [12, 4, 1]
 * assert.deepEqual(stridesOf([2, 3, 4]), [12, 4, 1]);
 * ```
 */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Flat offset of a multi-index, with negative indices counted from the end (as in Python).
 * Throws a RangeError naming the axis when an index is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offsetOf } from "./tensor.ts";
 * offsetOf([2, 3], [1, -1]); // 5 (row 1, last column)
 * assert.equal(offsetOf([2, 3], [1, -1]), 5);
 * assert.throws(() => offsetOf([2, 3], [0, 3]), RangeError); // axis 1 has size 3
 * ```
 */
export function offsetOf(shape: readonly number[], index: readonly number[]): number {
  if (index.length !== shape.length) {
    throw new RangeError(`index of rank ${index.length} for a tensor of shape ${shapeStr(shape)}`);
  }
  let off = 0;
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    let k = index[i];
    if (k < 0) k += shape[i];
    if (!Number.isInteger(k) || k < 0 || k >= shape[i]) {
      throw new RangeError(
        `index ${index[i]} out of range for axis ${i} of size ${shape[i]} (shape ${
          shapeStr(shape)
        })`,
      );
    }
    off += k * stride;
    stride *= shape[i];
  }
  return off;
}

/**
 * Reads one element as a number (negative indices count from the end).
 *
 * @example
 * ```ts
 * import { at, fromNested } from "./tensor.ts";
 * at(fromNested([[1, 2], [3, 4]]), 1, -1); // 4
 * ```
 */
export function at(t: Tensor, ...index: number[]): number {
  return Number(t.data[offsetOf(t.shape, index)]);
}

/**
 * A view with a new shape over the same data (one dimension may be -1).
 *
 * @example
 * ```ts
 * import { reshape, zeros } from "./tensor.ts";
 * reshape(zeros([2, 3, 4]), [6, -1]).shape; // [6, 4]
 * ```
 */
export function reshape<D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> {
  const n = t.data.length;
  const out = [...shape];
  const free = out.indexOf(-1);
  if (free >= 0) {
    const rest = sizeOf(out.filter((_, i) => i !== free));
    if (rest === 0 || n % rest !== 0) {
      throw new RangeError(`cannot reshape ${shapeStr(t.shape)} to ${shapeStr(shape)}`);
    }
    out[free] = n / rest;
  }
  if (sizeOf(out) !== n) {
    throw new RangeError(`cannot reshape ${shapeStr(t.shape)} to ${shapeStr(shape)}`);
  }
  return { dtype: t.dtype, shape: out, data: t.data };
}

/**
 * Selects indices along the leading axes (negative counts from the end), dropping those axes,
 * as `t[i, j]` does in PyTorch: `select(logits, 0, -1)` is the last position's logits
 * `[d_vocab]`. The result shares memory with the input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromNested, select } from "./tensor.ts";
 * select(fromNested([[1, 2], [3, 4]]), 1).data; // Float32Array [3, 4]
 * const logits = fromNested([[[0, 1, 2], [3, 4, 5]]]); // [batch 1, pos 2, vocab 3]
 * select(logits, 0, -1).data; // Float32Array [3, 4, 5]: logits[0, -1]
 * assert.throws(() => select(logits, 0, 2), /index 2 out of range for axis 1 of size 2/);
 * ```
 */
export function select<D extends DType>(t: Tensor<D>, ...indices: number[]): Tensor<D> {
  if (indices.length > t.shape.length) {
    throw new RangeError(`${indices.length} indices for a tensor of shape ${shapeStr(t.shape)}`);
  }
  let start = 0;
  let inner = sizeOf(t.shape);
  indices.forEach((i, axis) => {
    const n = t.shape[axis];
    const k = i < 0 ? i + n : i;
    if (!Number.isInteger(k) || k < 0 || k >= n) {
      throw new RangeError(`index ${i} out of range for axis ${axis} of size ${n}`);
    }
    inner /= n;
    start += k * inner;
  });
  return {
    dtype: t.dtype,
    shape: t.shape.slice(indices.length),
    data: t.data.subarray(start, start + inner) as DataOf[D],
  };
}

/**
 * A deep copy of a tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clone, fromNested } from "./tensor.ts";
 * const a = fromNested([1, 2, 3]);
 * const b = clone(a);
 * b.data[0] = 9;
 * a.data; // Float32Array [1, 2, 3] (unchanged)
 * assert.deepEqual(a.data, new Float32Array([1, 2, 3]));
 * ```
 */
export function clone<D extends DType>(t: Tensor<D>): Tensor<D> {
  return { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() as DataOf[D] };
}

/**
 * Converts a numeric tensor to float32 (a copy; float32 input is copied too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor, toFloat32 } from "./tensor.ts";
 * const f = toFloat32(tensor(new Int32Array([1, 2, 3, 4]), [2, 2]));
 * f.dtype; // "float32"
 * assert.deepEqual(f.data, new Float32Array([1, 2, 3, 4]));
 * assert.deepEqual(f.shape, [2, 2]);
 * ```
 */
export function toFloat32(t: Tensor): Tensor<"float32"> {
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  return { dtype: "float32", shape: [...t.shape], data: out };
}

/**
 * Converts a numeric tensor to float64 (a copy).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor, toFloat64 } from "./tensor.ts";
 * const f = toFloat64(tensor(new BigInt64Array([1n, -2n]), [2]));
 * f.data; // Float64Array [1, -2]
 * assert.deepEqual(f.data, new Float64Array([1, -2]));
 * ```
 */
export function toFloat64(t: Tensor): Tensor<"float64"> {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  return { dtype: "float64", shape: [...t.shape], data: out };
}

/**
 * Permutes the axes of a tensor (a copy), like `torch.permute`.
 *
 * @example
 * ```ts
 * import { fromNested, transpose } from "./tensor.ts";
 * transpose(fromNested([[1, 2, 3], [4, 5, 6]]), [1, 0]).shape; // [3, 2]
 * ```
 */
export function transpose<D extends DType>(t: Tensor<D>, perm: readonly number[]): Tensor<D> {
  const r = t.shape.length;
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new RangeError(`invalid permutation ${shapeStr(perm)} for rank ${r}`);
  }
  const outShape = perm.map((p) => t.shape[p]);
  const inStrides = stridesOf(t.shape);
  const permStrides = perm.map((p) => inStrides[p]);
  const out = allocate(t.dtype, t.data.length);
  const idx = new Array<number>(r).fill(0);
  // deno-lint-ignore no-explicit-any
  const src = t.data as any, dst = out as any;
  for (let o = 0; o < out.length; o++) {
    let off = 0;
    for (let a = 0; a < r; a++) off += idx[a] * permStrides[a];
    dst[o] = src[off];
    for (let a = r - 1; a >= 0; a--) {
      if (++idx[a] < outShape[a]) break;
      idx[a] = 0;
    }
  }
  return { dtype: t.dtype, shape: outShape, data: out };
}

/**
 * Nested JavaScript arrays of a tensor's values (numbers; int64 converted with `Number`).
 *
 * @example
 * ```ts
 * import { tensor, toNested } from "./tensor.ts";
 * toNested(tensor(new Int32Array([1, 2, 3, 4]), [2, 2])); // [[1, 2], [3, 4]]
 * ```
 */
export function toNested(t: Tensor): unknown {
  const values = Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
  if (t.shape.length === 0) return values[0];
  const build = (axis: number, offset: number): unknown[] => {
    const n = t.shape[axis];
    const inner = sizeOf(t.shape.slice(axis + 1));
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        axis === t.shape.length - 1 ? values[offset + i] : build(axis + 1, offset + i * inner),
      );
    }
    return out;
  };
  return build(0, 0);
}

/**
 * Rows `[start, end)` of a `[n, p]` token tensor, without copying.
 *
 * @example
 * ```ts
 * import { sliceRows, tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const rows = tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), [3, 2]);
 * const tail = sliceRows(rows, 1, 3);
 * tail.shape; // [2, 2]
 * assert.deepEqual(Array.from(tail.data), [3, 4, 5, 6]);
 * assert.equal(tail.data.buffer, rows.data.buffer); // a view
 * ```
 */
export function sliceRows(rows: Tensor<"int32">, start: number, end: number): Tensor<"int32"> {
  const p = rows.shape[1];
  return { dtype: "int32", shape: [end - start, p], data: rows.data.subarray(start * p, end * p) };
}

/**
 * Host tensors (a typed array, a shape and a dtype: the form of every value that crosses between
 * the graph runtime and TypeScript), seeded randomness and the few host-side operations that
 * analysis code needs.
 *
 * - The tensor: `Tensor`, `DType`, `DataOf`, `TypedArray`, `DtypeOfArray`; making one
 *   (`tensor`, `zeros`, `full`, `fromNested`, `allocate`); reading it (`at`, `select`,
 *   `sliceRows`, `toNested`); reshaping and converting (`reshape`, `transpose`, `clone`,
 *   `toFloat32`, `toFloat64`); shapes and row-major indexing (`sizeOf`, `shapeStr`, `stridesOf`,
 *   `offsetOf`).
 * - Randomness: `Rng` (seeded), `randn`, `randu`.
 * - Operations on arrays: `topk` (`Ranked`), `argmax`, `argsort`, `sum`, `mean`, `dot`, `maxAbs`,
 *   `relativeError`, `assertShape`, `toNumbers`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   at,
 *   fromNested,
 *   randn,
 *   Rng,
 *   select,
 *   sliceRows,
 *   topk,
 * } from "@transcoder-circuits/core/tensor";
 * const t = fromNested([[1, 5, 3], [4, 2, 6]]); // float32 [2, 3]
 * at(t, 1, 2); // 6
 * select(t, 0).data; // Float32Array [1, 5, 3]: t[0]
 * topk(select(t, 0).data, 2).map((r) => r.index); // [1, 2]
 * const rows = { dtype: "int32", shape: [3, 2], data: Int32Array.of(1, 2, 3, 4, 5, 6) } as const;
 * assert.deepEqual(sliceRows(rows, 1, 3).shape, [2, 2]);
 * assert.deepEqual(randn([2, 2], new Rng(0)).data, randn([2, 2], new Rng(0)).data); // seeded
 * ```
 *
 * @module
 */
export {
  allocate,
  at,
  clone,
  type DataOf,
  type DType,
  type DtypeOfArray,
  fromNested,
  full,
  offsetOf,
  reshape,
  select,
  shapeStr,
  sizeOf,
  sliceRows,
  stridesOf,
  type Tensor,
  tensor,
  toFloat32,
  toFloat64,
  toNested,
  transpose,
  type TypedArray,
  zeros,
} from "./tensor.ts";
export { randn, randu, Rng } from "./random.ts";
export {
  argmax,
  argsort,
  assertShape,
  dot,
  maxAbs,
  mean,
  type Ranked,
  relativeError,
  sum,
  toNumbers,
  topk,
} from "./ops.ts";

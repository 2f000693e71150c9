/**
 * The intermediate representation of a computation graph: values with static shapes and nodes
 * that name an ONNX operator. The builder (`builder.ts`) creates it, `onnx.ts` serialises it and
 * `autodiff.ts` extends it with gradients.
 *
 * Shapes are always concrete: a graph is compiled for one set of input shapes (the session
 * cache keys on them), which keeps shape inference, broadcasting in gradients and error
 * messages exact.
 *
 * @module
 */

/** Element types of graph values (the ONNX names in lower case). */
export type ElemType = "float32" | "float16" | "int32" | "int64" | "bool";

/** A value flowing through the graph: the output of one node, a graph input or a constant. */
export interface Value {
  readonly id: number;
  readonly dtype: ElemType;
  readonly shape: readonly number[];
}

/** Attribute values a node may carry (static; tensors such as axes are emitted as constants). */
export type AttrValue = number | string | readonly number[] | boolean;

/**
 * One operator application. `op` is the ONNX operator type, in the default domain unless `domain`
 * names another (`com.microsoft` for onnxruntime's contrib operators).
 */
export interface Node {
  readonly op: string;
  readonly domain?: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

/**
 * Bytes per element of each element type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesPerElement } from "./ir.ts";
 * bytesPerElement.float16; // 2
 * assert.equal(bytesPerElement.int64 * 3, 24); // bytes of an int64 [3] tensor
 * ```
 */
export const bytesPerElement: Record<ElemType, number> = {
  float32: 4,
  float16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
};

/**
 * Whether an element type is a floating-point type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isFloat } from "./ir.ts";
 * isFloat("float16"); // true
 * assert.equal(isFloat("float32"), true);
 * assert.equal(isFloat("int64"), false);
 * ```
 */
export function isFloat(t: ElemType): boolean {
  return t === "float32" || t === "float16";
}

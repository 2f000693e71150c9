/**
 * Normalises the token arguments a model accepts (a 1-D sequence is a batch of one; a 2-D
 * `[batch, pos]` array or tensor is a batch of equal-length sequences) and validates them.
 *
 * @module
 */
import { shapeStr, type Tensor } from "../tensor/tensor.ts";

/** Tokens as the model's methods accept them. */
export type TokensLike =
  | Int32Array
  | readonly number[]
  | readonly (readonly number[] | Int32Array)[]
  | Tensor<"int32" | "int64">;

/** A validated `[batch, pos]` int32 tensor. */
export type TokenBatch = Tensor<"int32">;

/**
 * Converts tokens to a `[batch, pos]` int32 tensor, checking ids against the vocabulary and the
 * length against the context size.
 *
 * @example
 * ```ts
 * import { toTokenBatch } from "./tokens.ts";
 * toTokenBatch([50256, 15496], 50257, 1024).shape; // [1, 2]
 * ```
 */
export function toTokenBatch(tokens: TokensLike, dVocab: number, nCtx: number): TokenBatch {
  let data: Int32Array;
  let shape: number[];
  if ("dtype" in tokens && "shape" in tokens && !Array.isArray(tokens)) {
    const t = tokens as Tensor<"int32" | "int64">;
    if (t.shape.length !== 1 && t.shape.length !== 2) {
      throw new RangeError(
        `tokens tensor has shape ${shapeStr(t.shape)}, expected [pos] or [batch, pos]`,
      );
    }
    if (t.dtype !== "int32" && t.dtype !== "int64") {
      throw new TypeError(`tokens tensor has dtype ${t.dtype}, expected int32 or int64`);
    }
    data = t.dtype === "int32"
      ? t.data as Int32Array
      : Int32Array.from(t.data as BigInt64Array, Number);
    shape = t.shape.length === 1 ? [1, t.shape[0]] : [...t.shape];
  } else if (tokens instanceof Int32Array) {
    data = tokens;
    shape = [1, tokens.length];
  } else {
    const arr = tokens as readonly unknown[];
    if (arr.length > 0 && typeof arr[0] !== "number") {
      const rows = arr as readonly ArrayLike<number>[];
      const p = rows[0].length;
      rows.forEach((r, i) => {
        if (r.length !== p) {
          throw new RangeError(
            `sequence ${i} has ${r.length} tokens but sequence 0 has ${p}: a batch needs equal lengths`,
          );
        }
      });
      rows.forEach((r) => checkIntegers(r));
      data = new Int32Array(rows.length * p);
      rows.forEach((r, i) => data.set(Array.from(r), i * p));
      shape = [rows.length, p];
    } else {
      checkIntegers(arr as number[]);
      data = Int32Array.from(arr as number[]);
      shape = [1, arr.length];
    }
  }
  const [b, p] = shape;
  if (b === 0 || p === 0) {
    throw new RangeError(`tokens of shape ${shapeStr(shape)}: need at least one token`);
  }
  if (p > nCtx) {
    throw new RangeError(`sequence of ${p} tokens exceeds the context size n_ctx = ${nCtx}`);
  }
  for (let i = 0; i < data.length; i++) {
    const t = data[i];
    if (!(t >= 0 && t < dVocab) || !Number.isInteger(t)) {
      throw new RangeError(
        `token id ${t} at [${Math.floor(i / p)}, ${
          i % p
        }] is outside the vocabulary [0, ${dVocab})`,
      );
    }
  }
  return { dtype: "int32", shape, data };
}

function checkIntegers(values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isSafeInteger(values[i])) {
      throw new RangeError(`token id ${values[i]} is not an integer`);
    }
  }
}

/**
 * A typed builder for computation graphs. Each method appends one ONNX operator, infers the
 * static shape of its result and validates its operands, so that a shape error is reported at
 * build time with the operator and both shapes, not later by the runtime.
 *
 * @example
 * ```ts
 * import { Graph } from "./builder.ts";
 * const g = new Graph();
 * const x = g.input("x", "float32", [2, 3]);             // [batch, d_in]
 * const w = g.input("w", "float32", [3, 4]);             // [d_in, d_out]
 * g.output("y", g.relu(g.matmul(x, w)));                 // [batch, d_out]
 * ```
 *
 * @module
 */
import { type AttrValue, type ElemType, isFloat, type Node, type Value } from "./ir.ts";
import { shapeStr, sizeOf } from "../tensor/tensor.ts";

/** Constant data embedded in the graph (small tensors only: weights are inputs). */
export interface ConstantData {
  readonly dtype: ElemType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
}

/**
 * Error raised while building a graph (bad shapes, axes or types), naming the operator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph, GraphBuildError } from "./builder.ts";
 * const g = new Graph();
 * const a = g.input("a", "float32", [2]), b = g.input("b", "float32", [3]);
 * assert.throws(() => g.add(a, b), {
 *   name: "GraphBuildError",
 *   message: "Add: shapes [2] and [3] do not broadcast",
 * });
 * assert.throws(() => g.add(a, b), GraphBuildError);
 * ```
 */
export class GraphBuildError extends Error {
  override name = "GraphBuildError";
}

/**
 * Numpy-style broadcast of two shapes, or undefined when they do not broadcast.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { broadcastShapes } from "./builder.ts";
 * broadcastShapes([2, 1, 3], [4, 1]); // [2, 4, 3]
 * assert.deepEqual(broadcastShapes([2, 1, 3], [4, 1]), [2, 4, 3]);
 * assert.equal(broadcastShapes([2], [3]), undefined);
 * ```
 */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1, db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new GraphBuildError(`${op}: axis ${axis} out of range for rank ${rank}`);
  }
  return a;
}

/**
 * A graph under construction: inputs, constants, nodes and named outputs. Every value has a
 * static shape, inferred as it is built.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "./builder.ts";
 * import { Runtime } from "./session.ts";
 * const g = new Graph();
 * const x = g.input("x", "float32", [2, 3]);
 * const y = g.reduceSum(g.mul(x, g.scalar(2)), [1]); // 2 x, summed over axis 1
 * y.shape; // [2]
 * g.output("y", y);
 * assert.deepEqual(g.nodes.map((n) => n.op), ["Mul", "ReduceSum"]);
 * const compiled = await new Runtime().compile(g);
 * const out = await compiled.run({
 *   x: { dtype: "float32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
 * });
 * out.y.data; // Float32Array [12, 30]
 * assert.deepEqual(out.y.data, new Float32Array([12, 30]));
 * ```
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: { name: string; value: Value }[] = [];
  readonly outputs: { name: string; value: Value }[] = [];
  readonly constants: Map<number, ConstantData> = new Map();
  #nextId = 0;
  #inputNames = new Set<string>();

  /** A new value id with a type and shape (used by the builder and by autodiff). */
  newValue(dtype: ElemType, shape: readonly number[]): Value {
    return { id: this.#nextId++, dtype, shape: [...shape] };
  }

  /** Appends a node and returns its first output. */
  protected emit(
    op: string,
    inputs: Value[],
    outType: ElemType,
    outShape: readonly number[],
    attrs: Record<string, AttrValue> = {},
  ): Value {
    const out = this.newValue(outType, outShape);
    this.nodes.push({ op, inputs, outputs: [out], attrs });
    return out;
  }

  /** Declares a named graph input. Names must be unique. */
  input(name: string, dtype: ElemType, shape: readonly number[]): Value {
    if (this.#inputNames.has(name)) throw new GraphBuildError(`duplicate graph input "${name}"`);
    this.#inputNames.add(name);
    const v = this.newValue(dtype, shape);
    this.inputs.push({ name, value: v });
    return v;
  }

  /** Declares a named graph output. */
  output(name: string, v: Value): void {
    if (this.outputs.some((o) => o.name === name)) {
      throw new GraphBuildError(`duplicate graph output "${name}"`);
    }
    this.outputs.push({ name, value: v });
  }

  /** Embeds a small constant tensor. */
  constant(data: ConstantData["data"], shape: readonly number[], dtype?: ElemType): Value {
    const t: ElemType = dtype ??
      (data instanceof Float32Array
        ? "float32"
        : data instanceof Int32Array
        ? "int32"
        : data instanceof BigInt64Array
        ? "int64"
        : data instanceof Uint16Array
        ? "float16"
        : "bool");
    if (sizeOf(shape) !== data.length) {
      throw new GraphBuildError(`constant of shape ${shapeStr(shape)} with ${data.length} values`);
    }
    const v = this.newValue(t, shape);
    this.constants.set(v.id, { dtype: t, shape: [...shape], data });
    return v;
  }

  /** A float32 scalar constant (shape `[]`). */
  scalar(x: number, dtype: "float32" | "int64" | "int32" = "float32"): Value {
    if (dtype === "int64") return this.constant(new BigInt64Array([BigInt(x)]), [], "int64");
    if (dtype === "int32") return this.constant(new Int32Array([x]), [], "int32");
    return this.constant(new Float32Array([x]), [], "float32");
  }

  // ---- elementwise ------------------------------------------------------------------------

  #binary(op: string, a: Value, b: Value, outType?: ElemType): Value {
    if (a.dtype !== b.dtype) {
      throw new GraphBuildError(`${op}: operand types differ (${a.dtype} vs ${b.dtype})`);
    }
    const shape = broadcastShapes(a.shape, b.shape);
    if (!shape) {
      throw new GraphBuildError(
        `${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not broadcast`,
      );
    }
    return this.emit(op, [a, b], outType ?? a.dtype, shape);
  }

  /** Elementwise a + b (broadcasting). */
  add(a: Value, b: Value): Value {
    return this.#binary("Add", a, b);
  }
  /** Elementwise a - b (broadcasting). */
  sub(a: Value, b: Value): Value {
    return this.#binary("Sub", a, b);
  }
  /** Elementwise a * b (broadcasting). */
  mul(a: Value, b: Value): Value {
    return this.#binary("Mul", a, b);
  }
  /** Elementwise a / b (broadcasting). */
  div(a: Value, b: Value): Value {
    return this.#binary("Div", a, b);
  }
  /** Elementwise a ** b (broadcasting). */
  pow(a: Value, b: Value): Value {
    return this.#binary("Pow", a, b);
  }
  /** Elementwise maximum (broadcasting). */
  max(a: Value, b: Value): Value {
    return this.#binary("Max", a, b);
  }
  /** Elementwise minimum (broadcasting). */
  min(a: Value, b: Value): Value {
    return this.#binary("Min", a, b);
  }
  /** Elementwise a == b, a bool tensor. */
  equal(a: Value, b: Value): Value {
    return this.#binary("Equal", a, b, "bool");
  }
  /** Elementwise a < b, a bool tensor. */
  less(a: Value, b: Value): Value {
    return this.#binary("Less", a, b, "bool");
  }
  /** Elementwise a > b, a bool tensor. */
  greater(a: Value, b: Value): Value {
    return this.#binary("Greater", a, b, "bool");
  }
  /** Elementwise logical and of two bool tensors. */
  and(a: Value, b: Value): Value {
    return this.#binary("And", a, b, "bool");
  }

  /** `cond ? a : b`, elementwise with broadcasting. */
  where(cond: Value, a: Value, b: Value): Value {
    if (cond.dtype !== "bool") throw new GraphBuildError(`Where: condition is ${cond.dtype}`);
    if (a.dtype !== b.dtype) {
      throw new GraphBuildError(`Where: branch types differ (${a.dtype} vs ${b.dtype})`);
    }
    const s1 = broadcastShapes(a.shape, b.shape);
    const shape = s1 && broadcastShapes(cond.shape, s1);
    if (!shape) {
      throw new GraphBuildError(
        `Where: shapes ${shapeStr(cond.shape)}, ${shapeStr(a.shape)}, ${
          shapeStr(b.shape)
        } do not broadcast`,
      );
    }
    return this.emit("Where", [cond, a, b], a.dtype, shape);
  }

  #unary(op: string, x: Value, attrs: Record<string, AttrValue> = {}): Value {
    if (!isFloat(x.dtype) && op !== "Neg" && op !== "Abs" && op !== "Identity" && op !== "Not") {
      throw new GraphBuildError(`${op}: expects a float tensor, got ${x.dtype}`);
    }
    return this.emit(op, [x], x.dtype, x.shape, attrs);
  }

  /** Elementwise -x. */
  neg(x: Value): Value {
    return this.#unary("Neg", x);
  }
  /** Elementwise square root. */
  sqrt(x: Value): Value {
    return this.#unary("Sqrt", x);
  }
  /** Elementwise e**x. */
  exp(x: Value): Value {
    return this.#unary("Exp", x);
  }
  /** Elementwise natural logarithm. */
  log(x: Value): Value {
    return this.#unary("Log", x);
  }
  /** Elementwise tanh. */
  tanh(x: Value): Value {
    return this.#unary("Tanh", x);
  }
  /** Elementwise error function. */
  erf(x: Value): Value {
    return this.#unary("Erf", x);
  }
  /** Elementwise max(x, 0). */
  relu(x: Value): Value {
    return this.#unary("Relu", x);
  }
  /** Elementwise |x|. */
  abs(x: Value): Value {
    return this.#unary("Abs", x);
  }
  /** Elementwise sign (-1, 0 or 1). */
  sign(x: Value): Value {
    return this.#unary("Sign", x);
  }
  /** Elementwise logical not of a bool tensor. */
  not(x: Value): Value {
    if (x.dtype !== "bool") throw new GraphBuildError(`Not: expects bool, got ${x.dtype}`);
    return this.emit("Not", [x], "bool", x.shape);
  }
  /** x unchanged, but no gradient flows through it (torch's `detach`). */
  stopGradient(x: Value): Value {
    return this.emit("StopGradient", [x], x.dtype, x.shape);
  }
  /** A copy of x under a new value id. */
  identity(x: Value): Value {
    return this.#unary("Identity", x);
  }
  /**
   * GELU: `approximate: "tanh"` is GPT-2's `gelu_new`,
   * `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`; `"none"` is the erf form.
   */
  gelu(x: Value, approximate: "none" | "tanh" = "tanh"): Value {
    return this.#unary("Gelu", x, { approximate });
  }

  /** Converts element type. */
  cast(x: Value, to: ElemType): Value {
    return this.emit("Cast", [x], to, x.shape, { to });
  }

  /** Clamps x to [lo, hi] (float scalars). */
  clip(x: Value, lo: number, hi: number): Value {
    return this.#unary("Clip", x, { min: lo, max: hi });
  }

  // ---- linear algebra ---------------------------------------------------------------------

  /** Numpy-style matrix product with batch broadcasting: `[..., m, k] x [..., k, n]`. */
  matmul(a: Value, b: Value): Value {
    if (a.dtype !== b.dtype) {
      throw new GraphBuildError(`MatMul: operand types differ (${a.dtype} vs ${b.dtype})`);
    }
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw new GraphBuildError(
        `MatMul: operands must have rank >= 2, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`,
      );
    }
    const [m, k1] = a.shape.slice(-2), [k2, n] = b.shape.slice(-2);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (k1 !== k2 || !batch) {
      throw new GraphBuildError(
        `MatMul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} are incompatible`,
      );
    }
    return this.emit("MatMul", [a, b], a.dtype, [...batch, m, n]);
  }

  /**
   * `alpha * op(a) op(b) + beta * c` for 2-D a and b, where op transposes when asked.
   */
  gemm(
    a: Value,
    b: Value,
    { c, transA = false, transB = false, alpha = 1, beta = 1 }: {
      c?: Value;
      transA?: boolean;
      transB?: boolean;
      alpha?: number;
      beta?: number;
    } = {},
  ): Value {
    if (a.shape.length !== 2 || b.shape.length !== 2) {
      throw new GraphBuildError(
        `Gemm: operands must be 2-D, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`,
      );
    }
    const [m, k1] = transA ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
    if (k1 !== k2) {
      throw new GraphBuildError(
        `Gemm: inner dimensions differ: ${shapeStr(a.shape)}${transA ? "ᵀ" : ""} x ${
          shapeStr(b.shape)
        }${transB ? "ᵀ" : ""}`,
      );
    }
    if (c && !broadcastShapes(c.shape, [m, n])?.every((d, i) => d === [m, n][i])) {
      throw new GraphBuildError(
        `Gemm: C of shape ${shapeStr(c.shape)} does not broadcast to [${m}, ${n}]`,
      );
    }
    const attrs = { transA: transA ? 1 : 0, transB: transB ? 1 : 0, alpha, beta };
    return this.emit("Gemm", c ? [a, b, c] : [a, b], a.dtype, [m, n], attrs);
  }

  // ---- normalisations and reductions ------------------------------------------------------

  /** Softmax along an axis. */
  softmax(x: Value, axis = -1): Value {
    return this.#unary("Softmax", x, { axis: normAxis(axis, x.shape.length, "Softmax") });
  }
  /** Log-softmax along an axis. */
  logSoftmax(x: Value, axis = -1): Value {
    return this.#unary("LogSoftmax", x, { axis: normAxis(axis, x.shape.length, "LogSoftmax") });
  }

  #reduce(op: string, x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
    const r = x.shape.length;
    const ax = axes === undefined
      ? x.shape.map((_, i) => i)
      : [...new Set(axes.map((a) => normAxis(a, r, op)))].sort((a, b) => a - b);
    const shape = keepdims
      ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !ax.includes(i));
    return this.emit(op, [x], x.dtype, shape, { axes: ax, keepdims: keepdims ? 1 : 0 });
  }
  /** Sum over axes (all axes when omitted). */
  reduceSum(x: Value, axes?: readonly number[], keepdims = false): Value {
    return this.#reduce("ReduceSum", x, axes, keepdims);
  }
  /** Mean over axes (all axes when omitted). */
  reduceMean(x: Value, axes?: readonly number[], keepdims = false): Value {
    return this.#reduce("ReduceMean", x, axes, keepdims);
  }
  /** Maximum over axes (all axes when omitted). */
  reduceMax(x: Value, axes?: readonly number[], keepdims = false): Value {
    return this.#reduce("ReduceMax", x, axes, keepdims);
  }
  /**
   * `log(sum(exp(x)))` over axes (all axes when omitted), computed stably (the maximum is
   * subtracted first): one pass over `x`, without materialising `exp(x)` or a log-softmax.
   */
  reduceLogSumExp(x: Value, axes?: readonly number[], keepdims = false): Value {
    return this.#reduce("ReduceLogSumExp", x, axes, keepdims);
  }

  /**
   * onnxruntime's `com.microsoft.MultiHeadAttention` without masks: per head,
   * `softmax(scale q k^T) v` of `q` `[b, s, h*e]`, `k` `[b, t, h*e]` and `v` `[b, t, h*f]`, giving
   * `[b, s, h*f]`. On the CPU provider, onnxruntime runs it as a flash attention (MLAS): the
   * scores are computed a block of keys at a time and never materialised, which makes it a
   * streaming softmax-weighted sum over any long axis (a vocabulary, say). A contrib operator:
   * other providers may lack it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Graph } from "./builder.ts";
   * import { Runtime } from "./session.ts";
   * const g = new Graph();
   * const q = g.input("q", "float32", [1, 1, 2]), k = g.input("k", "float32", [1, 3, 2]);
   * const v = g.input("v", "float32", [1, 3, 1]);
   * g.output("o", g.multiHeadAttention(q, k, v, { numHeads: 1, scale: 1 })); // [1, 1, 1]
   * const f32 = (shape: number[], xs: number[]) => ({ dtype: "float32" as const, shape, data: new Float32Array(xs) });
   * const out = await (await new Runtime().compile(g)).run({
   *   q: f32([1, 1, 2], [1, 0]), k: f32([1, 3, 2], [0, 0, 1, 0, 2, 0]), v: f32([1, 3, 1], [1, 0, 0]),
   * });
   * // the weight of key 0, whose score is 0 against 1 and 2:
   * assert.ok(Math.abs((out.o.data as Float32Array)[0] - 1 / (1 + Math.E + Math.E ** 2)) < 1e-6);
   * ```
   */
  multiHeadAttention(
    q: Value,
    k: Value,
    v: Value,
    { numHeads, scale }: { numHeads: number; scale: number },
  ): Value {
    const [b, s, hq] = q.shape, [bk, t, hk] = k.shape, [bv, tv, hv] = v.shape;
    if (
      q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3 || bk !== b ||
      bv !== b || tv !== t || hk !== hq || hq % numHeads !== 0 || hv % numHeads !== 0
    ) {
      throw new GraphBuildError(
        `MultiHeadAttention: q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${
          shapeStr(v.shape)
        } are not [b, s, h*e], [b, t, h*e], [b, t, h*f] for ${numHeads} heads`,
      );
    }
    const out = this.newValue(q.dtype, [b, s, hv]);
    this.nodes.push({
      op: "MultiHeadAttention",
      domain: "com.microsoft",
      inputs: [q, k, v],
      outputs: [out],
      attrs: { num_heads: numHeads, scale },
    });
    return out;
  }

  // ---- indexing ---------------------------------------------------------------------------

  /** Gathers slices of `data` along `axis` at integer `indices` (like `data[indices]`). */
  gather(data: Value, indices: Value, axis = 0): Value {
    if (indices.dtype !== "int32" && indices.dtype !== "int64") {
      throw new GraphBuildError(`Gather: indices must be int32 or int64, got ${indices.dtype}`);
    }
    const a = normAxis(axis, data.shape.length, "Gather");
    const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.emit("Gather", [data, indices], data.dtype, shape, { axis: a });
  }

  /** `out[i][j][k] = data[i][indices[i][j][k]][k]` for axis 1 (like `torch.gather`). */
  gatherElements(data: Value, indices: Value, axis: number): Value {
    const a = normAxis(axis, data.shape.length, "GatherElements");
    if (indices.shape.length !== data.shape.length) {
      throw new GraphBuildError(
        `GatherElements: indices ${shapeStr(indices.shape)} and data ${
          shapeStr(data.shape)
        } differ in rank`,
      );
    }
    return this.emit("GatherElements", [data, indices], data.dtype, indices.shape, { axis: a });
  }

  /**
   * A copy of `data` with `updates` written (or added, with `reduction: "add"`) at the index
   * tuples in `indices` (ONNX ScatterND). `indices`: `[..., k]`, updates: `indices.shape[:-1] +
   * data.shape[k:]`.
   */
  scatterND(
    data: Value,
    indices: Value,
    updates: Value,
    reduction: "none" | "add" = "none",
  ): Value {
    const k = indices.shape[indices.shape.length - 1];
    const want = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
    if (updates.shape.length !== want.length || updates.shape.some((d, i) => d !== want[i])) {
      throw new GraphBuildError(
        `ScatterND: updates ${shapeStr(updates.shape)}, expected ${shapeStr(want)}`,
      );
    }
    return this.emit("ScatterND", [data, indices, updates], data.dtype, data.shape, { reduction });
  }

  /**
   * `out = copy of data; out[i][indices[i][j]][k] += updates[i][j][k]` for axis 1 with
   * `reduction: "add"` (ONNX ScatterElements); `"none"` overwrites.
   */
  scatterElements(
    data: Value,
    indices: Value,
    updates: Value,
    axis: number,
    reduction: "none" | "add" = "none",
  ): Value {
    const a = normAxis(axis, data.shape.length, "ScatterElements");
    if (
      indices.shape.length !== data.shape.length ||
      indices.shape.some((d, i) => d !== updates.shape[i])
    ) {
      throw new GraphBuildError(
        `ScatterElements: indices ${shapeStr(indices.shape)} and updates ${
          shapeStr(updates.shape)
        } must have the same shape and data's rank`,
      );
    }
    return this.emit("ScatterElements", [data, indices, updates], data.dtype, data.shape, {
      axis: a,
      reduction,
    });
  }

  /** Pads with a constant: `pads` lists, per axis, the number of elements before then after. */
  pad(x: Value, before: readonly number[], after: readonly number[], value = 0): Value {
    const r = x.shape.length;
    if (
      before.length !== r || after.length !== r ||
      [...before, ...after].some((v) => !Number.isInteger(v) || v < 0)
    ) {
      throw new GraphBuildError(
        `Pad: need ${r} non-negative pads before and after, got ${shapeStr(before)} and ${
          shapeStr(after)
        }`,
      );
    }
    const shape = x.shape.map((d, i) => d + before[i] + after[i]);
    return this.emit("Pad", [x], x.dtype, shape, { pads: [...before, ...after], value });
  }

  /** A float32 tensor of zeros of a shape (a broadcast scalar). */
  zeros(shape: readonly number[]): Value {
    return this.expand(this.scalar(0), shape);
  }

  /** Static slice: for each listed axis, elements `start <= i < end` with a step. */
  slice(
    x: Value,
    starts: readonly number[],
    ends: readonly number[],
    axes?: readonly number[],
    steps?: readonly number[],
  ): Value {
    const r = x.shape.length;
    const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, r, "Slice"));
    const st = steps ?? ax.map(() => 1);
    const shape = [...x.shape];
    const s0: number[] = [], e0: number[] = [];
    ax.forEach((a, i) => {
      const d = x.shape[a];
      if (st[i] !== 1) throw new GraphBuildError("Slice: only step 1 is supported");
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      const s = clamp(starts[i]), e = clamp(ends[i]);
      shape[a] = Math.max(0, e - s);
      s0.push(s);
      e0.push(Math.max(s, e));
    });
    return this.emit("Slice", [x], x.dtype, shape, { starts: s0, ends: e0, axes: ax });
  }

  /** Concatenates along an axis. */
  concat(xs: readonly Value[], axis: number): Value {
    if (xs.length === 0) throw new GraphBuildError("Concat: no inputs");
    const r = xs[0].shape.length;
    const a = normAxis(axis, r, "Concat");
    const shape = [...xs[0].shape];
    shape[a] = 0;
    for (const x of xs) {
      if (x.shape.length !== r || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
        throw new GraphBuildError(
          `Concat: shapes ${xs.map((v) => shapeStr(v.shape)).join(", ")} differ off axis ${a}`,
        );
      }
      shape[a] += x.shape[a];
    }
    return this.emit("Concat", [...xs], xs[0].dtype, shape, { axis: a });
  }

  /** Splits along an axis into pieces of the given sizes. */
  split(x: Value, sizes: readonly number[], axis: number): Value[] {
    const a = normAxis(axis, x.shape.length, "Split");
    if (sizes.reduce((s, v) => s + v, 0) !== x.shape[a]) {
      throw new GraphBuildError(
        `Split: sizes ${shapeStr(sizes)} do not sum to axis ${a} of ${shapeStr(x.shape)}`,
      );
    }
    const outs = sizes.map((s) => {
      const shape = [...x.shape];
      shape[a] = s;
      return this.newValue(x.dtype, shape);
    });
    this.nodes.push({ op: "Split", inputs: [x], outputs: outs, attrs: { axis: a, split: sizes } });
    return outs;
  }

  /** A view of x with a new static shape (one dimension may be -1). */
  reshape(x: Value, shape: readonly number[]): Value {
    const out = [...shape];
    const free = out.indexOf(-1);
    const n = sizeOf(x.shape);
    if (free >= 0) {
      const rest = sizeOf(out.filter((_, i) => i !== free));
      out[free] = rest === 0 ? 0 : n / rest;
    }
    if (sizeOf(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new GraphBuildError(
        `Reshape: cannot reshape ${shapeStr(x.shape)} to ${shapeStr(shape)}`,
      );
    }
    return this.emit("Reshape", [x], x.dtype, out, { shape: out });
  }

  /** Permutes axes. */
  transpose(x: Value, perm: readonly number[]): Value {
    const r = x.shape.length;
    if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      throw new GraphBuildError(`Transpose: invalid permutation ${shapeStr(perm)} for rank ${r}`);
    }
    return this.emit("Transpose", [x], x.dtype, perm.map((p) => x.shape[p]), { perm: [...perm] });
  }

  /** Inserts size-1 axes at the given positions (of the output). */
  unsqueeze(x: Value, axes: readonly number[]): Value {
    const r = x.shape.length + axes.length;
    const ax = axes.map((a) => normAxis(a, r, "Unsqueeze")).sort((a, b) => a - b);
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < r; i++) shape.push(ax.includes(i) ? 1 : x.shape[j++]);
    return this.emit("Unsqueeze", [x], x.dtype, shape, { axes: ax });
  }

  /** Removes size-1 axes. */
  squeeze(x: Value, axes: readonly number[]): Value {
    const ax = axes.map((a) => normAxis(a, x.shape.length, "Squeeze"));
    for (const a of ax) {
      if (x.shape[a] !== 1) {
        throw new GraphBuildError(`Squeeze: axis ${a} of ${shapeStr(x.shape)} is not 1`);
      }
    }
    return this.emit("Squeeze", [x], x.dtype, x.shape.filter((_, i) => !ax.includes(i)), {
      axes: ax,
    });
  }

  /** Broadcasts x to a shape. */
  expand(x: Value, shape: readonly number[]): Value {
    const out = broadcastShapes(x.shape, shape);
    if (!out || out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
      throw new GraphBuildError(
        `Expand: cannot broadcast ${shapeStr(x.shape)} to ${shapeStr(shape)}`,
      );
    }
    return this.emit("Expand", [x], x.dtype, out, { shape: [...shape] });
  }

  /** The shape of x as an int64 vector. */
  shapeOf(x: Value): Value {
    return this.emit("Shape", [x], "int64", [x.shape.length]);
  }

  /** The k largest (or smallest) entries along an axis: `[values, int64 indices]`. */
  topk(x: Value, k: number, axis = -1, largest = true): [Value, Value] {
    const a = normAxis(axis, x.shape.length, "TopK");
    if (!Number.isInteger(k) || k < 0 || k > x.shape[a]) {
      throw new GraphBuildError(`TopK: k ${k} out of range for axis of size ${x.shape[a]}`);
    }
    const shape = [...x.shape];
    shape[a] = k;
    const v = this.newValue(x.dtype, shape), i = this.newValue("int64", shape);
    this.nodes.push({
      op: "TopK",
      inputs: [x],
      outputs: [v, i],
      attrs: { k, axis: a, largest: largest ? 1 : 0, sorted: 1 },
    });
    return [v, i];
  }

  /**
   * A causal mask constant `[q, k]`: true where key position <= query position, with the
   * queries being the last `q` of the `k` positions.
   */
  causalMask(q: number, k: number): Value {
    const m = new Uint8Array(q * k);
    for (let i = 0; i < q; i++) for (let j = 0; j <= i + k - q; j++) m[i * k + j] = 1;
    return this.constant(m, [q, k], "bool");
  }
}

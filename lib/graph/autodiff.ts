/**
 * Reverse-mode automatic differentiation over the graph IR.
 *
 * 1. Mark the nodes that lie on a path from a `wrt` value to the loss.
 * 2. Seed the loss gradient with ones and walk those nodes in reverse (the builder appends
 *    nodes in topological order).
 * 3. For each node, its operator's VJP rule appends the nodes that compute the gradients of
 *    its inputs from the gradients of its outputs; gradients reaching a value twice are summed.
 *
 * The result is an ordinary graph that computes the loss and the gradients together, so one
 * onnxruntime run does forward and backward (and, with an optimiser appended, the update).
 * Shapes are static, so broadcasting is undone exactly by summing over the broadcast axes.
 *
 * @example
 * ```ts
 * import { Graph } from "./builder.ts";
 * import { gradients } from "./autodiff.ts";
 * const g = new Graph();
 * const w = g.input("w", "float32", [3]);
 * const loss = g.reduceSum(g.mul(w, w));                 // sum w^2
 * const [dw] = gradients(g, loss, [w]);                  // 2 w
 * g.output("dw", dw);
 * ```
 *
 * @module
 */
import { type Graph, GraphBuildError } from "./builder.ts";
import { isFloat, type Node, type Value } from "./ir.ts";
import { shapeStr } from "../tensor/tensor.ts";

/**
 * The gradient of `y` (shape `gy.shape`) with respect to an operand of shape `shape`: sums
 * `gy` over the axes that broadcasting added or stretched.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "./builder.ts";
 * import { unbroadcast } from "./autodiff.ts";
 * import { Runtime } from "./session.ts";
 * const g = new Graph();
 * const gy = g.input("gy", "float32", [2, 3]);
 * const rows = unbroadcast(g, gy, [1, 3]); // summed over axis 0, kept
 * const flat = unbroadcast(g, gy, [3]); // summed over axis 0, dropped
 * rows.shape; // [1, 3]
 * assert.deepEqual(flat.shape, [3]);
 * g.output("rows", rows);
 * const compiled = await new Runtime().compile(g);
 * const out = await compiled.run({
 *   gy: { dtype: "float32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
 * });
 * out.rows.data; // Float32Array [5, 7, 9]
 * assert.deepEqual(out.rows.data, new Float32Array([5, 7, 9]));
 * ```
 */
export function unbroadcast(g: Graph, gy: Value, shape: readonly number[]): Value {
  if (gy.shape.length === shape.length && gy.shape.every((d, i) => d === shape[i])) return gy;
  const lead = gy.shape.length - shape.length;
  let out = gy;
  if (lead > 0) out = g.reduceSum(out, Array.from({ length: lead }, (_, i) => i), false);
  const axes = shape.map((d, i) => (d === 1 && out.shape[i] !== 1 ? i : -1)).filter((i) => i >= 0);
  if (axes.length) out = g.reduceSum(out, axes, true);
  if (out.shape.some((d, i) => d !== shape[i])) {
    throw new GraphBuildError(
      `autodiff: cannot reduce ${shapeStr(gy.shape)} to ${shapeStr(shape)}`,
    );
  }
  return out;
}

/** A VJP rule: gradients of the inputs (undefined where none flows) from those of the outputs. */
type Vjp = (
  g: Graph,
  n: Node,
  gys: (Value | undefined)[],
  needs: boolean[],
) => (Value | undefined)[];

const c = (g: Graph, x: number) => g.scalar(x);

function matmulGrad(
  g: Graph,
  a: Value,
  b: Value,
  gy: Value,
  needs: boolean[],
): (Value | undefined)[] {
  const swapLast = (v: Value) => {
    const r = v.shape.length;
    return g.transpose(v, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
  };
  let ga: Value | undefined, gb: Value | undefined;
  if (needs[0]) ga = unbroadcast(g, g.matmul(gy, swapLast(b)), a.shape);
  if (needs[1]) {
    if (b.shape.length === 2 && a.shape.length > 2) {
      // [..., m, k]^T [..., m, n] summed over the batch: one GEMM over flattened rows.
      const k = a.shape[a.shape.length - 1], n = b.shape[1];
      gb = g.gemm(g.reshape(a, [-1, k]), g.reshape(gy, [-1, n]), { transA: true });
    } else {
      gb = unbroadcast(g, g.matmul(swapLast(a), gy), b.shape);
    }
  }
  return [ga, gb];
}

function geluGrad(g: Graph, x: Value, approximate: string): Value {
  if (approximate === "tanh") {
    // d/dx 0.5 x (1 + t), t = tanh(k (x + 0.044715 x^3)):
    // 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2)
    const k = Math.sqrt(2 / Math.PI);
    const x2 = g.mul(x, x);
    const t = g.tanh(g.mul(c(g, k), g.add(x, g.mul(c(g, 0.044715), g.mul(x2, x)))));
    const left = g.mul(c(g, 0.5), g.add(c(g, 1), t));
    const dInner = g.mul(c(g, k), g.add(c(g, 1), g.mul(c(g, 3 * 0.044715), x2)));
    const right = g.mul(g.mul(c(g, 0.5), x), g.mul(g.sub(c(g, 1), g.mul(t, t)), dInner));
    return g.add(left, right);
  }
  // 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
  const cdf = g.mul(c(g, 0.5), g.add(c(g, 1), g.erf(g.mul(x, c(g, Math.SQRT1_2)))));
  const pdf = g.mul(c(g, 1 / Math.sqrt(2 * Math.PI)), g.exp(g.mul(c(g, -0.5), g.mul(x, x))));
  return g.add(cdf, g.mul(x, pdf));
}

const rules: Record<string, Vjp> = {
  Identity: (_g, _n, [gy]) => [gy],
  Add: (
    g,
    n,
    [gy],
  ) => [unbroadcast(g, gy!, n.inputs[0].shape), unbroadcast(g, gy!, n.inputs[1].shape)],
  Sub: (g, n, [gy], needs) => [
    unbroadcast(g, gy!, n.inputs[0].shape),
    needs[1] ? unbroadcast(g, g.neg(gy!), n.inputs[1].shape) : undefined,
  ],
  Mul: (g, n, [gy], needs) => {
    const [a, b] = n.inputs;
    return [
      needs[0] ? unbroadcast(g, g.mul(gy!, b), a.shape) : undefined,
      needs[1] ? unbroadcast(g, g.mul(gy!, a), b.shape) : undefined,
    ];
  },
  Div: (g, n, [gy], needs) => {
    const [a, b] = n.inputs, y = n.outputs[0];
    return [
      needs[0] ? unbroadcast(g, g.div(gy!, b), a.shape) : undefined,
      needs[1] ? unbroadcast(g, g.neg(g.div(g.mul(gy!, y), b)), b.shape) : undefined,
    ];
  },
  Pow: (g, n, [gy], needs) => {
    const [a, b] = n.inputs, y = n.outputs[0];
    return [
      needs[0]
        ? unbroadcast(g, g.mul(gy!, g.mul(b, g.pow(a, g.sub(b, c(g, 1))))), a.shape)
        : undefined,
      needs[1] ? unbroadcast(g, g.mul(gy!, g.mul(y, g.log(a))), b.shape) : undefined,
    ];
  },
  Max: (g, n, [gy], needs) => {
    const [a, b] = n.inputs;
    const pick = g.greater(g.expand(b, n.outputs[0].shape), g.expand(a, n.outputs[0].shape)); // b wins
    const z = g.zeros(gy!.shape);
    return [
      needs[0] ? unbroadcast(g, g.where(pick, z, gy!), a.shape) : undefined,
      needs[1] ? unbroadcast(g, g.where(pick, gy!, z), b.shape) : undefined,
    ];
  },
  Min: (g, n, [gy], needs) => {
    const [a, b] = n.inputs;
    const pick = g.less(g.expand(b, n.outputs[0].shape), g.expand(a, n.outputs[0].shape)); // b wins
    const z = g.zeros(gy!.shape);
    return [
      needs[0] ? unbroadcast(g, g.where(pick, z, gy!), a.shape) : undefined,
      needs[1] ? unbroadcast(g, g.where(pick, gy!, z), b.shape) : undefined,
    ];
  },
  Where: (g, n, [gy], needs) => {
    const [cond, a, b] = n.inputs;
    const z = g.zeros(gy!.shape);
    return [
      undefined,
      needs[1] ? unbroadcast(g, g.where(cond, gy!, z), a.shape) : undefined,
      needs[2] ? unbroadcast(g, g.where(cond, z, gy!), b.shape) : undefined,
    ];
  },
  Neg: (g, _n, [gy]) => [g.neg(gy!)],
  Sqrt: (g, n, [gy]) => [g.div(gy!, g.mul(c(g, 2), n.outputs[0]))],
  Exp: (g, n, [gy]) => [g.mul(gy!, n.outputs[0])],
  Log: (g, n, [gy]) => [g.div(gy!, n.inputs[0])],
  Tanh: (g, n, [gy]) => {
    const y = n.outputs[0];
    return [g.mul(gy!, g.sub(c(g, 1), g.mul(y, y)))];
  },
  Erf: (g, n, [gy]) => {
    const x = n.inputs[0];
    return [g.mul(gy!, g.mul(c(g, 2 / Math.sqrt(Math.PI)), g.exp(g.neg(g.mul(x, x)))))];
  },
  Relu: (g, n, [gy]) => [g.where(g.greater(n.inputs[0], c(g, 0)), gy!, g.zeros(gy!.shape))],
  Abs: (g, n, [gy]) => [g.mul(gy!, g.sign(n.inputs[0]))],
  Sign: () => [undefined],
  Clip: (g, n, [gy]) => {
    const x = n.inputs[0];
    const inside = g.and(
      g.greater(x, c(g, n.attrs.min as number)),
      g.less(x, c(g, n.attrs.max as number)),
    );
    return [g.where(inside, gy!, g.zeros(gy!.shape))];
  },
  Gelu: (g, n, [gy]) => [g.mul(gy!, geluGrad(g, n.inputs[0], n.attrs.approximate as string))],
  Cast: (
    g,
    n,
    [gy],
  ) => (isFloat(n.inputs[0].dtype) ? [g.cast(gy!, n.inputs[0].dtype)] : [undefined]),
  MatMul: (g, n, [gy], needs) => matmulGrad(g, n.inputs[0], n.inputs[1], gy!, needs),
  Gemm: (g, n, [gy], needs) => {
    const [a, b, cc] = n.inputs;
    const { transA, transB, alpha, beta } = n.attrs as Record<string, number>;
    let ga: Value | undefined, gb: Value | undefined, gc: Value | undefined;
    // y = alpha op(a) op(b) + beta c
    if (needs[0]) {
      ga = transA
        ? g.gemm(b, gy!, { transA: !!transB, transB: true, alpha }) // (op(b) gy^T)... = [k, m]
        : g.gemm(gy!, b, { transB: !transB, alpha });
    }
    if (needs[1]) {
      gb = transB
        ? g.gemm(gy!, a, { transA: true, transB: !!transA, alpha })
        : g.gemm(a, gy!, { transA: !transA, alpha });
    }
    if (cc && needs[2]) gc = unbroadcast(g, beta === 1 ? gy! : g.mul(gy!, c(g, beta)), cc.shape);
    return [ga, gb, gc];
  },
  Softmax: (g, n, [gy]) => {
    const y = n.outputs[0], axis = n.attrs.axis as number;
    return [g.mul(y, g.sub(gy!, g.reduceSum(g.mul(gy!, y), [axis], true)))];
  },
  LogSoftmax: (g, n, [gy]) => {
    const y = n.outputs[0], axis = n.attrs.axis as number;
    return [g.sub(gy!, g.mul(g.exp(y), g.reduceSum(gy!, [axis], true)))];
  },
  ReduceSum: (g, n, [gy]) => [expandReduced(g, n, gy!)],
  ReduceMean: (g, n, [gy]) => {
    const x = n.inputs[0], axes = n.attrs.axes as number[];
    const count = axes.reduce((p, a) => p * x.shape[a], 1);
    return [g.mul(expandReduced(g, n, gy!), c(g, 1 / count))];
  },
  ReduceLogSumExp: (g, n, [gy]) => {
    // d/dx log(sum(exp(x))) = softmax(x) over the reduced axes.
    const x = n.inputs[0], y = expandReduced(g, n, n.outputs[0]);
    return [g.mul(expandReduced(g, n, gy!), g.exp(g.sub(x, y)))];
  },
  ReduceMax: (g, n, [gy]) => {
    const x = n.inputs[0];
    const kept = keptShape(n);
    const y = g.reshape(n.outputs[0], kept), gk = g.reshape(gy!, kept);
    const hit = g.cast(g.equal(x, y), "float32");
    // Ties share the gradient equally.
    const share = g.div(hit, g.reduceSum(hit, n.attrs.axes as number[], true));
    return [g.mul(share, gk)];
  },
  Gather: (g, n, [gy], needs) => {
    const [data, idx] = n.inputs;
    if (!needs[0]) return [undefined, undefined];
    if (n.attrs.axis !== 0) {
      throw new GraphBuildError("autodiff: Gather gradient only along axis 0");
    }
    const k = g.unsqueeze(idx.dtype === "int64" ? idx : g.cast(idx, "int64"), [idx.shape.length]);
    return [g.scatterND(g.zeros(data.shape), k, gy!, "add"), undefined];
  },
  GatherElements: (g, n, [gy], needs) => {
    const [data, idx] = n.inputs;
    if (!needs[0]) return [undefined, undefined];
    return [
      g.scatterElements(g.zeros(data.shape), idx, gy!, n.attrs.axis as number, "add"),
      undefined,
    ];
  },
  Slice: (g, n, [gy]) => {
    const x = n.inputs[0];
    const before = x.shape.map(() => 0), after = x.shape.map(() => 0);
    const { starts, ends, axes } = n.attrs as Record<string, number[]>;
    axes.forEach((a, i) => {
      before[a] = starts[i];
      after[a] = x.shape[a] - ends[i];
    });
    return [g.pad(gy!, before, after)];
  },
  Concat: (g, n, [gy], needs) => {
    const axis = n.attrs.axis as number;
    const parts = g.split(gy!, n.inputs.map((v) => v.shape[axis]), axis);
    return parts.map((p, i) => (needs[i] ? p : undefined));
  },
  Split: (g, n, gys) => {
    const axis = n.attrs.axis as number;
    return [g.concat(gys.map((gy, i) => gy ?? g.zeros(n.outputs[i].shape)), axis)];
  },
  Reshape: (g, n, [gy]) => [g.reshape(gy!, n.inputs[0].shape)],
  Transpose: (g, n, [gy]) => {
    const perm = n.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(gy!, inv)];
  },
  Unsqueeze: (g, n, [gy]) => [g.reshape(gy!, n.inputs[0].shape)],
  Squeeze: (g, n, [gy]) => [g.reshape(gy!, n.inputs[0].shape)],
  Expand: (g, n, [gy]) => [unbroadcast(g, gy!, n.inputs[0].shape)],
};

/** Operators with no gradient (their outputs are integers or booleans, or piecewise constant). */
const NON_DIFFERENTIABLE = new Set([
  "StopGradient",
  "Equal",
  "Less",
  "Greater",
  "And",
  "Not",
  "Shape",
  "TopK",
  "ScatterND",
  "ScatterElements",
  "Pad",
]);

function keptShape(n: Node): number[] {
  const axes = n.attrs.axes as number[];
  return n.inputs[0].shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function expandReduced(g: Graph, n: Node, gy: Value): Value {
  return g.expand(g.reshape(gy, keptShape(n)), n.inputs[0].shape);
}

/**
 * The names of the operators that have a VJP rule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DIFFERENTIABLE_OPS } from "./autodiff.ts";
 * DIFFERENTIABLE_OPS.includes("MatMul"); // true
 * assert.ok(DIFFERENTIABLE_OPS.includes("Gelu"));
 * assert.ok(!DIFFERENTIABLE_OPS.includes("TopK")); // no gradient flows through TopK
 * ```
 */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(rules);

/**
 * Appends to `g` the gradient of the scalar `loss` with respect to each value in `wrt` (a value
 * the loss does not depend on gets a zero gradient). Returns them in the order of `wrt`.
 * `seed` replaces the implicit 1 as the loss gradient (for a non-scalar "loss", a vector-Jacobian
 * product with that seed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "./builder.ts";
 * import { gradients } from "./autodiff.ts";
 * import { Runtime } from "./session.ts";
 * const g = new Graph();
 * const w = g.input("w", "float32", [3]);
 * const b = g.input("b", "float32", [3]);
 * const loss = g.reduceSum(g.mul(w, w)); // sum w^2, independent of b
 * const [dw, db] = gradients(g, loss, [w, b]);
 * g.output("dw", dw);
 * g.output("db", db);
 * const compiled = await new Runtime().compile(g);
 * const out = await compiled.run({
 *   w: { dtype: "float32", shape: [3], data: new Float32Array([1, 2, 3]) },
 *   b: { dtype: "float32", shape: [3], data: new Float32Array([7, 7, 7]) },
 * });
 * out.dw.data; // Float32Array [2, 4, 6]: 2 w
 * assert.deepEqual(out.dw.data, new Float32Array([2, 4, 6]));
 * assert.deepEqual(out.db.data, new Float32Array([0, 0, 0]));
 * ```
 */
export function gradients(g: Graph, loss: Value, wrt: readonly Value[], seed?: Value): Value[] {
  if (!seed && loss.shape.length !== 0 && loss.shape.some((d) => d !== 1)) {
    throw new GraphBuildError(
      `autodiff: loss must be a scalar, got shape ${shapeStr(loss.shape)} (pass a seed)`,
    );
  }
  const nodes = g.nodes.slice(); // snapshot: rules append nodes as they go
  // 1. Forward reachability from wrt, then backward reachability from the loss.
  const fromWrt = new Set(wrt.map((v) => v.id));
  for (const n of nodes) {
    if (n.inputs.some((v) => fromWrt.has(v.id))) { for (const o of n.outputs) fromWrt.add(o.id); }
  }
  const toLoss = new Set([loss.id]);
  const active: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n.outputs.some((o) => toLoss.has(o.id)) && n.inputs.some((v) => fromWrt.has(v.id))) {
      active.push(n);
      for (const v of n.inputs) toLoss.add(v.id);
    }
  }
  // 2. Seed and walk in reverse topological order.
  const grads = new Map<number, Value>();
  grads.set(loss.id, seed ?? g.expand(g.scalar(1), loss.shape));
  const accumulate = (v: Value, gv: Value) => {
    const prev = grads.get(v.id);
    grads.set(v.id, prev ? g.add(prev, gv) : gv);
  };
  for (const n of active) {
    const gys = n.outputs.map((o) => grads.get(o.id));
    if (gys.every((x) => x === undefined)) continue;
    if (NON_DIFFERENTIABLE.has(n.op)) continue;
    const rule = rules[n.op];
    if (!rule) throw new GraphBuildError(`autodiff: no gradient rule for ${n.op}`);
    const needs = n.inputs.map((v) => fromWrt.has(v.id) && toLoss.has(v.id) && isFloat(v.dtype));
    // A rule that needs every output's gradient gets zeros for the missing ones.
    const filled = n.op === "Split" ? gys : gys.map((x, i) => x ?? g.zeros(n.outputs[i].shape));
    const gxs = rule(g, n, filled, needs);
    n.inputs.forEach((v, i) => {
      const gx = gxs[i];
      if (gx && needs[i]) accumulate(v, gx);
    });
  }
  // 3. Collect (zeros where no gradient flows).
  return wrt.map((v) => grads.get(v.id) ?? g.zeros(v.shape));
}

/**
 * Finite-difference checks of every VJP rule. For each operator, loss = sum(op(x) * R) with a
 * fixed random R; the gradient's directional derivative along random directions d must equal
 * (loss(x + eps d) - loss(x - eps d)) / (2 eps), computed by onnxruntime in float32 with
 * eps = 1e-2 (central differences: truncation error O(eps^2)). Tolerance: 2e-3 relative to the
 * larger of |derivative| and 0.1 (float32 loss rounding divided by eps dominates).
 */
import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/builder.ts";
import { DIFFERENTIABLE_OPS, gradients } from "../../lib/graph/autodiff.ts";
import type { Value } from "../../lib/graph/ir.ts";
import { Runtime } from "../../lib/graph/session.ts";
import { randn, Rng } from "../../lib/tensor/random.ts";
import { type Tensor, tensor } from "../../lib/tensor/tensor.ts";

const rt = new Runtime();
const covered = new Set<string>();

type F32 = Tensor<"float32">;
const f32 = (data: Float32Array, shape: readonly number[]): F32 => ({
  dtype: "float32",
  shape: [...shape],
  data,
});

/** Checks the gradients of `build` w.r.t. its float inputs by directional finite differences. */
async function checkGrad(
  name: string,
  inputs: Record<string, Tensor>,
  build: (g: Graph, v: Record<string, Value>) => Value,
  { eps = 1e-2, tol = 2e-3, seed = 1 } = {},
) {
  const rng = new Rng(seed);
  const g = new Graph();
  const vals: Record<string, Value> = {};
  for (const [k, t] of Object.entries(inputs)) vals[k] = g.input(k, t.dtype as "float32", t.shape);
  const out = build(g, vals);
  for (const n of g.nodes) covered.add(n.op);
  const R = randn(out.shape, rng);
  const loss = g.reduceSum(g.mul(out, g.constant(R.data, R.shape)));
  const floatNames = Object.keys(inputs).filter((k) => inputs[k].dtype === "float32");
  const grads = gradients(g, loss, floatNames.map((k) => vals[k]));
  g.output("loss", loss);
  floatNames.forEach((k, i) => g.output(`grad:${k}`, grads[i]));
  const c = await rt.compile(g);
  const res = await c.run(inputs);
  for (let trial = 0; trial < 3; trial++) {
    const dirs: Record<string, F32> = {};
    let analytic = 0;
    for (const k of floatNames) {
      const d = randn(inputs[k].shape, rng);
      dirs[k] = d;
      const gk = res[`grad:${k}`].data as Float32Array;
      for (let i = 0; i < d.data.length; i++) analytic += gk[i] * d.data[i];
    }
    const shifted = async (s: number) => {
      const feeds: Record<string, Tensor> = { ...inputs };
      for (const k of floatNames) {
        const x = inputs[k].data as Float32Array, d = dirs[k].data;
        feeds[k] = f32(x.map((v, i) => v + s * eps * d[i]), inputs[k].shape);
      }
      return (await c.run(feeds, ["loss"])).loss.data[0] as number;
    };
    const numeric = (await shifted(1) - await shifted(-1)) / (2 * eps);
    const err = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 0.1);
    assert.ok(
      err < tol,
      `${name}: directional derivative ${analytic} vs finite difference ${numeric} (rel err ${err})`,
    );
  }
}

const rng = new Rng(3);
const A = randn([3, 4], rng),
  B = randn([4], rng),
  P = f32(randn([3, 4], rng).data.map((x) => Math.abs(x) + 0.5), [3, 4]);
// Inputs at least 0.05 away from the kinks at 0, -0.5 and 0.7 (finite differences step 1e-2 * |d|).
const away = (t: F32) =>
  f32(
    t.data.map((x) =>
      [0, -0.45, 0.65].reduce(
        (v, k) => (Math.abs(v - k) < 0.05 ? k + 0.05 * Math.sign(v - k || 1) : v),
        x,
      )
    ),
    t.shape,
  );

Deno.test("VJP: elementwise binary ops with broadcasting", async () => {
  await checkGrad("Add", { a: A, b: B }, (g, v) => g.add(v.a, v.b));
  await checkGrad("Sub", { a: A, b: B }, (g, v) => g.sub(v.a, v.b));
  await checkGrad("Mul", { a: A, b: B }, (g, v) => g.mul(v.a, v.b));
  await checkGrad("Div", { a: A, b: P }, (g, v) => g.div(v.a, v.b));
  await checkGrad("Pow", { a: P, b: B }, (g, v) => g.pow(v.a, v.b));
  await checkGrad("Max", { a: A, b: B }, (g, v) => g.max(v.a, v.b));
  await checkGrad("Min", { a: A, b: B }, (g, v) => g.min(v.a, v.b));
  await checkGrad(
    "Where",
    { a: A, b: B },
    (g, v) => g.where(g.greater(v.a, g.scalar(0)), v.a, v.b),
  );
});

Deno.test("VJP: unary ops", async () => {
  const unary: [string, F32, (g: Graph, x: Value) => Value][] = [
    ["Neg", A, (g, x) => g.neg(x)],
    ["Sqrt", P, (g, x) => g.sqrt(x)],
    ["Exp", A, (g, x) => g.exp(x)],
    ["Log", P, (g, x) => g.log(x)],
    ["Tanh", A, (g, x) => g.tanh(x)],
    ["Erf", A, (g, x) => g.erf(x)],
    ["Relu", away(A), (g, x) => g.relu(x)],
    ["Abs", away(A), (g, x) => g.abs(x)],
    ["Identity", A, (g, x) => g.identity(x)],
    ["Clip", away(A), (g, x) => g.clip(x, -0.45, 0.65)],
    ["Gelu tanh", A, (g, x) => g.gelu(x, "tanh")],
    ["Gelu erf", A, (g, x) => g.gelu(x, "none")],
    ["Cast", A, (g, x) => g.cast(g.cast(x, "float32"), "float32")],
    ["Sign", away(A), (g, x) => g.add(g.mul(g.sign(x), x), x)],
  ];
  for (const [name, x, f] of unary) await checkGrad(name, { x }, (g, v) => f(g, v.x));
});

Deno.test("VJP: MatMul (batched, broadcast, 3-D x 2-D) and Gemm with every transpose", async () => {
  const r = new Rng(5);
  await checkGrad(
    "MatMul 2D",
    { a: randn([3, 4], r), b: randn([4, 2], r) },
    (g, v) => g.matmul(v.a, v.b),
  );
  await checkGrad(
    "MatMul 3Dx2D",
    { a: randn([2, 3, 4], r), b: randn([4, 5], r) },
    (g, v) => g.matmul(v.a, v.b),
  );
  await checkGrad(
    "MatMul broadcast",
    { a: randn([2, 1, 3, 4], r), b: randn([5, 4, 2], r) },
    (g, v) => g.matmul(v.a, v.b),
  );
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const a = randn(transA ? [4, 3] : [3, 4], r),
        b = randn(transB ? [2, 4] : [4, 2], r),
        cc = randn([2], r);
      await checkGrad(
        `Gemm ${transA} ${transB}`,
        { a, b, cc },
        (g, v) => g.gemm(v.a, v.b, { transA, transB, alpha: 1.5, beta: 0.5, c: v.cc }),
      );
    }
  }
});

Deno.test("VJP: softmax, log-softmax and reductions", async () => {
  const r = new Rng(6);
  const x = randn([2, 3, 4], r);
  await checkGrad("Softmax", { x }, (g, v) => g.softmax(v.x, 1));
  await checkGrad("LogSoftmax", { x }, (g, v) => g.logSoftmax(v.x, -1));
  await checkGrad("ReduceSum", { x }, (g, v) => g.reduceSum(v.x, [0, 2], false));
  await checkGrad("ReduceMean", { x }, (g, v) => g.reduceMean(v.x, [1], true));
  await checkGrad("ReduceMax", { x }, (g, v) => g.reduceMax(v.x, [2], false));
  await checkGrad("ReduceLogSumExp", { x }, (g, v) => g.reduceLogSumExp(v.x, [0, 2], true));
});

Deno.test("VJP: indexing and shape ops", async () => {
  const r = new Rng(7);
  const x = randn([5, 3], r);
  const idx = tensor(Int32Array.from([4, 0, 4, 2]), [2, 2]); // repeated index: gradients add
  const idx2 = tensor(BigInt64Array.from([2n, 0n, 1n, 1n, 0n, 2n, 2n, 2n, 1n, 0n]), [5, 2]);
  await checkGrad("Gather", { x, idx }, (g, v) => g.gather(v.x, v.idx, 0));
  await checkGrad("GatherElements", { x, idx2 }, (g, v) => g.gatherElements(v.x, v.idx2, 1));
  await checkGrad("Slice", { x }, (g, v) => g.slice(v.x, [1, 1], [4, 3], [0, 1]));
  await checkGrad("Concat", { x, y: randn([5, 2], r) }, (g, v) => g.concat([v.x, v.y], 1));
  await checkGrad("Split", { x }, (g, v) => g.mul(g.split(v.x, [2, 3], 0)[1], g.scalar(3)));
  await checkGrad("Reshape", { x }, (g, v) => g.reshape(v.x, [3, 5]));
  await checkGrad("Transpose", { x: randn([2, 3, 4], r) }, (g, v) => g.transpose(v.x, [2, 0, 1]));
  await checkGrad("Unsqueeze/Squeeze", { x }, (g, v) => g.squeeze(g.unsqueeze(v.x, [0, 2]), [0]));
  await checkGrad("Expand", { x: randn([3, 1], r) }, (g, v) => g.expand(v.x, [2, 3, 4]));
});

Deno.test("VJP: a value used twice accumulates both gradients", async () => {
  await checkGrad("reuse", { x: A }, (g, v) => g.mul(g.tanh(v.x), g.exp(v.x)));
});

Deno.test("every differentiable operator has been checked above", () => {
  const missing = DIFFERENTIABLE_OPS.filter((op) => !covered.has(op));
  assert.deepEqual(missing, []);
});

/**
 * Every builder operator, run by onnxruntime, against a direct TypeScript computation of the
 * same thing on small random inputs. Tolerance: 1e-6 relative (float32 rounding only).
 */
import assert from "node:assert/strict";
import { Graph, GraphBuildError } from "../../lib/graph/builder.ts";
import { Runtime } from "../../lib/graph/session.ts";
import type { Value } from "../../lib/graph/ir.ts";
import { randn, Rng } from "../../lib/tensor/random.ts";
import { type Tensor, tensor } from "../../lib/tensor/tensor.ts";
import { relativeError } from "../../lib/tensor/ops.ts";

const rt = new Runtime();
const rng = new Rng(7);

/** Runs a one-output graph built from named inputs. */
async function run1(
  inputs: Record<string, Tensor>,
  build: (g: Graph, v: Record<string, Value>) => Value | Value[],
) {
  const g = new Graph();
  const vals: Record<string, Value> = {};
  for (const [k, t] of Object.entries(inputs)) vals[k] = g.input(k, t.dtype as "float32", t.shape);
  const out = build(g, vals);
  (Array.isArray(out) ? out : [out]).forEach((o, i) => g.output(`y${i}`, o));
  const res = await (await rt.compile(g)).run(inputs);
  return Array.isArray(out) ? out.map((_, i) => res[`y${i}`]) : [res.y0];
}

function close(actual: Tensor, shape: number[], expected: ArrayLike<number>, tol = 1e-6) {
  assert.deepEqual(actual.shape, shape);
  const err = relativeError(Array.from(actual.data as Float32Array, Number), Array.from(expected));
  assert.ok(err <= tol, `relative error ${err} > ${tol}`);
}

const a = randn([2, 3], rng),
  b = randn([3], rng),
  pos = tensor(Float32Array.from(randn([2, 3], rng).data, (x) => Math.abs(x) + 0.1), [2, 3]);

Deno.test("elementwise binary ops broadcast like numpy", async () => {
  const ops: [string, (x: number, y: number) => number][] = [
    ["add", (x, y) => x + y],
    ["sub", (x, y) => x - y],
    ["mul", (x, y) => x * y],
    ["div", (x, y) => x / y],
    ["max", Math.max],
    ["min", Math.min],
  ];
  for (const [op, f] of ops) {
    const [y] = await run1(
      { a, b },
      (g, v) => (g as unknown as Record<string, (p: Value, q: Value) => Value>)[op](v.a, v.b),
    );
    close(
      y,
      [2, 3],
      Array.from({ length: 6 }, (_, i) => f(a.data[i] as number, b.data[i % 3] as number)),
    );
  }
  const [p] = await run1({ pos, b }, (g, v) => g.pow(v.pos, v.b));
  close(
    p,
    [2, 3],
    Array.from({ length: 6 }, (_, i) => Math.pow(pos.data[i] as number, b.data[i % 3] as number)),
    1e-5,
  );
});

Deno.test("comparisons and Where", async () => {
  const [eq, lt, gt, w] = await run1({ a, b }, (g, v) => [
    g.equal(v.a, v.a),
    g.less(v.a, v.b),
    g.greater(v.a, v.b),
    g.where(g.less(v.a, v.b), v.a, v.b),
  ]);
  assert.deepEqual(Array.from(eq.data as Uint8Array), [1, 1, 1, 1, 1, 1]);
  const x = Array.from(a.data as Float32Array), y = Array.from(b.data as Float32Array);
  assert.deepEqual(Array.from(lt.data as Uint8Array), x.map((v, i) => (v < y[i % 3] ? 1 : 0)));
  assert.deepEqual(Array.from(gt.data as Uint8Array), x.map((v, i) => (v > y[i % 3] ? 1 : 0)));
  close(w, [2, 3], x.map((v, i) => (v < y[i % 3] ? v : y[i % 3])));
});

Deno.test("unary ops", async () => {
  const erf = (x: number) => {
    // Abramowitz-Stegun 7.1.26 is too coarse; integrate the series instead (|x| < 3 here).
    let s = 0, term = x;
    for (let n = 0; n < 60; n++) {
      s += term / (2 * n + 1);
      term *= -x * x / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * s;
  };
  const geluTanh = (x: number) =>
    0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const cases: [keyof Graph, Tensor, (x: number) => number][] = [
    ["neg", a, (x) => -x],
    ["sqrt", pos, Math.sqrt],
    ["exp", a, Math.exp],
    ["log", pos, Math.log],
    ["tanh", a, Math.tanh],
    ["erf", a, erf],
    ["relu", a, (x) => Math.max(x, 0)],
    ["abs", a, Math.abs],
    ["sign", a, Math.sign],
    ["identity", a, (x) => x],
    ["gelu", a, geluTanh],
  ];
  for (const [op, t, f] of cases) {
    const [y] = await run1({ t }, (g, v) => (g[op] as (x: Value) => Value).call(g, v.t));
    close(y, [...t.shape], Array.from(t.data as Float32Array, f), 2e-6);
  }
  const [c] = await run1({ a }, (g, v) => g.clip(v.a, -0.5, 0.5));
  close(c, [2, 3], Array.from(a.data as Float32Array, (x) => Math.min(0.5, Math.max(-0.5, x))));
  const [gErf] = await run1({ a }, (g, v) => g.gelu(v.a, "none"));
  close(
    gErf,
    [2, 3],
    Array.from(a.data as Float32Array, (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))),
    2e-6,
  );
});

Deno.test("matmul with batch broadcasting, and gemm with transposes", async () => {
  const x = randn([2, 1, 3, 4], rng), w = randn([5, 4, 2], rng);
  const [y] = await run1({ x, w }, (g, v) => g.matmul(v.x, v.w));
  const exp: number[] = [];
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 5; j++) {
      for (let m = 0; m < 3; m++) {
        for (let n = 0; n < 2; n++) {
          let s = 0;
          for (let k = 0; k < 4; k++) {
            s += (x.data[i * 12 + m * 4 + k] as number) * (w.data[j * 8 + k * 2 + n] as number);
          }
          exp.push(s);
        }
      }
    }
  }
  close(y, [2, 5, 3, 2], exp);
  const A = randn([4, 3], rng), B = randn([2, 4], rng), C = randn([2], rng);
  const [z] = await run1(
    { A, B, C },
    (g, v) => g.gemm(v.A, v.B, { transA: true, transB: true, alpha: 2, beta: 0.5, c: v.C }),
  );
  const ez: number[] = [];
  for (let m = 0; m < 3; m++) {
    for (let n = 0; n < 2; n++) {
      let s = 0;
      for (let k = 0; k < 4; k++) {
        s += (A.data[k * 3 + m] as number) * (B.data[n * 4 + k] as number);
      }
      ez.push(2 * s + 0.5 * (C.data[n] as number));
    }
  }
  close(z, [3, 2], ez);
  assert.throws(
    () =>
      new Graph().matmul(
        new Graph().input("p", "float32", [2, 3]),
        new Graph().input("q", "float32", [4, 2]),
      ),
    GraphBuildError,
  );
});

Deno.test("softmax, log-softmax and reductions", async () => {
  const x = randn([2, 3, 4], rng);
  const [sm, lsm, rs, rm, rx, all] = await run1({ x }, (g, v) => [
    g.softmax(v.x, -1),
    g.logSoftmax(v.x, 1),
    g.reduceSum(v.x, [0, 2], true),
    g.reduceMean(v.x, [-1]),
    g.reduceMax(v.x, [1]),
    g.reduceSum(v.x),
  ]);
  const X = (i: number, j: number, k: number) => x.data[i * 12 + j * 4 + k] as number;
  const esm: number[] = [], elsm: number[] = new Array(24);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      const row = [0, 1, 2, 3].map((k) => Math.exp(X(i, j, k)));
      const s = row.reduce((p, q) => p + q);
      esm.push(...row.map((r) => r / s));
    }
    for (let k = 0; k < 4; k++) {
      const lse = Math.log([0, 1, 2].reduce((p, j) => p + Math.exp(X(i, j, k)), 0));
      for (let j = 0; j < 3; j++) elsm[i * 12 + j * 4 + k] = X(i, j, k) - lse;
    }
  }
  close(sm, [2, 3, 4], esm);
  close(lsm, [2, 3, 4], elsm);
  close(
    rs,
    [1, 3, 1],
    [0, 1, 2].map((j) =>
      [0, 1].reduce((p, i) => p + [0, 1, 2, 3].reduce((q, k) => q + X(i, j, k), 0), 0)
    ),
  );
  close(
    rm,
    [2, 3],
    [0, 1].flatMap((i) =>
      [0, 1, 2].map((j) => [0, 1, 2, 3].reduce((q, k) => q + X(i, j, k), 0) / 4)
    ),
  );
  close(
    rx,
    [2, 4],
    [0, 1].flatMap((i) => [0, 1, 2, 3].map((k) => Math.max(...[0, 1, 2].map((j) => X(i, j, k))))),
  );
  close(all, [], [Array.from(x.data as Float32Array).reduce((p, q) => p + q)], 1e-5);
});

Deno.test("reduceLogSumExp is log(sum(exp)), stable for large inputs", async () => {
  const x = randn([2, 3, 4], rng);
  const big = tensor(Float32Array.from([1000, 999, -1000, 0]), [1, 4]);
  const [lse, lseKeep, lseBig] = await run1({ x, big }, (g, v) => [
    g.reduceLogSumExp(v.x, [-1]),
    g.reduceLogSumExp(v.x, [0, 1], true),
    g.reduceLogSumExp(v.big, [1]),
  ]);
  const X = (i: number, j: number, k: number) => x.data[i * 12 + j * 4 + k] as number;
  const lse4 = (i: number, j: number) =>
    Math.log([0, 1, 2, 3].reduce((p, k) => p + Math.exp(X(i, j, k)), 0));
  close(lse, [2, 3], [0, 1].flatMap((i) => [0, 1, 2].map((j) => lse4(i, j))));
  const lse6 = (k: number) =>
    Math.log(
      [0, 1].reduce((p, i) => p + [0, 1, 2].reduce((q, j) => q + Math.exp(X(i, j, k)), 0), 0),
    );
  close(lseKeep, [1, 1, 4], [0, 1, 2, 3].map(lse6));
  close(lseBig, [1], [1000 + Math.log(1 + Math.exp(-1))], 1e-4);
});

Deno.test("indexing: gather, gatherElements, scatterND add, slice, concat, split", async () => {
  const x = randn([4, 3], rng);
  const idx = tensor(Int32Array.from([3, 0, 3]), [3]);
  const idx2 = tensor(Int32Array.from([2, 0, 1, 1, 0, 2, 2, 2]), [4, 2]);
  const [ga, ge, sl, cc, s0, s1] = await run1({ x, idx, idx2 }, (g, v) => [
    g.gather(v.x, v.idx, 0),
    g.gatherElements(v.x, v.idx2, 1),
    g.slice(v.x, [1, -2], [3, 100], [0, 1]),
    g.concat([v.x, v.x], 1),
    ...g.split(v.x, [1, 2], 1),
  ]);
  const X = Array.from(x.data as Float32Array);
  close(ga, [3, 3], [...X.slice(9, 12), ...X.slice(0, 3), ...X.slice(9, 12)]);
  close(ge, [4, 2], Array.from(idx2.data as Int32Array, (c, i) => X[Math.floor(i / 2) * 3 + c]));
  close(sl, [2, 2], [X[4], X[5], X[7], X[8]]);
  close(
    cc,
    [4, 6],
    [0, 1, 2, 3].flatMap((r) => [...X.slice(r * 3, r * 3 + 3), ...X.slice(r * 3, r * 3 + 3)]),
  );
  close(s0, [4, 1], [0, 1, 2, 3].map((r) => X[r * 3]));
  close(s1, [4, 2], [0, 1, 2, 3].flatMap((r) => X.slice(r * 3 + 1, r * 3 + 3)));
  const upd = randn([3, 3], rng);
  const where = tensor(Int32Array.from([1, 1, 2]), [3, 1]);
  const [sc] = await run1(
    { x, where, upd },
    (g, v) => g.scatterND(v.x, g.cast(v.where, "int64"), v.upd, "add"),
  );
  const U = Array.from(upd.data as Float32Array);
  const es = X.slice();
  [1, 1, 2].forEach((r, i) => [0, 1, 2].forEach((c) => (es[r * 3 + c] += U[i * 3 + c])));
  close(sc, [4, 3], es);
});

Deno.test("shape ops: reshape, transpose, unsqueeze, squeeze, expand, shape, cast, topk", async () => {
  const x = randn([2, 3, 4], rng);
  const X = Array.from(x.data as Float32Array);
  const [rs, tr, us, sq, ex, sh, ca, tv, ti] = await run1({ x }, (g, v) => [
    g.reshape(v.x, [3, -1]),
    g.transpose(v.x, [2, 0, 1]),
    g.unsqueeze(v.x, [0, -1]),
    g.squeeze(g.unsqueeze(v.x, [1]), [1]),
    g.expand(g.slice(v.x, [0], [1], [0]), [3, 3, 4]),
    g.shapeOf(v.x),
    g.cast(v.x, "int32"),
    ...g.topk(v.x, 2, -1, true),
  ]);
  close(rs, [3, 8], X);
  const et: number[] = [];
  for (let k = 0; k < 4; k++) {
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) et.push(X[i * 12 + j * 4 + k]);
  }
  close(tr, [4, 2, 3], et);
  close(us, [1, 2, 3, 4, 1], X);
  close(sq, [2, 3, 4], X);
  close(ex, [3, 3, 4], [...X.slice(0, 12), ...X.slice(0, 12), ...X.slice(0, 12)]);
  assert.deepEqual(Array.from(sh.data as BigInt64Array), [2n, 3n, 4n]);
  assert.deepEqual(Array.from(ca.data as Int32Array), X.map((v) => Math.trunc(v) + 0));
  const ev: number[] = [], ei: number[] = [];
  for (let r = 0; r < 6; r++) {
    const row = X.slice(r * 4, r * 4 + 4).map((v, i) => [v, i]).sort((p, q) => q[0] - p[0]);
    ev.push(row[0][0], row[1][0]);
    ei.push(row[0][1], row[1][1]);
  }
  close(tv, [2, 3, 2], ev);
  assert.deepEqual(Array.from(ti.data as BigInt64Array, Number), ei);
});

Deno.test("causal mask keeps keys at or before each query", async () => {
  const g = new Graph();
  g.output("m", g.causalMask(2, 3));
  const { m } = await (await rt.compile(g)).run({});
  assert.deepEqual(Array.from(m.data as Uint8Array), [1, 1, 0, 1, 1, 1]);
});

Deno.test("the builder rejects bad shapes and axes at build time, naming the operator", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2, 3]);
  assert.throws(
    () => g.add(x, g.input("y", "float32", [4])),
    /Add: shapes \[2, 3\] and \[4\] do not broadcast/,
  );
  assert.throws(() => g.reshape(x, [4, 2]), /Reshape: cannot reshape \[2, 3\] to \[4, 2\]/);
  assert.throws(() => g.softmax(x, 2), /Softmax: axis 2 out of range for rank 2/);
  assert.throws(() => g.squeeze(x, [0]), /Squeeze: axis 0 of \[2, 3\] is not 1/);
  assert.throws(() => g.transpose(x, [0, 0]), /Transpose: invalid permutation/);
  assert.throws(() => g.concat([x, g.input("z", "float32", [3, 3])], 1), /Concat: shapes/);
  assert.throws(() => g.input("x", "float32", [1]), /duplicate graph input "x"/);
  assert.throws(
    () => g.sqrt(g.input("i", "int32", [1])),
    /Sqrt: expects a float tensor, got int32/,
  );
  assert.throws(() => g.topk(x, 4), /TopK: k 4 out of range/);
});

Deno.test("a compiled graph checks its feeds", async () => {
  const g = new Graph();
  g.output("y", g.relu(g.input("x", "float32", [2])));
  const c = await rt.compile(g);
  await assert.rejects(c.run({}), /missing graph input "x" \[2\]/);
  await assert.rejects(
    c.run({ x: tensor(new Float32Array(3), [3]) }),
    /graph input "x" is float32 \[3\], expected float32 \[2\]/,
  );
});

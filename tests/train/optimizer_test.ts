/**
 * The optimiser as graph operations (lib/train/optimizer.ts), run by onnxruntime: two steps of
 * `adamUpdate` (with the step scalars of `adamScalars`, two learning rates, bias correction)
 * against a float64 host implementation of torch's `Adam` and `AdamW` single-tensor update, for
 * plain Adam, AdamW, AdamW on a parameter exempt from decay, and non-default betas and eps:
 * new parameters, first and second moments to 1e-6 relative per element (|a - e| <= 1e-6 |e|
 * plus 1e-12 absolute for exact zeros), and the parameter change itself to 1e-4 relative (plus
 * the float32 rounding of the new parameter, 2^-23 of its size).
 * `clipGradNorm`: the norm to 1e-6 relative; gradients below the maximum pass exactly unchanged,
 * above it they are scaled by torch's `max / (norm + 1e-6)` (to 1e-6); zero gradients stay zero.
 * `Trainer.step` feeds the schedule's rate with 1-based bias correction (same reference), and a
 * NaN parameter gives NonFiniteLossError without advancing the state.
 */
import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/builder.ts";
import { Runtime } from "../../lib/graph/session.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import {
  type AdamConfig,
  adamScalars,
  adamUpdate,
  clipGradNorm,
  declareAdamScalars,
  OPT_INPUTS,
} from "../../lib/train/optimizer.ts";
import { initialState, NonFiniteLossError, Trainer } from "../../lib/train/trainer.ts";

const runtime = new Runtime({ threads: 1 });

function f32(data: ArrayLike<number>, shape: number[] = [data.length]): Tensor<"float32"> {
  return { dtype: "float32", shape, data: Float32Array.from(data) };
}

function scalarFeeds(s: Record<string, number>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, x] of Object.entries(s)) out[k] = f32([x], []);
  return out;
}

/** torch.optim.Adam / AdamW (single-tensor, non-fused) in float64; `t` is 1-based. */
function torchAdamStep(
  cfg: AdamConfig,
  lr: number,
  t: number,
  decay: boolean,
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
): void {
  const b1 = cfg.beta1 ?? 0.9, b2 = cfg.beta2 ?? 0.999, eps = cfg.eps ?? 1e-8;
  const wd = decay ? cfg.weightDecay ?? 0 : 0;
  const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
  const stepSize = lr / bc1, bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd; // AdamW: decoupled decay before the update
    m[i] = m[i] + (g[i] - m[i]) * (1 - b1); // exp_avg.lerp_(grad, 1 - beta1)
    v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i];
    const denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
    p[i] -= stepSize * m[i] / denom;
  }
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  what: string,
  abs = 1e-12,
): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    assert.ok(
      Math.abs(a - e) <= rel * Math.abs(e) + abs,
      `${what}[${i}]: ${a} vs ${e} (relative error ${
        (Math.abs(a - e) / Math.abs(e)).toExponential(2)
      })`,
    );
  }
}

/** A graph of one Adam update of a [2, 4] parameter. */
async function compileUpdate(cfg: AdamConfig, decay: boolean) {
  const g = new Graph();
  const shape = [2, 4];
  const p = g.input("p", "float32", shape), grad = g.input("g", "float32", shape);
  const m = g.input("m", "float32", shape), v = g.input("v", "float32", shape);
  const up = adamUpdate(g, cfg, declareAdamScalars(g), p, grad, m, v, decay);
  g.output("p2", up.p);
  g.output("m2", up.m);
  g.output("v2", up.v);
  return await runtime.compile(g);
}

const P0 = [0.5, -1.25, 2, 0.03125, -0.75, 1.5, -2.5, 0.875];
const GRADS = [
  [0.1, -0.2, 3, 0, 1e-4, -5e-3, 0.7, -1.5],
  [-0.3, -0.1, 2.5, 0, 2e-4, 8e-3, -0.4, -1.2],
];
const LRS = [1e-2, 5e-3];

for (
  const [label, cfg, decay] of [
    ["Adam (no weight decay)", {}, true],
    ["AdamW (weight decay 0.1)", { weightDecay: 0.1 }, true],
    ["AdamW on a parameter exempt from decay", { weightDecay: 0.1 }, false],
    ["Adam with beta1 0.8, beta2 0.99, eps 1e-3, weight decay 0.5", {
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-3,
      weightDecay: 0.5,
    }, true],
  ] as [string, AdamConfig, boolean][]
) {
  Deno.test(`adamUpdate() matches torch's update over two steps: ${label}`, async () => {
    const compiled = await compileUpdate(cfg, decay);
    // Host reference from the float32 values the graph sees.
    const p = Float64Array.from(Float32Array.from(P0));
    const m = new Float64Array(8), v = new Float64Array(8);
    let fp = f32(P0, [2, 4]), fm = f32(new Float32Array(8), [2, 4]);
    let fv = f32(new Float32Array(8), [2, 4]);
    for (let t = 1; t <= 2; t++) {
      const grad = Float32Array.from(GRADS[t - 1]);
      const before = Float64Array.from(fp.data);
      const out = await compiled.run({
        p: fp,
        g: f32(grad, [2, 4]),
        m: fm,
        v: fv,
        ...scalarFeeds(adamScalars(cfg, LRS[t - 1], t)),
      });
      torchAdamStep(cfg, LRS[t - 1], t, decay, p, grad, m, v);
      fp = out.p2 as Tensor<"float32">;
      fm = out.m2 as Tensor<"float32">;
      fv = out.v2 as Tensor<"float32">;
      assert.deepEqual(fp.shape, [2, 4]);
      assertClose(fm.data, m, 1e-6, `step ${t} m`);
      assertClose(fv.data, v, 1e-6, `step ${t} v`);
      assertClose(fp.data, p, 1e-6, `step ${t} p`);
      // The change itself (not just the parameter, which is dominated by its old value).
      const delta = Array.from(fp.data, (x, i) => x - before[i]);
      const expectedDelta = Array.from(p, (x, i) => x - before[i]);
      for (let i = 0; i < 8; i++) {
        // 1e-4 relative, plus the float32 rounding of the new parameter (2^-23 |p|)
        assertClose(
          [delta[i]],
          [expectedDelta[i]],
          1e-4,
          `step ${t} (p - p_old)[${i}]`,
          1.2e-7 * Math.abs(before[i]) + 1e-12,
        );
      }
    }
  });
}

Deno.test("adamScalars() gives lr / (1 - beta1^t), sqrt(1 - beta2^t) and 1 - lr * weightDecay", () => {
  const s = adamScalars({ beta1: 0.8, beta2: 0.99, weightDecay: 0.1 }, 1e-2, 3);
  assert.deepEqual(Object.keys(s).sort(), Object.values(OPT_INPUTS).sort());
  assert.ok(Math.abs(s[OPT_INPUTS.stepSize] - 1e-2 / (1 - 0.512)) < 1e-15);
  assert.ok(Math.abs(s[OPT_INPUTS.biasCorrection2] - Math.sqrt(1 - 0.970299)) < 1e-15);
  assert.ok(Math.abs(s[OPT_INPUTS.decay] - 0.999) < 1e-15);
  // torch defaults, no decay
  const d = adamScalars({}, 1e-3, 1);
  assert.ok(Math.abs(d[OPT_INPUTS.stepSize] - 1e-3 / 0.1) < 1e-15);
  assert.ok(Math.abs(d[OPT_INPUTS.biasCorrection2] - Math.sqrt(0.001)) < 1e-15);
  assert.equal(d[OPT_INPUTS.decay], 1);
});

/** Compiles clipGradNorm over a [3] and a [2, 2] gradient. */
async function compileClip(maxNorm: number) {
  const g = new Graph();
  const a = g.input("a", "float32", [3]), b = g.input("b", "float32", [2, 2]);
  const { grads, norm } = clipGradNorm(g, [a, b], maxNorm);
  g.output("a2", grads[0]);
  g.output("b2", grads[1]);
  g.output("norm", norm);
  return await runtime.compile(g);
}

const A = [3, -4, 1], B = [2, 0, -1, 5]; // norm sqrt(9 + 16 + 1 + 4 + 1 + 25) = sqrt(56)
const NORM = Math.sqrt(56);

Deno.test("clipGradNorm() scales the gradients by max / (norm + 1e-6) when the norm exceeds max", async () => {
  const compiled = await compileClip(2);
  const out = await compiled.run({ a: f32(A), b: f32(B, [2, 2]) });
  assertClose(out.norm.data as Float32Array, [NORM], 1e-6, "norm");
  const factor = 2 / (NORM + 1e-6);
  assertClose(out.a2.data as Float32Array, A.map((x) => x * factor), 1e-6, "a");
  assertClose(out.b2.data as Float32Array, B.map((x) => x * factor), 1e-6, "b");
  assert.deepEqual(out.b2.shape, [2, 2]);
  const clipped = Math.hypot(...(out.a2.data as Float32Array), ...(out.b2.data as Float32Array));
  assertClose([clipped], [2], 1e-6, "norm after clipping");
});

Deno.test("clipGradNorm() leaves the gradients exactly unchanged when the norm is below max", async () => {
  for (const maxNorm of [8, 1e30, Infinity]) {
    const compiled = await compileClip(maxNorm);
    const out = await compiled.run({ a: f32(A), b: f32(B, [2, 2]) });
    assertClose(out.norm.data as Float32Array, [NORM], 1e-6, `norm (max ${maxNorm})`);
    assert.deepEqual(out.a2.data, Float32Array.from(A), `a (max ${maxNorm})`);
    assert.deepEqual(out.b2.data, Float32Array.from(B), `b (max ${maxNorm})`);
  }
});

Deno.test("clipGradNorm() of all-zero gradients gives zeros and norm 0, not NaN", async () => {
  const compiled = await compileClip(1);
  const out = await compiled.run({ a: f32([0, 0, 0]), b: f32([0, 0, 0, 0], [2, 2]) });
  assert.deepEqual(out.norm.data, Float32Array.of(0));
  assert.deepEqual(out.a2.data, new Float32Array(3));
  assert.deepEqual(out.b2.data, new Float32Array(4));
});

/** loss = sum(w * x) + 0.5 sum(b^2): gradient x for w (a matrix) and b for b (a vector). */
const X = [0.3, -1.2, 0.8, 2.0, -0.5, 0.1];
const quadraticSpec = (adam: AdamConfig) => ({
  params: new Map([["w", [2, 3]], ["b", [2]]]),
  adam,
  noDecay: (name: string) => name === "b",
  forward(g: Graph, p: ReadonlyMap<string, ReturnType<Graph["input"]>>) {
    const x = g.input("x", "float32", [2, 3]);
    const b = p.get("b")!;
    const loss = g.add(
      g.reduceSum(g.mul(p.get("w")!, x)),
      g.mul(g.scalar(0.5), g.reduceSum(g.mul(b, b))),
    );
    return { loss };
  },
});

Deno.test("Trainer.step() applies AdamW with the schedule's rate, 1-based bias correction and clipping", async () => {
  const adam: AdamConfig = { weightDecay: 0.1, maxGradNorm: 1 };
  const W0 = [0.2, -0.4, 0.6, -0.8, 1.0, -1.2], B0 = [0.5, -2];
  const trainer = await Trainer.create(
    runtime,
    quadraticSpec(adam),
    initialState(new Map([["w", f32(W0, [2, 3])], ["b", f32(B0)]])),
    { name: "constantwithwarmup", lr: 0.1, warmupSteps: 2, totalSteps: 10 },
  );
  const w = Float64Array.from(Float32Array.from(W0)), b = Float64Array.from(Float32Array.from(B0));
  const mw = new Float64Array(6), vw = new Float64Array(6), mb = new Float64Array(2);
  const vb = new Float64Array(2);
  const x = Float32Array.from(X);
  for (let t = 1; t <= 3; t++) {
    const lr = 0.1 * Math.min(1, t / 2);
    assert.ok(Math.abs(trainer.lr - lr) < 1e-15, `lr before step ${t}`);
    // Host: loss (of the float32 parameters fed), gradients, global norm, clipping, then AdamW
    // (no decay for b).
    const fw = trainer.state.params.get("w")!.data, fb = trainer.state.params.get("b")!.data;
    let loss = 0;
    for (let i = 0; i < 6; i++) loss += fw[i] * x[i];
    for (const bi of fb) loss += 0.5 * bi * bi;
    const r = await trainer.step({ x: f32(x, [2, 3]) });
    const gw = Array.from(x), gb = Array.from(b);
    const norm = Math.hypot(...gw, ...gb);
    const factor = Math.min(1, 1 / (norm + 1e-6));
    assertClose([r.loss], [loss], 1e-6, `step ${t} loss`);
    assertClose([r.gradNorm], [norm], 1e-6, `step ${t} grad norm`);
    assert.equal(r.lr, lr);
    torchAdamStep(adam, lr, t, true, w, gw.map((g) => g * factor), mw, vw);
    torchAdamStep(adam, lr, t, false, b, gb.map((g) => g * factor), mb, vb);
    assert.equal(trainer.state.step, t);
    assertClose(trainer.state.params.get("w")!.data, w, 1e-6, `step ${t} w`);
    assertClose(trainer.state.params.get("b")!.data, b, 1e-6, `step ${t} b`);
    assertClose(trainer.state.m.get("w")!.data, mw, 1e-6, `step ${t} m of w`);
    assertClose(trainer.state.v.get("b")!.data, vb, 1e-6, `step ${t} v of b`);
  }
});

Deno.test("Trainer.step() throws NonFiniteLossError on a NaN parameter and keeps the state", async () => {
  const params = new Map([["w", f32([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [2, 3])], [
    "b",
    f32([NaN, 1]),
  ]]);
  const trainer = await Trainer.create(
    runtime,
    quadraticSpec({ maxGradNorm: 1 }),
    { ...initialState(params), step: 4 },
    { name: "constant", lr: 0.1, totalSteps: 10 },
  );
  const w = trainer.state.params.get("w"), m = trainer.state.m.get("w");
  await assert.rejects(
    () => trainer.step({ x: f32(X, [2, 3]) }),
    (e: unknown) => {
      assert.ok(e instanceof NonFiniteLossError);
      assert.equal(e.message, "step 5: loss NaN, gradient norm NaN");
      return true;
    },
  );
  assert.equal(trainer.state.step, 4);
  assert.equal(trainer.state.params.get("w"), w);
  assert.equal(trainer.state.m.get("w"), m);
});

Deno.test("Trainer.create() refuses a state whose parameter shape differs from the spec", async () => {
  await assert.rejects(
    () =>
      Trainer.create(
        runtime,
        quadraticSpec({}),
        initialState(new Map([["w", f32([1, 2, 3], [3])], ["b", f32([0, 0])]])),
        { name: "constant", lr: 0.1, totalSteps: 1 },
      ),
    /^RangeError: training state: parameter "w" has shape \[3\], expected \[2,3\]$/,
  );
});

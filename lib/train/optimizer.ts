/**
 * Adam and AdamW as graph operations, so that one onnxruntime run does forward, backward and
 * the update. The update matches `torch.optim.Adam`/`AdamW`:
 *
 * ```
 * p <- p * (1 - lr * weightDecay)                      (AdamW only: decoupled decay)
 * m <- beta1 m + (1 - beta1) g
 * v <- beta2 v + (1 - beta2) g^2
 * p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * ```
 *
 * The step-dependent scalars are fed as inputs each step, so one compiled graph serves every step.
 *
 * @module
 */
import type { Graph } from "../graph/builder.ts";
import type { Value } from "../graph/ir.ts";

/** Adam hyperparameters (torch defaults). */
export interface AdamConfig {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (AdamW); 0 is plain Adam. */
  weightDecay?: number;
  /** Clip the global gradient L2 norm to this value (none when undefined). */
  maxGradNorm?: number;
}

/**
 * Graph inputs that carry the step-dependent scalars.
 *
 * @example
 * ```ts
 * import { OPT_INPUTS } from "./optimizer.ts";
 * OPT_INPUTS.stepSize; // "opt:step_size"
 * ```
 */
export const OPT_INPUTS = {
  /** `lr / (1 - beta1^t)` */
  stepSize: "opt:step_size",
  /** `sqrt(1 - beta2^t)` */
  biasCorrection2: "opt:bias_correction2",
  /** `1 - lr * weightDecay` */
  decay: "opt:decay",
} as const;

/**
 * The scalar feeds of step `t` (1-based) at learning rate `lr`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adamScalars } from "./optimizer.ts";
 * const s = adamScalars({ weightDecay: 0.1 }, 1e-3, 1);
 * // { "opt:step_size": 0.01 (lr / (1 - 0.9)), "opt:bias_correction2": 0.0316...,
 * //   "opt:decay": 0.9999 }
 * assert.equal(s["opt:decay"], 1 - 1e-3 * 0.1);
 * assert.ok(Math.abs(s["opt:step_size"] - 0.01) < 1e-12);
 * ```
 */
export function adamScalars(cfg: AdamConfig, lr: number, t: number): Record<string, number> {
  const b1 = cfg.beta1 ?? 0.9, b2 = cfg.beta2 ?? 0.999;
  return {
    [OPT_INPUTS.stepSize]: lr / (1 - b1 ** t),
    [OPT_INPUTS.biasCorrection2]: Math.sqrt(1 - b2 ** t),
    [OPT_INPUTS.decay]: 1 - lr * (cfg.weightDecay ?? 0),
  };
}

/** The graph values of the scalar inputs (declared once per graph). */
export interface AdamScalars {
  stepSize: Value;
  biasCorrection2: Value;
  decay: Value;
}

/**
 * Declares the scalar inputs of the Adam update.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import { declareAdamScalars } from "./optimizer.ts";
 * const g = new Graph();
 * declareAdamScalars(g);
 * const names = g.inputs.map((i) => i.name);
 * assert.deepEqual(names, ["opt:step_size", "opt:bias_correction2", "opt:decay"]);
 * ```
 */
export function declareAdamScalars(g: Graph): AdamScalars {
  return {
    stepSize: g.input(OPT_INPUTS.stepSize, "float32", []),
    biasCorrection2: g.input(OPT_INPUTS.biasCorrection2, "float32", []),
    decay: g.input(OPT_INPUTS.decay, "float32", []),
  };
}

/**
 * One Adam(W) update of a parameter: returns the new parameter and moments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import { Runtime } from "../graph/session.ts";
 * import { at, type Tensor, tensor } from "../tensor/tensor.ts";
 * import { adamScalars, adamUpdate, declareAdamScalars } from "./optimizer.ts";
 * const g = new Graph();
 * const [p, grad, m, v] = ["p", "grad", "m", "v"].map((n) => g.input(n, "float32", [2]));
 * g.output("new_p", adamUpdate(g, {}, declareAdamScalars(g), p, grad, m, v).p);
 * const feeds: Record<string, Tensor> = {
 *   p: tensor(new Float32Array([1, 1]), [2]),
 *   grad: tensor(new Float32Array([0.5, -2]), [2]),
 *   m: tensor(new Float32Array(2), [2]),
 *   v: tensor(new Float32Array(2), [2]),
 * };
 * for (const [k, x] of Object.entries(adamScalars({}, 0.1, 1))) {
 *   feeds[k] = tensor(new Float32Array([x]), []);
 * }
 * const { new_p } = await (await new Runtime().compile(g)).run(feeds);
 * new_p.data; // Float32Array [0.9, 1.1]
 * // (Adam's first step moves each weight by lr, against the sign of its gradient)
 * assert.ok(Math.abs(at(new_p, 0) - 0.9) < 1e-5 && Math.abs(at(new_p, 1) - 1.1) < 1e-5);
 * ```
 */
export function adamUpdate(
  g: Graph,
  cfg: AdamConfig,
  s: AdamScalars,
  p: Value,
  grad: Value,
  m: Value,
  v: Value,
  decay = true,
): { p: Value; m: Value; v: Value } {
  const b1 = cfg.beta1 ?? 0.9, b2 = cfg.beta2 ?? 0.999, eps = cfg.eps ?? 1e-8;
  const c = (x: number) => g.scalar(x);
  const m2 = g.add(g.mul(c(b1), m), g.mul(c(1 - b1), grad));
  const v2 = g.add(g.mul(c(b2), v), g.mul(c(1 - b2), g.mul(grad, grad)));
  const denom = g.add(g.div(g.sqrt(v2), s.biasCorrection2), c(eps));
  const base = decay && (cfg.weightDecay ?? 0) > 0 ? g.mul(p, s.decay) : p;
  return { p: g.sub(base, g.mul(s.stepSize, g.div(m2, denom))), m: m2, v: v2 };
}

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (as
 * `torch.nn.utils.clip_grad_norm_`: factor `maxNorm / (norm + 1e-6)` when below 1). Returns the
 * clipped gradients and the norm before clipping.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import { Runtime } from "../graph/session.ts";
 * import { at, tensor } from "../tensor/tensor.ts";
 * import { clipGradNorm } from "./optimizer.ts";
 * const g = new Graph();
 * const a = g.input("a", "float32", [1]), b = g.input("b", "float32", [1]);
 * const { grads, norm } = clipGradNorm(g, [a, b], 1);
 * g.output("norm", norm);
 * g.output("a2", grads[0]);
 * const out = await (await new Runtime().compile(g)).run({
 *   a: tensor(new Float32Array([3]), [1]),
 *   b: tensor(new Float32Array([4]), [1]),
 * });
 * out.norm.data; // Float32Array [5] (a scalar: shape [])
 * out.a2.data; // Float32Array [0.6] (about: 3 / 5, the norm clipped to 1)
 * assert.equal(at(out.norm), 5);
 * assert.ok(Math.abs(at(out.a2, 0) - 0.6) < 1e-5);
 * ```
 */
export function clipGradNorm(
  g: Graph,
  grads: readonly Value[],
  maxNorm: number,
): { grads: Value[]; norm: Value } {
  let sq: Value | undefined;
  for (const x of grads) {
    const s = g.reduceSum(g.mul(x, x));
    sq = sq ? g.add(sq, s) : s;
  }
  const norm = g.sqrt(sq!);
  const factor = g.min(g.scalar(1), g.div(g.scalar(maxNorm), g.add(norm, g.scalar(1e-6))));
  return { grads: grads.map((x) => g.mul(x, factor)), norm };
}

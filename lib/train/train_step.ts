/**
 * One training step as one graph: forward, loss, reverse-mode gradients, optional gradient
 * transforms and clipping, and the Adam(W) update, returning the new parameters and moments.
 *
 * Inputs: each parameter under its name, its moments under `adam_m:<name>` and `adam_v:<name>`,
 * the optimiser scalars (`OPT_INPUTS`), and whatever the forward pass declares (the batch).
 * Outputs: `loss`, `grad_norm`, `new:<name>`, `new_m:<name>`, `new_v:<name>`, and the forward
 * pass's extra outputs.
 *
 * @module
 */
import { gradients } from "../graph/autodiff.ts";
import { Graph } from "../graph/builder.ts";
import type { Value } from "../graph/ir.ts";
import { type AdamConfig, adamUpdate, clipGradNorm, declareAdamScalars } from "./optimizer.ts";

/** What a training step computes. */
export interface StepSpec {
  /** Parameter shapes, by name (the order of the state). */
  params: ReadonlyMap<string, readonly number[]>;
  /**
   * Builds the loss from the parameters (the values the step differentiates and updates) and
   * returns extra named outputs (metrics) if any.
   */
  forward(
    g: Graph,
    params: ReadonlyMap<string, Value>,
  ): { loss: Value; outputs?: Record<string, Value> };
  /**
   * Transforms a parameter input before use (for example renormalising decoder rows at the
   * start of the step); the transformed value is what is differentiated and updated.
   */
  prepare?(g: Graph, name: string, input: Value): Value;
  /** Transforms a gradient before the update (for example removing a component). */
  transformGrad?(g: Graph, name: string, grad: Value, param: Value): Value;
  adam: AdamConfig;
  /** Parameters exempt from weight decay (default: none). */
  noDecay?(name: string): boolean;
}

/**
 * Builds the training-step graph.
 *
 * @example
 * ```ts
 * import { buildTrainStep } from "./train_step.ts";
 * const g = buildTrainStep({
 *   params: new Map([["w", [3]]]),
 *   forward: (g, p) => ({ loss: g.reduceSum(g.mul(p.get("w")!, p.get("w")!)) }),
 *   adam: {},
 * });
 * g.outputs.map((o) => o.name); // ["loss", "grad_norm", "new:w", "new_m:w", "new_v:w"]
 * ```
 */
export function buildTrainStep(spec: StepSpec): Graph {
  const g = new Graph();
  const used = new Map<string, Value>();
  for (const [name, shape] of spec.params) {
    const input = g.input(name, "float32", shape);
    used.set(name, spec.prepare ? spec.prepare(g, name, input) : input);
  }
  const { loss, outputs = {} } = spec.forward(g, used);
  const names = [...spec.params.keys()];
  let grads = gradients(g, loss, names.map((n) => used.get(n)!));
  if (spec.transformGrad) {
    grads = grads.map((gr, i) => spec.transformGrad!(g, names[i], gr, used.get(names[i])!));
  }
  let norm: Value;
  if (spec.adam.maxGradNorm !== undefined) {
    ({ grads, norm } = clipGradNorm(g, grads, spec.adam.maxGradNorm));
  } else norm = clipGradNorm(g, grads, Infinity).norm;
  g.output("loss", loss);
  g.output("grad_norm", norm);
  const scalars = declareAdamScalars(g);
  names.forEach((name, i) => {
    const shape = spec.params.get(name)!;
    const m = g.input(`adam_m:${name}`, "float32", shape),
      v = g.input(`adam_v:${name}`, "float32", shape);
    const up = adamUpdate(
      g,
      spec.adam,
      scalars,
      used.get(name)!,
      grads[i],
      m,
      v,
      !spec.noDecay?.(name),
    );
    g.output(`new:${name}`, up.p);
    g.output(`new_m:${name}`, up.m);
    g.output(`new_v:${name}`, up.v);
  });
  for (const [k, v] of Object.entries(outputs)) g.output(k, v);
  return g;
}

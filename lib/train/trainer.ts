/**
 * Runs training steps on the host: holds the parameters and Adam moments, feeds them with the
 * batch and the learning rate of the step, and takes the updated tensors back. One step is one
 * onnxruntime run.
 *
 * @module
 */
import type { CompiledGraph, Runtime } from "../graph/session.ts";
import { type Tensor, zeros } from "../tensor/tensor.ts";
import { type AdamConfig, adamScalars } from "./optimizer.ts";
import { learningRate, type ScheduleOptions } from "./schedules.ts";
import { buildTrainStep, type StepSpec } from "./train_step.ts";

/** Parameters and optimiser state: what a checkpoint holds besides metadata. */
export interface TrainState {
  params: Map<string, Tensor<"float32">>;
  m: Map<string, Tensor<"float32">>;
  v: Map<string, Tensor<"float32">>;
  /** Optimiser steps taken so far. */
  step: number;
}

/** The result of one step. */
export interface StepResult {
  loss: number;
  gradNorm: number;
  lr: number;
  /** The forward pass's extra outputs. */
  outputs: Record<string, Tensor>;
}

/**
 * Raised when a step produces a non-finite loss or gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../graph/session.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import type { StepSpec } from "./train_step.ts";
 * import { initialState, NonFiniteLossError, Trainer } from "./trainer.ts";
 * const spec: StepSpec = {
 *   params: new Map([["w", [1]]]),
 *   forward: (g, p) => ({ loss: g.reduceSum(g.log(p.get("w")!)) }), // log(0) = -Infinity
 *   adam: {},
 * };
 * const state = initialState(new Map([["w", tensor(new Float32Array([0]), [1])]]));
 * const schedule = { name: "constant", lr: 0.1, totalSteps: 1 } as const;
 * const trainer = await Trainer.create(new Runtime(), spec, state, schedule);
 * await assert.rejects(trainer.step({}), NonFiniteLossError);
 * // NonFiniteLossError: step 1: loss -Infinity, gradient norm Infinity
 * trainer.state.step; // 0: the state did not advance
 * ```
 */
export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";
}

/**
 * A fresh optimiser state (zero moments) for initial parameters. The state gets its own map (the
 * tensors are shared until the first step replaces them), so training does not change the map
 * passed in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "../tensor/tensor.ts";
 * import { initialState } from "./trainer.ts";
 * const state = initialState(new Map([["w", tensor(new Float32Array([1, -1]), [2])]]));
 * state.step; // 0
 * assert.deepEqual(state.m.get("w")?.data, new Float32Array([0, 0]));
 * ```
 */
export function initialState(params: Map<string, Tensor<"float32">>): TrainState {
  const m = new Map<string, Tensor<"float32">>(), v = new Map<string, Tensor<"float32">>();
  for (const [k, t] of params) {
    m.set(k, zeros(t.shape));
    v.set(k, zeros(t.shape));
  }
  return { params: new Map(params), m, v, step: 0 };
}

/**
 * Trains with a compiled step graph.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../graph/session.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import type { StepSpec } from "./train_step.ts";
 * import { initialState, Trainer } from "./trainer.ts";
 * // Minimise sum(w^2) from w = [1, -1] with Adam at lr 0.1.
 * const spec: StepSpec = {
 *   params: new Map([["w", [2]]]),
 *   forward: (g, p) => ({ loss: g.reduceSum(g.mul(p.get("w")!, p.get("w")!)) }),
 *   adam: {},
 * };
 * const state = initialState(new Map([["w", tensor(new Float32Array([1, -1]), [2])]]));
 * const trainer = await Trainer.create(new Runtime(), spec, state, {
 *   name: "constant",
 *   lr: 0.1,
 *   totalSteps: 10,
 * });
 * const { loss, lr } = await trainer.step({}); // the batch: the forward pass declares no input
 * assert.equal(loss, 2);
 * lr; // 0.1
 * trainer.state.params.get("w")?.data; // Float32Array [0.9, -0.9] (about)
 * trainer.state.step; // 1
 * ```
 */
export class Trainer {
  readonly state: TrainState;
  readonly schedule: ScheduleOptions;
  readonly adam: AdamConfig;
  readonly #compiled: CompiledGraph;

  private constructor(
    compiled: CompiledGraph,
    state: TrainState,
    schedule: ScheduleOptions,
    adam: AdamConfig,
  ) {
    this.#compiled = compiled;
    this.state = state;
    this.schedule = schedule;
    this.adam = adam;
  }

  /** Compiles the step graph for a spec and wraps a state. */
  static async create(
    runtime: Runtime,
    spec: StepSpec,
    state: TrainState,
    schedule: ScheduleOptions,
  ): Promise<Trainer> {
    for (const [name, shape] of spec.params) {
      const t = state.params.get(name);
      if (!t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new RangeError(
          `training state: parameter "${name}" has shape [${t?.shape}], expected [${shape}]`,
        );
      }
    }
    // One session runs every step: the memory arena pays for itself here.
    return new Trainer(
      await runtime.compile(buildTrainStep(spec), { memArena: true }),
      state,
      schedule,
      spec.adam,
    );
  }

  /** The learning rate the next step will use. */
  get lr(): number {
    return learningRate(this.schedule, this.state.step);
  }

  /** Runs one step on a batch; the state advances only if loss and gradients are finite. */
  async step(batch: Record<string, Tensor>): Promise<StepResult> {
    const s = this.state;
    const lr = this.lr;
    const feeds: Record<string, Tensor> = { ...batch };
    for (const [k, t] of s.params) {
      feeds[k] = t;
      feeds[`adam_m:${k}`] = s.m.get(k)!;
      feeds[`adam_v:${k}`] = s.v.get(k)!;
    }
    for (const [k, x] of Object.entries(adamScalars(this.adam, lr, s.step + 1))) {
      feeds[k] = { dtype: "float32", shape: [], data: new Float32Array([x]) };
    }
    const out = await this.#compiled.run(feeds);
    const loss = out.loss.data[0] as number, gradNorm = out.grad_norm.data[0] as number;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new NonFiniteLossError(`step ${s.step + 1}: loss ${loss}, gradient norm ${gradNorm}`);
    }
    for (const k of s.params.keys()) {
      s.params.set(k, out[`new:${k}`] as Tensor<"float32">);
      s.m.set(k, out[`new_m:${k}`] as Tensor<"float32">);
      s.v.set(k, out[`new_v:${k}`] as Tensor<"float32">);
    }
    s.step++;
    const outputs: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) {
      if (!/^(new|new_m|new_v):/.test(k) && k !== "loss" && k !== "grad_norm") outputs[k] = v;
    }
    return { loss, gradNorm, lr, outputs };
  }
}

/**
 * The transcoder training step, the reference's recipe (Dunefsky et al., `sparse_autoencoder.py`
 * and `train_sae_on_language_model.py`), as one graph:
 *
 * 1. Renormalise the decoder rows to unit L2 norm (the reference does it in place at the start
 *    of every step; the normalised value is what is differentiated and updated).
 * 2. `z = ReLU((x - b_dec) W_enc + b_enc)`, `y_hat = z W_dec + b_dec_out` (an SAE's step adds
 *    `b_dec` instead: its output bias is tied to the input one, and its target y is its input).
 * 3. `mse = mean((y_hat - y)^2 / ||y||)` (per element, divided by each target row's L2 norm).
 * 4. `l1 = l1_coefficient * mean_batch sum_features |z|`.
 * 5. Ghost gradients when some features are dead: `ghost_out = exp(hidden_pre[:, dead]) W_dec[dead]`,
 *    rescaled to half the norm of the residual `y - y_hat` (the MLP-output residual: the
 *    reference used the input x there, a bug we do not copy), `ghost = mean(rescale * (ghost_out
 *    - residual)^2 / ||residual||)` with `rescale = mse_elem / (ghost_elem + 1e-6)` detached.
 * 6. `loss = mse + l1 + ghost`; gradients; the component of each decoder row's gradient
 *    parallel to the row is removed; Adam.
 *
 * Inputs: `x [B, d_in]`, `y [B, d_out]`, `dead_mask` bool `[d_sae]`, the parameters and Adam
 * state. Extra outputs: `mse_loss`, `l1_loss`, `ghost_loss`, `l0`, `fired [d_sae]` (rows of the
 * batch where each feature fired).
 *
 * @module
 */
import type { Graph } from "../graph/builder.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Value } from "../graph/ir.ts";
import type { AdamConfig } from "../train/optimizer.ts";
import type { StepSpec } from "../train/train_step.ts";
import { transcoderForward, type TranscoderParam, transcoderShapes } from "./transcoder.ts";

/** Hyperparameters of the step. */
export interface TranscoderStepOptions {
  d_in: number;
  d_sae: number;
  d_out: number;
  batch: number;
  l1Coefficient: number;
  useGhostGrads: boolean;
  /**
   * An SAE's step: no `b_dec_out` parameter, the decoder adds `b_dec` (the reference's
   * `SparseAutoencoder` with `is_transcoder=False`). Default false.
   */
  tiedOutputBias?: boolean;
  /**
   * How ghost gradients select the dead features: as a boolean mask over all features
   * (`dead_mask [d_sae]`; the ghost pass costs a full decoder matmul), or, with a capacity K, as
   * the indices of up to K dead features (`dead_idx` int32 `[K]`, padded, and `dead_valid` bool
   * `[K]`), so the ghost pass costs K/d_sae of that. Same result; use `deadFeatureFeeds`.
   */
  ghostCapacity?: number;
  adam?: AdamConfig;
}

/**
 * The ghost-gradient feeds of a step: the mask, or the padded indices for a capacity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deadFeatureFeeds } from "./_training_step.ts";
 * const dead = new Uint8Array([0, 1, 0, 1]); // features 1 and 3 are dead
 * deadFeatureFeeds(dead).dead_mask.shape; // [4]
 * const { dead_idx, dead_valid } = deadFeatureFeeds(dead, 3);
 * dead_idx.data; // Int32Array [1, 3, 0] (padded)
 * assert.deepEqual(dead_valid.data, new Uint8Array([1, 1, 0]));
 * assert.throws(() => deadFeatureFeeds(dead, 1), /more than 1 dead features/);
 * ```
 */
export function deadFeatureFeeds(dead: Uint8Array, capacity?: number): Record<string, Tensor> {
  if (capacity === undefined) {
    return { dead_mask: { dtype: "bool", shape: [dead.length], data: dead } };
  }
  const idx = new Int32Array(capacity), valid = new Uint8Array(capacity);
  let k = 0;
  for (let i = 0; i < dead.length; i++) {
    if (!dead[i]) continue;
    if (k === capacity) {
      throw new RangeError(`more than ${capacity} dead features: use a larger ghost capacity`);
    }
    idx[k] = i;
    valid[k++] = 1;
  }
  return {
    dead_idx: { dtype: "int32", shape: [capacity], data: idx },
    dead_valid: { dtype: "bool", shape: [capacity], data: valid },
  };
}

function rowNorm(g: Graph, v: Value): Value {
  return g.sqrt(g.reduceSum(g.mul(v, v), [-1], true)); // [.., 1]
}

/**
 * The step spec for `buildTrainStep` / `Trainer`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../graph/session.ts";
 * import { full } from "../tensor/tensor.ts";
 * import { initialState, Trainer } from "../train/trainer.ts";
 * import { initialTranscoderParams } from "./transcoder.ts";
 * import { deadFeatureFeeds, transcoderStepSpec } from "./_training_step.ts";
 * const o = { d_in: 4, d_sae: 8, d_out: 4, batch: 2, l1Coefficient: 1e-3, useGhostGrads: true };
 * const state = initialState(initialTranscoderParams(o, 0));
 * const trainer = await Trainer.create(new Runtime(), transcoderStepSpec(o), state, {
 *   name: "constant",
 *   lr: 1e-3,
 *   totalSteps: 10,
 * });
 * const x = full([2, 4], 0.5), y = full([2, 4], 1);
 * const dead = new Uint8Array(8).fill(1); // ghost gradients for every feature
 * const r = await trainer.step({ x, y, ...deadFeatureFeeds(dead) });
 * r.outputs.fired.shape; // [8]: rows where each feature fired
 * assert.equal(trainer.state.step, 1);
 * const part = (name: string) => Number(r.outputs[name].data[0]);
 * // loss = mse + l1 + ghost
 * assert.ok(Math.abs(r.loss - part("mse_loss") - part("l1_loss") - part("ghost_loss")) < 1e-5);
 * assert.ok(part("ghost_loss") > 0);
 * ```
 */
export function transcoderStepSpec(o: TranscoderStepOptions): StepSpec {
  const shapes = transcoderShapes(o);
  const tied = o.tiedOutputBias ?? false;
  return {
    params: new Map(Object.entries(shapes).filter(([n]) => !(tied && n === "b_dec_out"))),
    adam: o.adam ?? {},
    noDecay: () => true,
    prepare: (g, name, input) => (name === "W_dec" ? g.div(input, rowNorm(g, input)) : input),
    transformGrad(g, name, grad, param) {
      if (name !== "W_dec") return grad;
      return g.sub(grad, g.mul(g.reduceSum(g.mul(grad, param), [-1], true), param));
    },
    forward(g, params) {
      const p = Object.fromEntries(params) as Record<TranscoderParam, Value>;
      if (tied) p.b_dec_out = p.b_dec;
      const x = g.input("x", "float32", [o.batch, o.d_in]);
      const y = g.input("y", "float32", [o.batch, o.d_out]);
      const { hiddenPre, z, yHat } = transcoderForward(g, x, p);
      const mseElem = g.div(g.pow(g.sub(yHat, y), g.scalar(2)), rowNorm(g, y)); // [B, d_out]
      const mse = g.reduceMean(mseElem);
      // z >= 0 (a ReLU output), so |z| = z, and the gradients agree too (ReLU passes none at 0).
      const l1 = g.mul(g.scalar(o.l1Coefficient), g.reduceMean(g.reduceSum(z, [1])));
      let loss = g.add(mse, l1);
      const firedRows = g.cast(g.greater(z, g.scalar(0)), "float32"); // [B, d_sae]
      const outputs: Record<string, Value> = {
        mse_loss: mse,
        l1_loss: l1,
        l0: g.reduceMean(g.reduceSum(firedRows, [1])),
        fired: g.reduceSum(firedRows, [0]),
      };
      if (o.useGhostGrads) {
        const residual = g.sub(y, yHat); // [B, d_out]
        const resDetached = g.stopGradient(residual);
        // exp of the dead features' pre-activations only (alive ones contribute exactly 0).
        let dead: Value, deadActs: Value, deadDec: Value;
        if (o.ghostCapacity === undefined) {
          dead = g.input("dead_mask", "bool", [o.d_sae]);
          deadActs = g.exp(g.where(dead, hiddenPre, g.scalar(-1e4))); // [B, d_sae]
          deadDec = p.W_dec;
        } else {
          const k = o.ghostCapacity;
          const idx = g.input("dead_idx", "int32", [k]);
          dead = g.input("dead_valid", "bool", [k]);
          const pre = g.transpose(g.gather(g.transpose(hiddenPre, [1, 0]), idx, 0), [1, 0]); // [B, K]
          deadActs = g.exp(g.where(dead, pre, g.scalar(-1e4)));
          deadDec = g.gather(p.W_dec, idx, 0); // [K, d_out]
        }
        let ghostOut = g.matmul(deadActs, deadDec); // [B, d_out]
        const scale = g.stopGradient(
          g.div(
            rowNorm(g, residual),
            g.add(g.mul(g.scalar(2), rowNorm(g, ghostOut)), g.scalar(1e-6)),
          ),
        );
        ghostOut = g.mul(ghostOut, scale);
        const ghostElem = g.div(
          g.pow(g.sub(ghostOut, resDetached), g.scalar(2)),
          rowNorm(g, resDetached),
        );
        const rescale = g.stopGradient(g.div(mseElem, g.add(ghostElem, g.scalar(1e-6))));
        const anyDead = g.reduceMax(g.cast(dead, "float32")); // 0 when no feature is dead
        const ghost = g.mul(anyDead, g.reduceMean(g.mul(rescale, ghostElem)));
        loss = g.add(loss, ghost);
        outputs.ghost_loss = ghost;
      } else {
        outputs.ghost_loss = g.scalar(0);
      }
      return { loss, outputs };
    },
  };
}

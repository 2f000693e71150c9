/**
 * Transcoder training steps against PyTorch running the reference's recipe
 * (tests/fixtures/make_training_golden.py: decoder renormalisation, normalised MSE, L1, ghost
 * gradients on the MLP-output residual, decoder-parallel gradient removal, Adam), three steps,
 * with and without dead features: every loss term and every parameter after every step agree to
 * 1e-5 relative (max |a - e| / max |e| per tensor).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../lib/formats/safetensors.ts";
import { Runtime } from "../../lib/graph/session.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { TRANSCODER_PARAMS } from "../../lib/transcoder/transcoder.ts";
import { deadFeatureFeeds, transcoderStepSpec } from "../../lib/transcoder/_training_step.ts";
import { initialState, Trainer } from "../../lib/train/trainer.ts";

const golden = (await readSafetensors(
  fileURLToPath(
    new URL("../fixtures/training_golden/transcoder_steps.safetensors", import.meta.url),
  ),
)).tensors;
const get = (k: string) => {
  const t = golden.get(k);
  if (!t) throw new Error(`fixture has no "${k}"`);
  return t;
};

// The ghost pass selects dead features by a mask over all features, or by the indices of up to
// `capacity` of them (16 here: 10 dead features and padding); both must equal PyTorch.
for (
  const [scenario, capacity] of [["ghost", undefined], ["ghost", 16], ["plain", undefined], [
    "plain",
    16,
  ]] as const
) {
  Deno.test(`transcoder steps equal PyTorch's (${scenario}, ${capacity ? `capacity ${capacity}` : "mask"})`, async () => {
    const params = new Map<string, Tensor<"float32">>();
    for (const name of TRANSCODER_PARAMS) {
      params.set(name, get(`${scenario}.init.${name}`) as Tensor<"float32">);
    }
    const spec = transcoderStepSpec({
      d_in: 16,
      d_sae: 64,
      d_out: 16,
      batch: 32,
      l1Coefficient: 3e-3,
      useGhostGrads: true,
      ghostCapacity: capacity,
    });
    const trainer = await Trainer.create(new Runtime({ threads: 1 }), spec, initialState(params), {
      name: "constant",
      lr: 4e-4,
      totalSteps: 3,
    });
    const dead = Uint8Array.from(get(`${scenario}.dead_mask`).data as Int32Array);
    for (let k = 1; k <= 3; k++) {
      const r = await trainer.step({
        x: get("x"),
        y: get("y"),
        ...deadFeatureFeeds(dead, capacity),
      });
      const expect = (name: string) => get(`${scenario}.step${k}.${name}`).data[0] as number;
      const close = (what: string, actual: number, expected: number) =>
        assert.ok(
          Math.abs(actual - expected) <= 1e-5 * Math.max(Math.abs(expected), 1e-3),
          `${scenario} step ${k} ${what}: ${actual} vs PyTorch ${expected}`,
        );
      close("loss", r.loss, expect("loss"));
      close("mse_loss", r.outputs.mse_loss.data[0] as number, expect("mse_loss"));
      close("l1_loss", r.outputs.l1_loss.data[0] as number, expect("l1_loss"));
      close("ghost_loss", r.outputs.ghost_loss.data[0] as number, expect("ghost_loss"));
      close("l0", r.outputs.l0.data[0] as number, expect("l0"));
      for (const name of TRANSCODER_PARAMS) {
        const err = relativeError(
          trainer.state.params.get(name)!.data,
          get(`${scenario}.step${k}.${name}`).data as Float32Array,
        );
        assert.ok(
          err <= 1e-5,
          `${scenario} step ${k} ${name}: relative error ${err.toExponential(2)}`,
        );
      }
    }
  });
}

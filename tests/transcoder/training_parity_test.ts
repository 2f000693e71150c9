/**
 * Transcoder training steps against PyTorch running the reference's recipe
 * (tests/fixtures/make_training_golden.py: decoder renormalisation, normalised MSE, L1, ghost
 * gradients on the MLP-output residual, decoder-parallel gradient removal, Adam), three steps,
 * with and without dead features: every loss term and every parameter after every step agree to
 * 1e-5 relative (max |a - e| / max |e| per tensor). The same for SAE steps (the target is the
 * input, the output bias is b_dec; tests/fixtures/make_sae_fixtures.py).
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

async function goldenFile(name: string): Promise<(k: string) => Tensor> {
  const tensors = (await readSafetensors(
    fileURLToPath(new URL(`../fixtures/training_golden/${name}`, import.meta.url)),
  )).tensors;
  return (k: string) => {
    const t = tensors.get(k);
    if (!t) throw new Error(`${name} has no "${k}"`);
    return t;
  };
}

/** Three steps from the fixture's initial parameters, each compared with PyTorch's. */
async function checkSteps(
  get: (k: string) => Tensor,
  { scenario, capacity, sae }: { scenario: string; capacity?: number; sae: boolean },
): Promise<void> {
  const names = TRANSCODER_PARAMS.filter((n) => !(sae && n === "b_dec_out"));
  const params = new Map<string, Tensor<"float32">>();
  for (const name of names) params.set(name, get(`${scenario}.init.${name}`) as Tensor<"float32">);
  const spec = transcoderStepSpec({
    d_in: 16,
    d_sae: 64,
    d_out: 16,
    batch: 32,
    l1Coefficient: 3e-3,
    useGhostGrads: true,
    ghostCapacity: capacity,
    tiedOutputBias: sae,
  });
  const trainer = await Trainer.create(new Runtime({ threads: 1 }), spec, initialState(params), {
    name: "constant",
    lr: 4e-4,
    totalSteps: 3,
  });
  const dead = Uint8Array.from(get(`${scenario}.dead_mask`).data as Int32Array);
  const what = `${sae ? "SAE" : "transcoder"} ${scenario}`;
  for (let k = 1; k <= 3; k++) {
    const r = await trainer.step({
      x: get("x"),
      y: get(sae ? "x" : "y"), // an SAE's target is its input
      ...deadFeatureFeeds(dead, capacity),
    });
    const expect = (name: string) => get(`${scenario}.step${k}.${name}`).data[0] as number;
    const close = (term: string, actual: number, expected: number) =>
      assert.ok(
        Math.abs(actual - expected) <= 1e-5 * Math.max(Math.abs(expected), 1e-3),
        `${what} step ${k} ${term}: ${actual} vs PyTorch ${expected}`,
      );
    close("loss", r.loss, expect("loss"));
    for (const term of ["mse_loss", "l1_loss", "ghost_loss", "l0"]) {
      close(term, r.outputs[term].data[0] as number, expect(term));
    }
    for (const name of names) {
      const err = relativeError(
        trainer.state.params.get(name)!.data,
        get(`${scenario}.step${k}.${name}`).data as Float32Array,
      );
      assert.ok(err <= 1e-5, `${what} step ${k} ${name}: relative error ${err.toExponential(2)}`);
    }
  }
}

const transcoderGolden = await goldenFile("transcoder_steps.safetensors");
const saeGolden = await goldenFile("sae_steps.safetensors");

// The ghost pass selects dead features by a mask over all features, or by the indices of up to
// `capacity` of them (16 here: 10 dead features and padding); both must equal PyTorch.
for (const scenario of ["ghost", "plain"]) {
  for (const capacity of [undefined, 16]) {
    Deno.test(`transcoder steps equal PyTorch's (${scenario}, ${capacity ? `capacity ${capacity}` : "mask"})`, () =>
      checkSteps(transcoderGolden, { scenario, capacity, sae: false }));
  }
  // The SAE step: target = input, output bias tied to b_dec (PyTorch: one Parameter at both ends).
  Deno.test(`SAE steps (tied output bias) equal PyTorch's (${scenario})`, () =>
    checkSteps(saeGolden, { scenario, sae: true }));
}

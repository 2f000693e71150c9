/**
 * Splicing reference-format transcoders into the model gives PyTorch's numbers.
 * tests/fixtures/make_splice_golden.py (Debian's python3-torch) wrote two random transcoders for
 * layers 0 and 1 of the tiny GPT-2 (tests/fixtures/gpt2_tiny) as the reference's `.pt` files
 * (`{cfg: LanguageModelSAERunnerConfig, state_dict}`), and computed in float64, the way the
 * reference's TranscoderReplacementContext / ZeroAblationContext splice them into a
 * TransformerLens model (the transcoder reads `blocks.L.ln2.hook_normalized`, its output is
 * `blocks.L.hook_mlp_out`): the mean next-token loss clean, with layer 0, layer 1 and both MLPs
 * replaced, with both zero-ablated, KL(clean || both replaced), and layer 1's feature activations
 * with both replaced. We load the files with `loadTranscoder` and compare every value to 1e-4
 * relative (scalars: |a - e| / |e|; activations: max |a - e| / max |e|).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../lib/formats/safetensors.ts";
import type { HookedModel, MlpReplacements } from "../../lib/model/hooked_model.ts";
import { loadModel } from "../../lib/model/load.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { loadTranscoder } from "../../lib/transcoder/load.ts";
import { Transcoder, TranscoderError } from "../../lib/transcoder/transcoder.ts";

const TOL = 1e-4;
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const tcPath = (l: number) =>
  fixture(`splice/final_sparse_autoencoder_gpt2-small_blocks.${l}.ln2.hook_normalized_32.pt`);
const golden = (await readSafetensors(fixture("splice/golden.safetensors"))).tensors;
const gold = (k: string): Tensor<"float32"> => {
  const t = golden.get(k);
  if (!t) throw new Error(`splice/golden.safetensors has no "${k}"`);
  return t as Tensor<"float32">;
};
const scalar = (k: string) => gold(k).data[0];
const tokens: Tensor<"int32"> = {
  dtype: "int32",
  shape: [2, 7],
  data: Int32Array.from([49, 3, 17, 5, 42, 8, 0, 49, 11, 11, 2, 30, 7, 19]),
};

function assertScalar(name: string, actual: number | undefined, expected: number) {
  assert.equal(typeof actual, "number", `${name}: no value`);
  const err = Math.abs(actual! - expected) / Math.abs(expected);
  assert.ok(
    err <= TOL,
    `${name}: ${actual} vs ${expected} (relative error ${err.toExponential(2)})`,
  );
}

async function setup(): Promise<{ model: HookedModel; tc0: Transcoder; tc1: Transcoder }> {
  const model = await loadModel(fixture("gpt2_tiny"));
  const [tc0, tc1] = [await loadTranscoder(tcPath(0)), await loadTranscoder(tcPath(1))];
  return { model, tc0, tc1 };
}

Deno.test("reference .pt transcoders load with the config and shapes they were saved with", async () => {
  const { tc0, tc1 } = await setup();
  for (const [l, tc] of [[0, tc0], [1, tc1]] as const) {
    assert.equal(tc.layer, l);
    assert.equal(tc.cfg.hook_name, `blocks.${l}.ln2.hook_normalized`);
    assert.equal(tc.cfg.out_hook_name, `blocks.${l}.hook_mlp_out`);
    assert.deepEqual([tc.cfg.d_in, tc.cfg.d_sae, tc.cfg.d_out], [16, 32, 16]);
  }
});

Deno.test("losses with transcoders spliced in or MLPs zero-ablated equal PyTorch's", async () => {
  const { model, tc0, tc1 } = await setup();
  const cases: [string, MlpReplacements][] = [
    ["loss_clean", new Map()],
    ["loss_tc0", new Map([[0, tc0.asReplacement()]])],
    ["loss_tc1", new Map([[1, tc1.asReplacement()]])],
    ["loss_tc01", new Map([[0, tc0.asReplacement()], [1, tc1.asReplacement()]])],
    ["loss_zero01", new Map([[0, "zero"], [1, "zero"]])],
  ];
  for (const [key, mlpReplacements] of cases) {
    assertScalar(key, await model.loss(tokens, { mlpReplacements }), scalar(key));
  }
});

Deno.test("KL(clean || both spliced) and the spliced pass's loss equal PyTorch's", async () => {
  const { model, tc0, tc1 } = await setup();
  const res = await model.forward(tokens, {
    loss: "mean",
    compareWith: new Map([[0, tc0.asReplacement()], [1, tc1.asReplacement()]]),
  });
  assertScalar("loss (clean pass)", res.loss, scalar("loss_clean"));
  assertScalar("compareLoss", res.compareLoss, scalar("loss_tc01"));
  assertScalar("kl_tc01", res.kl, scalar("kl_tc01"));
});

Deno.test("layer 1's feature activations with both transcoders spliced equal PyTorch's", async () => {
  const { model, tc0, tc1 } = await setup();
  const name = "blocks.1.transcoder.hook_acts";
  const { cache } = await model.runWithCache(tokens, {
    names: [name],
    mlpReplacements: new Map([[0, tc0.asReplacement()], [1, tc1.asReplacement()]]),
  });
  const acts = cache.get(name), expected = gold("acts_tc01_layer1");
  assert.deepEqual(acts.shape, [2, 7, 32]);
  const err = relativeError(acts.data, expected.data);
  assert.ok(err <= TOL, `${name}: relative error ${err.toExponential(2)} > ${TOL}`);
  // The same features fire (no activation straddles zero at this tolerance).
  let mismatched = 0;
  for (let i = 0; i < acts.data.length; i++) {
    if ((acts.data[i] > 0) !== (expected.data[i] > 0) && Math.abs(expected.data[i]) > 1e-4) {
      mismatched++;
    }
  }
  assert.equal(mismatched, 0, "active feature sets differ");
});

Deno.test("a transcoder whose d_in does not match d_model is refused when spliced", async () => {
  const model = await loadModel(fixture("gpt2_tiny"));
  const bad = Transcoder.random({
    d_in: 8,
    d_sae: 32,
    d_out: 16,
    hook_name: "blocks.0.ln2.hook_normalized",
    hook_layer: 0,
    out_hook_name: "blocks.0.hook_mlp_out",
  }, 0);
  await assert.rejects(
    model.loss(tokens, { mlpReplacements: new Map([[0, bad.asReplacement()]]) }),
    (e: unknown) =>
      e instanceof TranscoderError &&
      /d_in 8 does not match the model's d_model 16/.test(e.message),
  );
});

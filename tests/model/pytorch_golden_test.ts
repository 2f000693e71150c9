/**
 * Parity with PyTorch: tests/fixtures/make_gpt2_golden.py (Debian's python3-torch) wrote a tiny
 * random GPT-2 in Hugging Face layout (float32, float16, bfloat16, and with the `transformer.`
 * prefix) and computed, in float64 the TransformerLens way, the processed weights, every hook,
 * the logits, the loss and patched runs. Ours agree to 1e-4 relative (max |a - e| / max |e| per
 * tensor; -inf entries of attention scores must match exactly).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../lib/formats/safetensors.ts";
import { loadModel } from "../../lib/model/load.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";

const TOL = 1e-4;
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const golden = (await readSafetensors(fixture("gpt2_tiny/golden.safetensors"))).tensors;
const gold = (k: string): Tensor => {
  const t = golden.get(k);
  if (!t) throw new Error(`golden.safetensors has no "${k}"`);
  return t;
};
const tokens = gold("tokens");

function assertClose(name: string, actual: Tensor, expected: Tensor, tol = TOL) {
  assert.deepEqual(actual.shape, expected.shape, `${name}: shape`);
  const err = relativeError(actual.data as Float32Array, expected.data as Float32Array);
  assert.ok(err <= tol, `${name}: relative error ${err.toExponential(2)} > ${tol}`);
}

Deno.test("processed weights equal TransformerLens processing done by PyTorch", async () => {
  const model = await loadModel(fixture("gpt2_tiny"));
  const processed = [...golden.keys()].filter((k) => k.startsWith("processed."));
  assert.equal(processed.length, model.weights.size);
  for (const k of processed) {
    assertClose(k, model.param(k.slice("processed.".length)), gold(k), 1e-5);
  }
});

Deno.test("every hook, the logits and the loss equal PyTorch's", async () => {
  const model = await loadModel(fixture("gpt2_tiny"));
  const { logits, cache } = await model.runWithCache(tokens as Tensor<"int32">);
  assert.equal(cache.size, model.hookNames().length);
  for (const [name, t] of cache) assertClose(name, t, gold(name));
  assertClose("logits", logits!, gold("logits_processed"));
  assertClose(
    "loss per token",
    await model.loss(tokens as Tensor<"int32">, { perToken: true }),
    gold("loss_per_token"),
  );
  const loss = await model.loss(tokens as Tensor<"int32">);
  assert.ok(Math.abs(loss - (gold("loss").data[0] as number)) < 1e-5, `loss ${loss}`);
});

Deno.test("without processing, logits and the residual stream equal PyTorch's unprocessed run", async () => {
  const model = await loadModel(fixture("gpt2_tiny"), { processing: false });
  const { logits, cache } = await model.runWithCache(tokens as Tensor<"int32">, {
    names: ["blocks.1.hook_resid_post"],
  });
  assertClose("logits", logits!, gold("logits_unprocessed"));
  assertClose(
    "resid_post",
    cache.get("blocks.1.hook_resid_post"),
    gold("unprocessed.blocks.1.hook_resid_post"),
  );
});

Deno.test("patched runs equal PyTorch's (MLP 0 zeroed; layer-1 pattern uniform)", async () => {
  const model = await loadModel(fixture("gpt2_tiny"));
  const [b, p] = tokens.shape;
  const zeros: Tensor<"float32"> = {
    dtype: "float32",
    shape: [b, p, model.cfg.d_model],
    data: new Float32Array(b * p * model.cfg.d_model),
  };
  assertClose(
    "mlp0 zero",
    await model.run(tokens as Tensor<"int32">, { patches: { "blocks.0.hook_mlp_out": zeros } }),
    gold("logits_patched_mlp0_zero"),
  );
  const h = model.cfg.n_heads;
  const pat = new Float32Array(b * h * p * p);
  for (let x = 0; x < b * h; x++) {
    for (let q = 0; q < p; q++) {
      for (let k = 0; k <= q; k++) pat[x * p * p + q * p + k] = 1 / (q + 1);
    }
  }
  const uniform: Tensor<"float32"> = { dtype: "float32", shape: [b, h, p, p], data: pat };
  assertClose(
    "uniform pattern",
    await model.run(tokens as Tensor<"int32">, {
      patches: { "blocks.1.attn.hook_pattern": uniform },
    }),
    gold("logits_patched_pattern1_uniform"),
  );
});

for (const variant of ["gpt2_tiny_f16", "gpt2_tiny_bf16"]) {
  Deno.test(`${variant}: half-precision weights load and give PyTorch's logits for the rounded weights`, async () => {
    const model = await loadModel(fixture(variant));
    const expected = (await readSafetensors(fixture(`${variant}/golden_logits.safetensors`)))
      .tensors.get("logits_processed")!;
    assertClose("logits", await model.run(tokens as Tensor<"int32">), expected);
  });
}

Deno.test("a transformer.-prefixed state dict with attention-mask buffers loads the same model", async () => {
  const model = await loadModel(fixture("gpt2_tiny_prefixed"));
  assertClose("logits", await model.run(tokens as Tensor<"int32">), gold("logits_processed"));
});

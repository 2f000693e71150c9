/**
 * Ten AdamW steps of a tiny GPT-2 language model (tied unembedding, weight decay on matrices,
 * gradient clipping, warmup) against PyTorch running the same recipe
 * (tests/fixtures/make_training_golden.py, outputs committed): per-step losses and gradient
 * norms to 1e-4 relative, and the parameters after ten steps to 1e-4 relative
 * (max |a - e| / max |e| per tensor).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../lib/formats/safetensors.ts";
import { gpt2Config } from "../../lib/model/config.ts";
import { Runtime } from "../../lib/graph/session.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { lmParamShapes, lmStepSpec } from "../../lib/train/lm_training.ts";
import { initialState, Trainer } from "../../lib/train/trainer.ts";

const golden = (await readSafetensors(
  fileURLToPath(new URL("../fixtures/training_golden/lm_steps.safetensors", import.meta.url)),
)).tensors;

Deno.test("ten optimiser steps of a tiny model give PyTorch's losses and parameters", async () => {
  const cfg = gpt2Config({
    n_layers: 2,
    d_model: 16,
    n_heads: 4,
    d_mlp: 64,
    d_vocab: 50,
    n_ctx: 8,
  });
  const params = new Map<string, Tensor<"float32">>();
  for (const name of lmParamShapes(cfg).keys()) {
    params.set(name, golden.get(`init.${name}`) as Tensor<"float32">);
  }
  const trainer = await Trainer.create(
    new Runtime({ threads: 1 }),
    lmStepSpec(cfg, 4, { weightDecay: 0.1, maxGradNorm: 1.0 }),
    initialState(params),
    { name: "constantwithwarmup", lr: 1e-2, warmupSteps: 3, totalSteps: 10 },
  );
  const batches = golden.get("batches")!;
  const losses = golden.get("losses")!.data as Float32Array,
    norms = golden.get("grad_norms")!.data as Float32Array;
  const lrs = golden.get("lrs")!.data as Float32Array;
  for (let t = 0; t < 10; t++) {
    const tokens: Tensor<"int32"> = {
      dtype: "int32",
      shape: [4, 8],
      data: (batches.data as Int32Array).slice(t * 32, (t + 1) * 32),
    };
    const r = await trainer.step({ tokens });
    assert.ok(Math.abs(r.lr - lrs[t]) <= 1e-7, `step ${t}: lr ${r.lr} vs ${lrs[t]}`);
    assert.ok(
      Math.abs(r.loss - losses[t]) <= 1e-4 * losses[t],
      `step ${t}: loss ${r.loss} vs PyTorch ${losses[t]}`,
    );
    assert.ok(
      Math.abs(r.gradNorm - norms[t]) <= 1e-4 * norms[t],
      `step ${t}: grad norm ${r.gradNorm} vs PyTorch ${norms[t]}`,
    );
  }
  for (const [name, t] of trainer.state.params) {
    const expected = golden.get(`final.${name}`)!.data as Float32Array;
    if (name.endsWith("attn.b_K")) {
      // The key bias's exact gradient is zero (it adds q.b_K to every score of a query, which
      // the softmax ignores); both implementations see only rounding noise, which Adam turns
      // into steps of +-lr. Check that it moved by no more than that, in both.
      const init = golden.get(`init.${name}`)!.data as Float32Array;
      for (let i = 0; i < init.length; i++) {
        assert.ok(
          Math.abs(t.data[i] - init[i]) <= 0.1 + 1e-3 &&
            Math.abs(expected[i] - init[i]) <= 0.1 + 1e-3,
        );
      }
      continue;
    }
    const err = relativeError(t.data, expected);
    assert.ok(err <= 1e-4, `${name} after 10 steps: relative error ${err.toExponential(2)}`);
  }
});

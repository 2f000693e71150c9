/**
 * Finite-difference checks of whole losses: the gradient of a tiny GPT-2's next-token loss (with
 * LayerNorm weights and the tied unembedding, as trained) and of the transcoder training loss
 * (normalised MSE and L1) with respect to every parameter. Along random
 * directions d, `grad . d` must equal `(loss(p + eps d) - loss(p - eps d)) / (2 eps)` computed by
 * onnxruntime in float32 with eps = 1e-3 (the central difference's error is O(eps^2): at 1e-2
 * it reaches 20% on these losses); tolerance 2e-3 relative to max(|derivative|, 0.1).
 *
 * Ghost gradients are left out: their rescaling factors are detached (stop-gradient), so their
 * gradient is by design not the derivative of the loss; the PyTorch parity tests cover them.
 */
import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/builder.ts";
import { gradients } from "../../lib/graph/autodiff.ts";
import type { Value } from "../../lib/graph/ir.ts";
import { Runtime } from "../../lib/graph/session.ts";
import { gpt2Config } from "../../lib/model/config.ts";
import { randn, Rng } from "../../lib/tensor/random.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { initialLmParams, lmStepSpec } from "../../lib/train/lm_training.ts";
import type { StepSpec } from "../../lib/train/train_step.ts";
import { initialTranscoderParams } from "../../lib/transcoder/transcoder.ts";
import { transcoderStepSpec } from "../../lib/transcoder/_training_step.ts";

/** Checks a spec's loss gradient w.r.t. all its parameters along three random directions. */
async function checkSpecGradient(
  spec: StepSpec,
  params: Map<string, Tensor<"float32">>,
  batch: Record<string, Tensor>,
) {
  const g = new Graph();
  const values = new Map<string, Value>();
  for (const [name, shape] of spec.params) values.set(name, g.input(name, "float32", shape));
  const { loss } = spec.forward(g, values);
  const names = [...values.keys()];
  const grads = gradients(g, loss, names.map((n) => values.get(n)!));
  g.output("loss", loss);
  names.forEach((n, i) => g.output(`grad:${n}`, grads[i]));
  const c = await new Runtime({ threads: 1 }).compile(g);
  const feeds = (ps: Map<string, Tensor<"float32">>) => ({ ...batch, ...Object.fromEntries(ps) });
  const res = await c.run(feeds(params));
  const rng = new Rng(5), eps = 1e-3;
  for (let trial = 0; trial < 3; trial++) {
    const dirs = new Map(names.map((n) => [n, randn(params.get(n)!.shape, rng)]));
    let analytic = 0;
    for (const n of names) {
      const gr = res[`grad:${n}`].data as Float32Array, d = dirs.get(n)!.data;
      for (let i = 0; i < d.length; i++) analytic += gr[i] * d[i];
    }
    const shifted = async (s: number) => {
      const ps = new Map(names.map((n) => {
        const x = params.get(n)!, d = dirs.get(n)!.data;
        return [n, {
          dtype: "float32" as const,
          shape: x.shape,
          data: x.data.map((v, i) => v + s * eps * d[i]),
        }];
      }));
      return (await c.run(feeds(ps), ["loss"])).loss.data[0] as number;
    };
    const numeric = (await shifted(1) - await shifted(-1)) / (2 * eps);
    const err = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 0.1);
    assert.ok(
      err < 2e-3,
      `directional derivative ${analytic} vs finite difference ${numeric} (rel err ${err})`,
    );
  }
}

Deno.test("the GPT-2 language-model loss gradient matches finite differences", async () => {
  const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, d_vocab: 40, n_ctx: 6 });
  const params = initialLmParams(cfg, 1);
  // Larger weights than GPT-2's 0.02 init, so that every path carries gradient.
  for (const [k, t] of params) {
    if (t.shape.length >= 2) {
      params.set(k, {
        ...t,
        data: t.data.map((v) => v * 4),
      });
    }
  }
  const tokens: Tensor<"int32"> = {
    dtype: "int32",
    shape: [2, 6],
    data: Int32Array.from([0, 5, 9, 2, 7, 1, 3, 3, 8, 1, 0, 6]),
  };
  await checkSpecGradient(lmStepSpec(cfg, 2, {}), params, { tokens });
});

Deno.test("the transcoder training loss gradient (normalised MSE, L1) matches finite differences", async () => {
  const sizes = { d_in: 8, d_sae: 24, d_out: 8 };
  const params = initialTranscoderParams(sizes, 2);
  const rng = new Rng(3);
  for (const n of ["b_enc", "b_dec", "b_dec_out"]) {
    params.get(n)!.data.set(randn(params.get(n)!.shape, rng, 0.1).data);
  }
  const batch = { x: randn([16, 8], rng), y: randn([16, 8], rng) };
  // The step differentiates the renormalised decoder; check the loss as a function of it.
  const spec = transcoderStepSpec({
    ...sizes,
    batch: 16,
    l1Coefficient: 1e-2,
    useGhostGrads: false,
  });
  await checkSpecGradient({ ...spec, prepare: undefined }, params, batch);
});

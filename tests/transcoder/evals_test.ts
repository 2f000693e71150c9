/**
 * Transcoder evaluation against direct computations on a tiny random model: L0, normalised MSE
 * and explained variance of the MLP output from the clean run's activations (float64 host sums),
 * CE clean / replaced / zero-ablated and KL from separate forward passes, feature frequencies.
 * Tolerance 1e-5 relative (float32 losses).
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { evaluateTranscoders } from "../../lib/transcoder/evals.ts";
import { mlpTranscoderConfig, Transcoder } from "../../lib/transcoder/transcoder.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";

const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 2, n_ctx: 10, d_vocab: 60 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 1, 0.3));
const tc = (layer: number, seed: number) =>
  Transcoder.random(mlpTranscoderConfig(layer, { d_in: 16, d_sae: 32 }), seed);
const transcoders = [tc(0, 1), tc(1, 2)];
const rows: Tensor<"int32"> = {
  dtype: "int32",
  shape: [6, 10],
  data: Int32Array.from({ length: 60 }, (_, i) => (i * 11 + 3) % 60),
};
const close = (a: number, e: number, what: string, tol = 1e-5) =>
  assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}: ${a} vs ${e}`);

Deno.test("evaluateTranscoders equals direct computations", async () => {
  const res = await evaluateTranscoders(model, transcoders, rows, { batchSize: 4, quiet: true });
  assert.equal(res.tokens, 60);
  const clean = await model.loss(rows);
  close(res.all.ceClean, clean, "clean CE");
  const both = new Map(transcoders.map((t) => [t.layer, t.asReplacement()]));
  close(res.all.ceReplaced, await model.loss(rows, { mlpReplacements: both }), "all replaced CE");
  close(
    res.all.ceZeroAblated,
    await model.loss(rows, {
      mlpReplacements: new Map([[0, "zero" as const], [1, "zero" as const]]),
    }),
    "all zero CE",
  );
  close(res.all.kl, (await model.forward(rows, { loss: "mean", compareWith: both })).kl!, "all KL");
  const { cache } = await model.runWithCache(rows, {
    names: [
      "blocks.0.ln2.hook_normalized",
      "blocks.0.hook_mlp_out",
      "blocks.1.ln2.hook_normalized",
      "blocks.1.hook_mlp_out",
    ],
  });
  for (const [k, t] of transcoders.entries()) {
    const r = res.perLayer[k];
    assert.equal(r.layer, t.layer);
    const single = new Map([[t.layer, t.asReplacement()]]);
    close(
      r.ceReplaced,
      await model.loss(rows, { mlpReplacements: single }),
      `layer ${t.layer} replaced CE`,
    );
    const ceZero = await model.loss(rows, {
      mlpReplacements: new Map([[t.layer, "zero" as const]]),
    });
    close(r.ceZeroAblated, ceZero, `layer ${t.layer} zero CE`);
    close(r.ceScore, (r.ceZeroAblated - r.ceReplaced) / (r.ceZeroAblated - r.ceClean), "CE score");
    assert.ok(r.kl > 0);
    close(
      r.kl,
      (await model.forward(rows, { loss: "mean", compareWith: single })).kl!,
      `layer ${t.layer} KL`,
    );
    const x = cache.get(`blocks.${t.layer}.ln2.hook_normalized`),
      y = cache.get(`blocks.${t.layer}.hook_mlp_out`);
    const z = await t.encode({ dtype: "float32", shape: [60, 16], data: x.data });
    const yHat = await t.decode(z);
    let err = 0, sq = 0, active = 0;
    const mean = new Float64Array(16);
    for (let i = 0; i < 60 * 16; i++) mean[i % 16] += y.data[i] / 60;
    let variance = 0;
    for (let i = 0; i < 60 * 16; i++) {
      err += (y.data[i] - yHat.data[i]) ** 2;
      sq += y.data[i] ** 2;
      variance += (y.data[i] - mean[i % 16]) ** 2;
    }
    const counts = new Float64Array(32);
    for (let i = 0; i < z.data.length; i++) if (z.data[i] > 0) (active++, counts[i % 32]++);
    close(r.nmse, err / sq, "NMSE");
    close(r.explainedVariance, 1 - err / variance, "explained variance", 1e-4);
    close(r.l0, active / 60, "L0");
    assert.deepEqual(
      Array.from(r.logFrequencies),
      Array.from(counts, (c) => Math.fround(Math.log10(c / 60 + 1e-10))),
    );
    assert.equal(r.deadFeatures, counts.filter((c) => c === 0).length);
    assert.equal(r.liveFeatures, counts.filter((c) => Math.log10(c / 60 + 1e-10) > -4).length);
  }
});

Deno.test("evaluateTranscoders refuses bad input", async () => {
  await assert.rejects(evaluateTranscoders(model, [], rows), /no transcoders to evaluate/);
  await assert.rejects(
    evaluateTranscoders(model, [tc(0, 1), tc(0, 2)], rows),
    /two transcoders for one layer: 0, 0/,
  );
  const wide = Transcoder.random({
    d_in: 8,
    d_sae: 4,
    d_out: 8,
    hook_name: "blocks.0.ln2.hook_normalized",
    hook_layer: 0,
    out_hook_name: "blocks.0.hook_mlp_out",
  }, 0);
  await assert.rejects(
    evaluateTranscoders(model, [wide], rows),
    /transcoder for layer 0 has d_in 8, d_out 8; the model's d_model is 16/,
  );
  await assert.rejects(
    evaluateTranscoders(model, transcoders, {
      dtype: "int32",
      shape: [0, 10],
      data: new Int32Array(0),
    }),
    /no token rows to evaluate on/,
  );
});

/**
 * Sparse autoencoders on the transcoder engine: the reference's SAE `.pt` files (written by real
 * PyTorch, tests/fixtures/make_sae_fixtures.py), SAELens folders, splicing on the MLP's output
 * and input checked against hand-made patched runs, the metrics against a recomputation from
 * the cache, and training with the output bias tied.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensors, writeSafetensors } from "../../lib/formats/safetensors.ts";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { CircuitContext } from "../../lib/circuits/context.ts";
import { computeFeatureStats } from "../../lib/dashboards/feature_stats.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import { type Tensor, tensor } from "../../lib/tensor/tensor.ts";
import {
  evaluateTranscoders,
  loadTranscoder,
  mlpSaeConfig,
  mlpTranscoderConfig,
  saveTranscoderFolder,
  trainTranscoder,
  Transcoder,
  TranscoderError,
} from "../../lib/transcoder/mod.ts";

const SAE_DIR = fileURLToPath(new URL("../fixtures/pt/sae/", import.meta.url));
const STEM = "final_sparse_autoencoder_pythia-410m_blocks.1.hook_mlp_out_64";

const cfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 2, d_vocab: 40, n_ctx: 8 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 3));
const tokens = tensor(Int32Array.from([1, 5, 9, 2, 33, 7, 7, 12, 3, 0, 21, 8], (v) => v), [2, 6]);
const f32 = (t: Tensor) => t as Tensor<"float32">;

/** An SAE with nonzero biases (a fresh one has zeros, which would hide a mis-tied bias). */
function sae(site: "mlp_out" | "mlp_in", layer = 1): Transcoder {
  const s = Transcoder.random(mlpSaeConfig(layer, { d_in: 16, d_sae: 48 }, site), 7);
  s.b_dec.data.forEach((_, i, a) => (a[i] = 0.05 * Math.sin(i + 1)));
  s.b_enc.data.forEach((_, i, a) => (a[i] = 0.02 * Math.cos(i)));
  return s;
}

Deno.test("the reference's SAE .pt (is_transcoder false) loads as a tied SAE and reconstructs as PyTorch", async () => {
  const s = await loadTranscoder(join(SAE_DIR, `${STEM}.pt`));
  assert.equal(s.kind, "sae");
  assert.ok(s.tiedBias, "no b_dec_out: the decoder adds b_dec");
  assert.deepEqual(
    [s.cfg.hook_name, s.cfg.out_hook_name, s.cfg.hook_layer, s.cfg.d_in, s.cfg.d_out, s.cfg.d_sae],
    ["blocks.1.hook_mlp_out", "blocks.1.hook_mlp_out", 1, 16, 16, 64],
  );
  assert.equal(s.cfg.is_transcoder, false);
  const golden = (await readSafetensors(join(SAE_DIR, "golden_sae.safetensors"))).tensors;
  const z = await s.encode(f32(golden.get("x")!));
  const y = await s.decode(z);
  assert.ok(relativeError(z.data, f32(golden.get("z")!).data) < 1e-6);
  assert.ok(relativeError(y.data, f32(golden.get("y")!).data) < 1e-6);
  // The Pythia release's sparsity sidecar is a dict {"freqs": tensor}.
  assert.deepEqual(s.logSparsity!.data, golden.get("log_sparsity")!.data);
});

Deno.test("an SAE saves as a SAELens 'standard' folder (b_dec once) and loads back tied; a foreign SAELens SAE folder loads as an SAE", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = sae("mlp_out");
    await saveTranscoderFolder(join(dir, "ours"), s);
    const cfgJson = JSON.parse(await Deno.readTextFile(join(dir, "ours", "cfg.json")));
    assert.equal(cfgJson.architecture, "standard");
    assert.equal(cfgJson.hook_name, "blocks.1.hook_mlp_out");
    const stored = (await readSafetensors(join(dir, "ours", "sae_weights.safetensors"))).tensors;
    assert.deepEqual([...stored.keys()].sort(), ["W_dec", "W_enc", "b_dec", "b_enc"]);
    const back = await loadTranscoder(join(dir, "ours"));
    assert.equal(back.kind, "sae");
    assert.ok(back.tiedBias);
    assert.deepEqual(back.W_enc.data, s.W_enc.data);
    // SAELens's own layout: no out hook, no layer field beyond hook_layer, no b_dec_out.
    const foreign = join(dir, "saelens");
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(
      join(foreign, "cfg.json"),
      JSON.stringify({
        architecture: "standard",
        d_in: 16,
        d_sae: 48,
        hook_name: "blocks.2.hook_mlp_out",
        hook_layer: 2,
      }),
    );
    await writeSafetensors(
      join(foreign, "sae_weights.safetensors"),
      new Map([...s.params].filter(([n]) => n !== "b_dec_out")),
    );
    const f = await loadTranscoder(foreign);
    assert.equal(f.kind, "sae");
    assert.equal(f.cfg.out_hook_name, "blocks.2.hook_mlp_out");
    assert.deepEqual(f.b_dec_out.data, s.b_dec.data, "the output bias is b_dec, not zeros");
    // An arena-style transcoder folder (MLP-input hook, no out hook) still loads as a transcoder.
    await Deno.writeTextFile(
      join(foreign, "cfg.json"),
      JSON.stringify({ d_in: 16, d_sae: 48, hook_name: "blocks.2.ln2.hook_normalized" }),
    );
    const t = await loadTranscoder(foreign);
    assert.equal(t.kind, "transcoder");
    assert.equal(t.cfg.out_hook_name, "blocks.2.hook_mlp_out");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an MLP-output SAE spliced in equals patching hook_mlp_out with its reconstruction", async () => {
  const s = sae("mlp_out");
  const hook = "blocks.1.hook_mlp_out";
  const { cache } = await model.runWithCache(tokens, { names: [hook] });
  const recon = await s.decode(await s.encode(f32(cache.get(hook))));
  const patched = await model.run(tokens, { patches: { [hook]: recon } });
  const spliced = await model.runWithCache(tokens, {
    names: [hook, "blocks.1.sae.hook_acts"],
    mlpReplacements: new Map([[1, s.asReplacement()]]),
  });
  assert.ok(relativeError(spliced.cache.get(hook).data, recon.data) < 1e-6);
  assert.ok(relativeError(spliced.logits!.data, patched.data) < 1e-5);
  assert.deepEqual(spliced.cache.get("blocks.1.sae.hook_acts").shape, [2, 6, 48]);
});

Deno.test("an MLP-input SAE spliced in feeds the MLP its reconstruction (equals patching ln2.hook_normalized)", async () => {
  const s = sae("mlp_in");
  const hook = "blocks.1.ln2.hook_normalized";
  const { cache } = await model.runWithCache(tokens, { names: [hook] });
  const recon = await s.decode(await s.encode(f32(cache.get(hook))));
  const patched = await model.run(tokens, { patches: { [hook]: recon } });
  const spliced = await model.run(tokens, { mlpReplacements: new Map([[1, s.asReplacement()]]) });
  assert.ok(relativeError(spliced.data, patched.data) < 1e-5);
  const clean = await model.run(tokens);
  assert.ok(relativeError(spliced.data, clean.data) > 1e-4, "the splice changed something");
});

Deno.test("evaluating SAEs: L0, explained variance and CE against a recomputation from the cache", async () => {
  const out = sae("mlp_out"), inp = sae("mlp_in", 2);
  for (const s of [out, inp]) {
    const { perLayer } = await evaluateTranscoders(model, [s], tokens, { quiet: true });
    const e = perLayer[0];
    const { cache } = await model.runWithCache(tokens, { names: [s.cfg.hook_name] });
    const x = f32(cache.get(s.cfg.hook_name));
    const z = await s.encode(x), y = await s.decode(z);
    const n = 12, d = 16;
    let err = 0, fired = 0;
    const mean = new Float64Array(d);
    for (let i = 0; i < n * d; i++) mean[i % d] += x.data[i] / n;
    let variance = 0;
    for (let i = 0; i < n * d; i++) {
      err += (x.data[i] - y.data[i]) ** 2;
      variance += (x.data[i] - mean[i % d]) ** 2;
    }
    for (const v of z.data) if (v > 0) fired++;
    assert.ok(Math.abs(e.l0 - fired / n) < 1e-9, `${s.cfg.hook_name}: L0 ${e.l0} vs ${fired / n}`);
    assert.ok(Math.abs(e.explainedVariance - (1 - err / variance)) < 1e-4);
    const replaced = await model.loss(tokens, {
      mlpReplacements: new Map([[s.layer, s.asReplacement()]]),
    });
    assert.ok(Math.abs(e.ceReplaced - replaced) < 1e-5);
  }
});

Deno.test("feature statistics of SAEs read their own hook (the MLP's output is computed for an MLP-output SAE)", async () => {
  for (const s of [sae("mlp_out"), sae("mlp_in", 2)]) {
    const stats = await computeFeatureStats(model, s, tokens, { quiet: true });
    const { cache } = await model.runWithCache(tokens, { names: [s.cfg.hook_name] });
    const z = await s.encode(f32(cache.get(s.cfg.hook_name)));
    for (let f = 0; f < 48; f++) {
      let fired = 0, top = 0;
      for (let t = 0; t < 12; t++) {
        const v = z.data[t * 48 + f];
        if (v > 0) fired++;
        top = Math.max(top, v);
      }
      assert.equal(stats.frequency(f), fired / 12, `${s.cfg.hook_name} feature ${f}`);
      const best = stats.topExamples(f, 1)[0];
      if (fired) assert.ok(Math.abs(best.value - top) < 1e-5);
    }
  }
});

Deno.test("training an SAE: same recipe, no b_dec_out parameter, tied output bias, the loss falls", async () => {
  const rows = tensor(Int32Array.from({ length: 64 * 8 }, (_, i) => (i * 13 + (i >> 3)) % 40), [
    64,
    8,
  ]);
  const losses: number[] = [];
  const { transcoder: s, completed } = await trainTranscoder(model, rows, {
    layer: 1,
    sae: "mlp_out",
    dSae: 32,
    trainBatchSize: 64,
    totalTokens: 64 * 30,
    storeBatchSize: 8,
    nBatchesInBuffer: 4,
    warmupSteps: 0,
    lr: 3e-3,
  }, { onStep: (m) => losses.push(m.mseLoss) });
  assert.ok(completed);
  assert.equal(s.kind, "sae");
  assert.ok(s.tiedBias);
  assert.equal(s.cfg.hook_name, "blocks.1.hook_mlp_out");
  assert.ok(losses.at(-1)! < losses[0] * 0.7, `mse ${losses[0]} -> ${losses.at(-1)}`);
  // b_dec was initialised to the mean of the target (= input) activations, then trained.
  assert.ok(s.b_dec.data.some((v) => v !== 0));
});

Deno.test("an SAE where it cannot go: a clear error", async () => {
  const resid = Transcoder.random(
    {
      d_in: 16,
      d_sae: 8,
      d_out: 16,
      hook_name: "blocks.1.hook_resid_pre",
      hook_layer: 1,
      out_hook_name: "blocks.1.hook_resid_pre",
    },
    0,
  );
  assert.throws(() => resid.asReplacement(), TranscoderError);
  assert.throws(() => resid.asReplacement(), /cannot be spliced as an MLP replacement/);
  await assert.rejects(
    CircuitContext.create(model, [
      Transcoder.random(mlpTranscoderConfig(0, { d_in: 16, d_sae: 8 }), 0),
      sae("mlp_out"),
    ], [1, 2, 3]),
    /circuits need transcoders; the dictionary for layer 1 is an SAE/,
  );
});

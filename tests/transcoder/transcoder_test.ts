/**
 * Transcoder encode/decode against a float64 host computation (1e-5 relative), the sparse form,
 * splicing into a model (equal to patching hook_mlp_out with the transcoder's output), zero
 * ablation, the KL comparison pass, SAELens folders, and bad input.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { columnMeans } from "../../lib/transcoder/activation_store.ts";
import { loadTranscoder } from "../../lib/transcoder/load.ts";
import {
  parseTranscoderConfig,
  saveTranscoderFolder,
} from "../../lib/transcoder/saelens_folder.ts";
import { normalizeRows, toDense, Transcoder } from "../../lib/transcoder/transcoder.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import { randn, Rng } from "../../lib/tensor/random.ts";
import { randomTranscoder as randomTc } from "../helpers/random_transcoders.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";

const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, d_vocab: 40, n_ctx: 10 });

/** A transcoder with random biases too, so that every term is exercised. */
const randomTranscoder = (layer: number, seed: number) =>
  randomTc(layer, seed, { dSae: 48, biasSeed: seed + 100 });

function hostForward(tc: Transcoder, x: Tensor<"float32">) {
  const { d_in, d_sae, d_out } = tc.cfg;
  const n = x.shape[0];
  const z = new Float64Array(n * d_sae), y = new Float64Array(n * d_out);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d_sae; j++) {
      let s = tc.b_enc.data[j];
      for (let i = 0; i < d_in; i++) {
        s += (x.data[r * d_in + i] - tc.b_dec.data[i]) * tc.W_enc.data[i * d_sae + j];
      }
      z[r * d_sae + j] = Math.max(0, s);
    }
    for (let k = 0; k < d_out; k++) {
      let s = tc.b_dec_out.data[k];
      for (let j = 0; j < d_sae; j++) s += z[r * d_sae + j] * tc.W_dec.data[j * d_out + k];
      y[r * d_out + k] = s;
    }
  }
  return { z, y };
}

Deno.test("encode, encodeSparse and decode equal a float64 host computation", async () => {
  const tc = randomTranscoder(0, 1);
  const x = randn([5, 16], new Rng(2));
  const ref = hostForward(tc, x);
  const z = await tc.encode(x);
  assert.deepEqual(z.shape, [5, 48]);
  assert.ok(relativeError(z.data, ref.z) < 1e-5);
  const y = await tc.decode(z);
  assert.ok(relativeError(y.data, ref.y) < 1e-5);
  const sparse = await tc.encodeSparse(x);
  assert.equal(sparse.length, 5);
  for (const [r, row] of sparse.entries()) {
    const expected = [...ref.z.subarray(r * 48, (r + 1) * 48)].flatMap((
      v,
      j,
    ) => (v > 0 ? [j] : []));
    assert.deepEqual(Array.from(row.indices), expected);
  }
  assert.deepEqual((await tc.decode(sparse)).data, y.data);
  assert.equal(tc.layer, 0);
});

Deno.test("encode, encodeSparse and decode keep the leading dimensions of [..., d_in]", async () => {
  const tc = randomTranscoder(0, 1);
  const x = randn([2, 3, 16], new Rng(5)); // [batch, pos, d_in], as a cache returns it
  const flat = { ...x, shape: [6, 16] };
  const z = await tc.encode(x);
  assert.deepEqual(z.shape, [2, 3, 48]);
  assert.deepEqual(z.data, (await tc.encode(flat)).data);
  assert.deepEqual((await tc.encode({ ...x, shape: [16], data: x.data.slice(0, 16) })).shape, [48]);
  const y = await tc.decode(z);
  assert.deepEqual(y.shape, [2, 3, 16]);
  // Sparse rows come in row-major order of [batch, pos]; ids ascend, or values descend.
  const byId = await tc.encodeSparse(x),
    byValue = await tc.encodeSparse(x, { order: "activation" });
  assert.equal(byId.length, 6);
  for (const [r, row] of byValue.entries()) {
    assert.deepEqual([...row.indices].sort((a, b) => a - b), [...byId[r].indices]);
    for (let i = 1; i < row.values.length; i++) assert.ok(row.values[i - 1] >= row.values[i]);
    for (const [i, f] of row.indices.entries()) assert.equal(row.values[i], z.data[r * 48 + f]);
  }
});

Deno.test("encode and decode reject wrong shapes; sparse ids must be within d_sae", async () => {
  const tc = randomTranscoder(0, 1);
  await assert.rejects(
    tc.encode(randn([2, 15], new Rng(0))),
    /encode\(\): expected a float32 \[\.\.\., 16\] tensor, got float32 \[2, 15\]/,
  );
  await assert.rejects(
    tc.decode(randn([2, 16], new Rng(0))),
    /decode\(\): expected a float32 \[\.\.\., 48\] tensor, got float32 \[2, 16\]/,
  );
  assert.throws(
    () => toDense([{ indices: Int32Array.of(30000), values: Float32Array.of(1) }], 24576),
    /feature 30000 out of range for d_sae 24576/,
  );
  const params = new Map(tc.params);
  params.set("W_dec", { dtype: "float32", shape: [48, 15], data: new Float32Array(48 * 15) });
  assert.throws(
    () => new Transcoder(tc.cfg, params),
    /parameter "W_dec" has shape \[48, 15\], expected \[d_sae, d_out\] = \[48, 16\]/,
  );
  params.delete("b_enc");
  assert.throws(() => new Transcoder(tc.cfg, params), /missing parameter "b_enc" \[48\]/);
});

Deno.test("a spliced transcoder equals patching hook_mlp_out with its output; its activations are a hook", async () => {
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 3, 0.2));
  const tc = randomTranscoder(1, 4);
  const tokens = [[0, 5, 9, 2, 7, 1], [3, 3, 8, 1, 0, 6]];
  const repl = new Map([[1, tc.asReplacement()]]);
  const { logits, cache } = await model.runWithCache(tokens, {
    names: [
      "blocks.1.ln2.hook_normalized",
      "blocks.1.transcoder.hook_acts",
      "blocks.1.hook_mlp_out",
    ],
    mlpReplacements: repl,
  });
  const x = cache.get("blocks.1.ln2.hook_normalized");
  const flat = { dtype: "float32" as const, shape: [12, 16], data: x.data };
  const z = await tc.encode(flat);
  assert.deepEqual(cache.get("blocks.1.transcoder.hook_acts").shape, [2, 6, 48]);
  assert.ok(relativeError(cache.get("blocks.1.transcoder.hook_acts").data, z.data) < 1e-6);
  const yHat = await tc.decode(z);
  assert.ok(relativeError(cache.get("blocks.1.hook_mlp_out").data, yHat.data) < 1e-6);
  const patched = await model.run(tokens, {
    patches: { "blocks.1.hook_mlp_out": { dtype: "float32", shape: [2, 6, 16], data: yHat.data } },
  });
  assert.ok(relativeError(patched.data, logits!.data) < 1e-5);
  // Patching the feature activations flows through the decoder.
  const zeroActs = await model.run(tokens, {
    mlpReplacements: repl,
    patches: {
      "blocks.1.transcoder.hook_acts": {
        dtype: "float32",
        shape: [48],
        data: new Float32Array(48),
      },
    },
  });
  const bOut = { dtype: "float32" as const, shape: [16], data: tc.b_dec_out.data };
  const onlyBias = await model.run(tokens, { patches: { "blocks.1.hook_mlp_out": bOut } });
  assert.ok(relativeError(zeroActs.data, onlyBias.data) < 1e-5);
  await assert.rejects(
    model.runWithCache(tokens, { names: ["blocks.0.transcoder.hook_acts"], mlpReplacements: repl }),
    /unknown hook "blocks\.0\.transcoder\.hook_acts"/,
  );
});

Deno.test("zero ablation equals patching zeros; the comparison pass gives its loss and KL", async () => {
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 5, 0.2));
  const tokens = [[0, 5, 9, 2, 7, 1, 4]];
  const zero = new Map([[0, "zero" as const]]);
  const ablated = await model.loss(tokens, { mlpReplacements: zero });
  const patched = await model.loss(tokens, {
    patches: {
      "blocks.0.hook_mlp_out": { dtype: "float32", shape: [16], data: new Float32Array(16) },
    },
  });
  assert.ok(Math.abs(ablated - patched) < 1e-6);
  const same = await model.forward(tokens, { loss: "mean", compareWith: new Map() });
  assert.ok(Math.abs(same.kl!) < 1e-6, `KL of a pass against itself: ${same.kl}`);
  const cmp = await model.forward(tokens, { loss: "mean", compareWith: zero });
  assert.ok(Math.abs(cmp.compareLoss! - ablated) < 1e-5);
  assert.ok(cmp.kl! > 1e-4);
  // KL(clean || ablated) by hand from the logits, in float64.
  const [clean, abl] = [
    await model.run(tokens),
    await model.run(tokens, { mlpReplacements: zero }),
  ];
  let kl = 0;
  const V = cfg.d_vocab;
  for (let t = 0; t < 7; t++) {
    const lsm = (l: Float32Array) => {
      const row = Array.from(l.subarray(t * V, (t + 1) * V));
      const m = Math.max(...row), lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      return row.map((v) => v - lse);
    };
    const p = lsm(clean.data as Float32Array), q = lsm(abl.data as Float32Array);
    kl += p.reduce((s, lp, i) => s + Math.exp(lp) * (lp - q[i]), 0) / 7;
  }
  assert.ok(Math.abs(cmp.kl! - kl) < 1e-5 * Math.max(1, kl));
});

Deno.test("SAELens-style folders round-trip, in float32 and float16", async () => {
  const tc = randomTranscoder(1, 6);
  const dir = await Deno.makeTempDir();
  const sparsity = {
    dtype: "float32" as const,
    shape: [48],
    data: Float32Array.from({ length: 48 }, (_, i) => -1 - i / 10),
  };
  await saveTranscoderFolder(`${dir}/f32`, tc, { logSparsity: sparsity });
  const back = await loadTranscoder(`${dir}/f32`);
  assert.equal(back.source, `${dir}/f32`);
  assert.deepEqual(back.cfg, {
    ...tc.cfg,
    architecture: "transcoder",
    activation_fn_str: "relu",
    apply_b_dec_to_input: true,
    use_b_dec_out: true,
    normalize_activations: "none",
  });
  for (const [k, t] of tc.params) assert.deepEqual(back.params.get(k)!.data, t.data, k);
  assert.deepEqual(back.logSparsity!.data, sparsity.data);
  await saveTranscoderFolder(`${dir}/f16`, tc, { floatDtype: "F16" });
  const half = await loadTranscoder(`${dir}/f16`);
  assert.ok(relativeError(half.W_enc.data, tc.W_enc.data) < 1e-3);
  assert.equal(half.logSparsity, undefined);
  await Deno.writeTextFile(
    `${dir}/f16/cfg.json`,
    JSON.stringify({ d_in: 16, d_sae: 48, hook_name: "blocks.1.ln2.hook_normalized" }),
  );
  const minimal = await loadTranscoder(`${dir}/f16`);
  assert.equal(minimal.cfg.out_hook_name, "blocks.1.hook_mlp_out");
  await Deno.mkdir(`${dir}/empty`);
  await assert.rejects(
    loadTranscoder(`${dir}/empty`),
    /cfg\.json not found: expected a SAELens-style folder/,
  );
  await Deno.writeTextFile(
    `${dir}/f16/cfg.json`,
    JSON.stringify({ d_in: 16, d_sae: 0, hook_name: "blocks.1.ln2.hook_normalized" }),
  );
  await assert.rejects(
    loadTranscoder(`${dir}/f16`),
    /field "d_sae" is 0, expected a positive integer/,
  );
  const hook = "blocks.1.ln2.hook_normalized";
  assert.throws(
    () => parseTranscoderConfig({ d_in: 16, d_sae: 48, d_out: -1, hook_name: hook }),
    /field "d_out" is -1, expected a positive integer/,
  );
  assert.throws(
    () => parseTranscoderConfig({ d_in: 16, d_sae: 48, hook_name: hook, hook_layer: 3 }),
    /"hook_layer" is 3 but "hook_name" is "blocks\.1\.ln2\.hook_normalized" \(layer 1\)/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("normalizeRows keeps an all-zero row at zero; columnMeans refuses an empty input", () => {
  const m = new Float32Array([0, 0, 3, 4]);
  normalizeRows(m, 2);
  assert.deepEqual(Array.from(m), [0, 0, Math.fround(0.6), Math.fround(0.8)]);
  assert.throws(() => columnMeans(new Float32Array(0), 4), /need at least one whole row/);
  assert.throws(() => columnMeans(new Float32Array(6), 4), /6 values in rows of 4/);
});

Deno.test("two transcoders of the same shape share a compiled graph but each computes with its own weights", async () => {
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 8, 0.2));
  const [a, b] = [randomTranscoder(1, 11), randomTranscoder(1, 12)];
  const tokens = [[0, 5, 9, 2, 7, 1]];
  const lossWith = (tc: Transcoder) =>
    model.loss(tokens, { mlpReplacements: new Map([[1, tc.asReplacement()]]) });
  const klWith = async (tc: Transcoder) =>
    (await model.forward(tokens, { loss: "mean", compareWith: new Map([[1, tc.asReplacement()]]) }))
      .kl!;
  const [la, lb, ka, kb] = [await lossWith(a), await lossWith(b), await klWith(a), await klWith(b)];
  assert.notEqual(la, lb);
  assert.notEqual(ka, kb);
  // Each equals a run in a fresh model that never saw the other transcoder.
  const fresh = modelFromStateDict(cfg, randomStateDict(cfg, 8, 0.2));
  assert.equal(
    await fresh.loss(tokens, { mlpReplacements: new Map([[1, b.asReplacement()]]) }),
    lb,
  );
});

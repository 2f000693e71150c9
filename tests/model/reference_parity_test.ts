/**
 * The ONNX GPT-2 against the independent float64 TypeScript reference (tests/reference), on
 * tiny random configs: every hook and the logits agree to 1e-5 relative (max |a - e| / max |e|
 * per tensor, infinities matched exactly), with and without TransformerLens weight processing,
 * and under patches.
 */
import assert from "node:assert/strict";
import { type GPT2Config, gpt2Config } from "../../lib/model/config.ts";
import { HookedModel } from "../../lib/model/hooked_model.ts";
import { processWeights } from "../../lib/model/process_weights.ts";
import { NO_PROCESSING, type StateDict } from "../../lib/model/weights.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import { clone, type Tensor } from "../../lib/tensor/tensor.ts";
import { randomStateDict, referenceForward, type RefTensor } from "../reference/gpt2_reference.ts";

const TOL = 1e-5;

const configs: GPT2Config[] = [
  gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, d_vocab: 50, n_ctx: 12 }),
  gpt2Config({
    n_layers: 3,
    d_model: 12,
    n_heads: 1,
    d_mlp: 20,
    d_vocab: 31,
    n_ctx: 9,
    layer_norm_eps: 1e-3,
  }),
];

function tokensFor(cfg: GPT2Config, batch: number, pos: number, seed: number): number[][] {
  return Array.from(
    { length: batch },
    (_, b) =>
      Array.from({ length: pos }, (_, p) => (seed * 7 + b * 13 + p * 5 + p * p) % cfg.d_vocab),
  );
}

function copySd(sd: StateDict): StateDict {
  return new Map([...sd].map(([k, v]) => [k, clone(v)]));
}

function assertClose(name: string, actual: Tensor, expected: RefTensor, tol = TOL) {
  assert.deepEqual(actual.shape, expected.shape, `${name}: shape`);
  const err = relativeError(actual.data as Float32Array, expected.data);
  assert.ok(err <= tol, `${name}: relative error ${err.toExponential(2)} > ${tol}`);
}

for (const [i, cfg] of configs.entries()) {
  Deno.test(`config ${i}: every hook and the logits match the float64 reference, unprocessed weights`, async () => {
    const sd = randomStateDict(cfg, 10 + i) as StateDict;
    const model = new HookedModel(cfg, copySd(sd), NO_PROCESSING);
    const tokens = tokensFor(cfg, 2, cfg.n_ctx - 1, i);
    const ref = referenceForward(cfg, sd, tokens);
    const { logits, cache } = await model.runWithCache(tokens);
    assert.equal(cache.size, ref.hooks.size);
    for (const [name, t] of cache) assertClose(name, t, ref.hooks.get(name)!);
    assertClose("logits", logits!, ref.logits);
    const perToken = await model.loss(tokens, { perToken: true });
    assertClose("loss per token", perToken, ref.lossPerToken);
    assert.ok(Math.abs(await model.loss(tokens) - ref.loss) <= TOL * ref.loss);
  });

  Deno.test(`config ${i}: processed weights match the reference and keep the log-probabilities`, async () => {
    const raw = randomStateDict(cfg, 20 + i) as StateDict;
    const processed = copySd(raw);
    const applied = processWeights(processed, cfg);
    const model = new HookedModel(cfg, copySd(processed), applied);
    const tokens = tokensFor(cfg, 3, 5, i + 1);
    const ref = referenceForward(cfg, processed, tokens);
    const { logits, cache } = await model.runWithCache(tokens);
    for (const [name, t] of cache) assertClose(name, t, ref.hooks.get(name)!);
    assertClose("logits", logits!, ref.logits);
    // Processing changes logits by a per-token constant only: compare log-softmax in float64.
    const rawRef = referenceForward(cfg, raw, tokens);
    const lsm = (x: RefTensor) => {
      const v = cfg.d_vocab, out = new Float64Array(x.data.length);
      for (let r = 0; r < x.data.length / v; r++) {
        const row = x.data.subarray(r * v, (r + 1) * v);
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((s, y) => s + Math.exp(y - m), 0));
        for (let j = 0; j < v; j++) out[r * v + j] = row[j] - lse;
      }
      return out;
    };
    assert.ok(
      relativeError(lsm(ref.logits), lsm(rawRef.logits)) < 1e-6,
      "processing changed the probabilities",
    );
  });

  Deno.test(`config ${i}: patches match the reference; self-patching leaves logits unchanged`, async () => {
    const sd = randomStateDict(cfg, 30 + i) as StateDict;
    const model = new HookedModel(cfg, copySd(sd), NO_PROCESSING);
    const tokens = tokensFor(cfg, 2, 6, i + 2);
    const { logits, cache } = await model.runWithCache(tokens, {
      names: ["blocks.1.attn.hook_z", "blocks.0.hook_resid_mid"],
    });
    // (1) patching a hook with its own value changes nothing
    const same = await model.run(tokens, {
      patches: { "blocks.1.attn.hook_z": cache.get("blocks.1.attn.hook_z") },
    });
    assert.ok(relativeError(same.data, logits!.data) <= 1e-6);
    // (2) zeros at the MLP output of layer 0, and a [d_model] delta added at resid_mid 0
    const [b, p] = [2, 6];
    const zeros: Tensor<"float32"> = {
      dtype: "float32",
      shape: [b, p, cfg.d_model],
      data: new Float32Array(b * p * cfg.d_model),
    };
    const delta: Tensor<"float32"> = {
      dtype: "float32",
      shape: [cfg.d_model],
      data: Float32Array.from({ length: cfg.d_model }, (_, j) => Math.sin(j)),
    };
    const patched = await model.run(tokens, {
      patches: {
        "blocks.0.hook_mlp_out": zeros,
        "blocks.0.hook_resid_mid": { mode: "add", value: delta },
      },
    });
    const ref = referenceForward(cfg, sd, tokens, {
      patches: {
        "blocks.0.hook_mlp_out": {
          mode: "replace",
          value: { shape: zeros.shape as number[], data: new Float64Array(zeros.data.length) },
        },
        "blocks.0.hook_resid_mid": {
          mode: "add",
          value: { shape: [cfg.d_model], data: Float64Array.from(delta.data) },
        },
      },
    });
    assertClose("patched logits", patched, ref.logits);
    assert.ok(relativeError(patched.data, logits!.data) > 1e-3, "the patch had no effect");
    // (3) a replaced attention pattern (uniform over the causal keys)
    const pat = new Float32Array(b * cfg.n_heads * p * p);
    for (let x = 0; x < b * cfg.n_heads; x++) {
      for (let q = 0; q < p; q++) {
        for (let k = 0; k <= q; k++) pat[x * p * p + q * p + k] = 1 / (q + 1);
      }
    }
    const shape = [b, cfg.n_heads, p, p];
    const withPattern = await model.runWithCache(tokens, {
      names: ["blocks.1.attn.hook_z"],
      patches: { "blocks.1.attn.hook_pattern": { dtype: "float32", shape, data: pat } },
    });
    const refPattern = referenceForward(cfg, sd, tokens, {
      patches: {
        "blocks.1.attn.hook_pattern": {
          mode: "replace",
          value: { shape, data: Float64Array.from(pat) },
        },
      },
    });
    assertClose("pattern-patched logits", withPattern.logits!, refPattern.logits);
    assertClose(
      "pattern-patched z",
      withPattern.cache.get("blocks.1.attn.hook_z"),
      refPattern.hooks.get("blocks.1.attn.hook_z")!,
    );
  });
}

Deno.test("stopAtLayer returns the hooks before the stop layer and no logits", async () => {
  const cfg = configs[0];
  const sd = randomStateDict(cfg, 40) as StateDict;
  const model = new HookedModel(cfg, copySd(sd), NO_PROCESSING);
  const tokens = tokensFor(cfg, 1, 4, 0);
  const ref = referenceForward(cfg, sd, tokens);
  const { logits, cache } = await model.runWithCache(tokens, { stopAtLayer: 1 });
  assert.equal(logits, undefined);
  assert.deepEqual([...cache.keys()], [
    "hook_embed",
    "hook_pos_embed",
    ...[...ref.hooks.keys()].filter((n) => n.startsWith("blocks.0.")),
  ]);
  assertClose(
    "blocks.0.hook_resid_post",
    cache.get("blocks.0.hook_resid_post"),
    ref.hooks.get("blocks.0.hook_resid_post")!,
  );
  const filtered = await model.runWithCache(tokens, { names: (n) => n.endsWith("hook_pattern") });
  assert.deepEqual([...filtered.cache.keys()], [
    "blocks.0.attn.hook_pattern",
    "blocks.1.attn.hook_pattern",
  ]);
});

Deno.test("a graph extension reduces hook values in-graph and returns only its outputs", async () => {
  const cfg = configs[0];
  const sd = randomStateDict(cfg, 50) as StateDict;
  const model = new HookedModel(cfg, copySd(sd), NO_PROCESSING);
  const tokens = tokensFor(cfg, 2, 5, 3);
  const ref = referenceForward(cfg, sd, tokens);
  const res = await model.forward(tokens, {
    stopAtLayer: 1,
    extension: {
      key: "sum of squares",
      build(g, { hook, input }) {
        const x = hook("blocks.0.hook_mlp_out"); // [b, p, d]
        g.output("ss", g.reduceSum(g.mul(g.mul(x, x), input("scale", "float32", []))));
      },
      feeds: { scale: { dtype: "float32", shape: [], data: Float32Array.of(2) } },
    },
  });
  const expected = 2 * ref.hooks.get("blocks.0.hook_mlp_out")!.data.reduce((s, v) => s + v * v, 0);
  assert.ok(Math.abs((res.extra!.ss.data[0] as number) - expected) < 1e-5 * expected);
  assert.equal(res.cache.size, 0);
  await assert.rejects(
    model.forward(tokens, {
      stopAtLayer: 1,
      extension: { key: "late", build: (_g, { hook }) => void hook("blocks.1.hook_mlp_out") },
    }),
    /extension "late": hook "blocks\.1\.hook_mlp_out" is not computed here/,
  );
});

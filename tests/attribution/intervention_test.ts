/**
 * Feature interventions (lib/attribution/intervention.ts): on the embedded tiny model, the
 * identities circuit-tracer's interventions satisfy (no intervention and value = a change
 * nothing; with every layer constrained and attention frozen the model is linear in the
 * intervention; live interventions propagate, constrained ones do not); on a random tiny model,
 * agreement with runs built by hand from `model.forward` patches and a float64 host encoder;
 * generation against `HookedModel.generate` and against single-shot interventions on the final
 * sequence; and the errors. Tolerances are stated in each test (absolute on logits unless
 * "relative": then relative to the largest change measured).
 */
import assert from "node:assert/strict";
import {
  type FeatureIntervention,
  featureIntervention,
  featureInterventionGenerate,
} from "../../lib/attribution/intervention.ts";
import { gpt2Config } from "../../lib/model/config.ts";
import type { Patch } from "../../lib/model/hooked_model.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import type { Transcoder } from "../../lib/transcoder/transcoder.ts";
import { loadPretrained } from "../../lib/weights/pretrained.ts";
import { randomTranscoder } from "../helpers/random_transcoders.ts";

const { model, transcoders } = await loadPretrained("tiny");
const PROMPT = "The cat sat on the mat because it was warm."; // BOS + 11 tokens
const S = 2048; // d_sae of the tiny transcoders
const ALL = [0, 1, 2, 3];

/** max |a - b| over the entries. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const sub = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Float64Array.from({ length: a.length }, (_, i) => a[i] - b[i]);
const maxAbs = (a: ArrayLike<number>) => maxDiff(a, new Float64Array(a.length));

/** The strongest feature of a layer at a position, and its activation. */
function strongest(acts: Tensor<"float32">, pos: number): { feature: number; a: number } {
  const row = acts.data.subarray(pos * S, (pos + 1) * S);
  let f = 0;
  for (let j = 1; j < S; j++) if (row[j] > row[f]) f = j;
  return { feature: f, a: row[f] };
}

const cleanRun = await featureIntervention(model, transcoders, PROMPT, []);
const T = cleanRun.logits.shape[1];

Deno.test("no interventions: the logits are the clean model's, the activations its transcoders'", async () => {
  const tokens = model.toTokens(PROMPT);
  const { logits, cache } = await model.runWithCache(tokens, {
    names: ALL.map((l) => `blocks.${l}.ln2.hook_normalized`),
  });
  for (
    const options of [{}, { freezeAttention: false }, { constrainedLayers: ALL }, {
      constrainedLayers: [1, 2],
      activations: "input" as const,
    }]
  ) {
    const res = await featureIntervention(model, transcoders, tokens, [], options);
    assert.deepEqual(res.logits.shape, [1, T, 50257]);
    const e = maxDiff(res.logits.data, logits!.data);
    assert.ok(e < 1e-5, `${JSON.stringify(options)}: logits differ by ${e}`);
    for (const l of ALL) {
      // The transcoder's own encode (its compiled graph), BOS row forced to 0.
      const z = (await transcoders[l]!.encode(cache.get(`blocks.${l}.ln2.hook_normalized`))).data
        .slice();
      z.fill(0, 0, S);
      assert.deepEqual(res.activations[l]!.shape, [T, S]);
      const ea = maxDiff(res.activations[l]!.data, z);
      assert.ok(ea < 1e-5, `layer ${l} activations differ by ${ea}`);
    }
  }
  // Pre-activations: negative entries exist, BOS row is 0.
  const pre = await featureIntervention(model, transcoders, tokens, [], {
    applyActivationFunction: false,
  });
  assert.ok(pre.activations[2]!.data.some((x) => x < 0));
  assert.ok(pre.activations[2]!.data.subarray(0, S).every((x) => x === 0));
});

Deno.test("setting a feature to its own activation leaves the logits unchanged", async () => {
  const { feature, a } = strongest(cleanRun.activations[1]!, 5);
  assert.ok(a > 0.1, `feature ${feature} at position 5 is barely active (${a})`);
  for (const options of [{}, { freezeAttention: false }, { constrainedLayers: ALL }]) {
    const res = await featureIntervention(model, transcoders, PROMPT, [
      { layer: 1, pos: 5, feature, value: a },
    ], options);
    const e = maxDiff(res.logits.data, cleanRun.logits.data);
    assert.ok(e < 1e-5, `${JSON.stringify(options)}: logits moved by ${e}`);
  }
  // ...while any other value moves them (the check can fail).
  const moved = await featureIntervention(model, transcoders, PROMPT, [
    { layer: 1, pos: 5, feature, value: a + 0.5 },
  ]);
  assert.ok(maxDiff(moved.logits.data, cleanRun.logits.data) > 1e-3);
});

Deno.test("every layer constrained, attention frozen: the logits are linear in the intervention", async () => {
  // The strongest feature of layer 1 (largest change, so float noise, ~2e-5 on the logits,
  // stays far below the tolerance).
  const z = cleanRun.activations[1]!.data;
  let best = S;
  for (let i = S; i < z.length; i++) if (z[i] > z[best]) best = i;
  const pos = Math.floor(best / S), feature = best % S, a = z[best];
  const at = (value: number, constrainedLayers?: number[]) =>
    featureIntervention(model, transcoders, PROMPT, [{ layer: 1, pos, feature, value }], {
      constrainedLayers,
      applyActivationFunction: false,
      activations: "input",
    });
  const base = cleanRun.logits.data;
  const [r0, r2, r3] = await Promise.all([at(0, ALL), at(2 * a, ALL), at(3 * a, ALL)]);
  const d0 = sub(r0.logits.data, base), d2 = sub(r2.logits.data, base);
  const d3 = sub(r3.logits.data, base);
  const scale = maxAbs(d0);
  assert.ok(scale > 1e-2, `ablation barely moves the logits (${scale})`);
  // Doubling adds a W_dec[f] where ablating removes it: exactly -1 times the change.
  const e1 = maxDiff(d2, d0.map((x) => -x)) / scale;
  const e2 = maxDiff(d3, d2.map((x) => 2 * x)) / scale;
  assert.ok(e1 < 1e-4, `2a vs -(ablation): relative error ${e1}`);
  assert.ok(e2 < 1e-4, `3a vs 2 (2a): relative error ${e2}`);
  // The same holds for the direct effect on every later feature's pre-activation.
  const same = await at(a, ALL); // value = a: the clean pre-activations
  for (const l of [2, 3]) {
    const c = same.activations[l]!.data;
    const p0 = sub(r0.activations[l]!.data, c), p2 = sub(r2.activations[l]!.data, c);
    const s = maxAbs(p0);
    assert.ok(s > 1e-3, `layer ${l}: no direct effect (${s})`);
    const e = maxDiff(p2, p0.map((x) => -x)) / s;
    assert.ok(e < 1e-4, `layer ${l} pre-activations: relative error ${e}`);
  }
  // Live, the MLPs react and the relation breaks (so the check above can fail).
  const [l0, l2] = await Promise.all([at(0), at(2 * a)]);
  const ld0 = sub(l0.logits.data, base), ld2 = sub(l2.logits.data, base);
  const live = maxDiff(ld2, ld0.map((x) => -x)) / maxAbs(ld0);
  assert.ok(live > 1e-3, `live interventions look linear too (${live})`);
});

Deno.test("a live intervention changes later layers' activations; constrained layers keep theirs", async () => {
  const { feature } = strongest(cleanRun.activations[0]!, 4);
  const iv: FeatureIntervention[] = [{ layer: 0, pos: { start: 2 }, feature, value: 0 }];
  const live = await featureIntervention(model, transcoders, PROMPT, iv);
  const frozen = await featureIntervention(model, transcoders, PROMPT, iv, {
    constrainedLayers: ALL,
  });
  const input = await featureIntervention(model, transcoders, PROMPT, iv, {
    constrainedLayers: ALL,
    activations: "input",
  });
  for (const l of [1, 2, 3]) {
    const clean = cleanRun.activations[l]!.data;
    const moved = maxDiff(live.activations[l]!.data, clean);
    assert.ok(moved > 1e-2, `layer ${l}: live activations moved by only ${moved}`);
    assert.equal(maxDiff(frozen.activations[l]!.data, clean), 0, `layer ${l}: frozen moved`);
    // What the frozen layers' MLP inputs would encode to does move (the direct effect).
    assert.ok(maxDiff(input.activations[l]!.data, clean) > 1e-3, `layer ${l}: no direct effect`);
  }
  // The intervened entries hold their values ("applied"); the rest of layer 0 is unchanged.
  for (const res of [live, frozen]) {
    const z = res.activations[0]!.data;
    for (let p = 2; p < T; p++) assert.equal(z[p * S + feature], 0);
    const rest = z.map((
      x,
      i,
    ) => (i % S === feature && i >= 2 * S ? cleanRun.activations[0]!.data[i] : x));
    assert.equal(maxDiff(rest, cleanRun.activations[0]!.data), 0);
  }
  // The constrained run's downstream MLPs did not react: its logits differ from the live run's.
  assert.ok(maxDiff(frozen.logits.data, live.logits.data) > 1e-3);
});

// ---- an independent reference on a random model -------------------------------------------

const rcfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 4, n_ctx: 12, d_vocab: 50 });
const rmodel = modelFromStateDict(rcfg, randomStateDict(rcfg, 7, 0.3));
const rtcs = [0, 1, 2].map((l) => randomTranscoder(l, 10 + l, { biasSeed: 20 + l }));
const rtokens = [1, 5, 9, 13, 2, 44, 7, 30];
const RT = rtokens.length, RD = 16, RS = 32;

/** Host float64 pre-activations `(x - b_dec) W_enc + b_enc` `[T, d_sae]`, BOS row 0. */
function hostPre(tc: Transcoder, x: Float32Array): Float64Array {
  const W = tc.W_enc.data, be = tc.b_enc.data, bd = tc.b_dec.data;
  const out = new Float64Array(RT * RS);
  for (let t = 1; t < RT; t++) {
    for (let j = 0; j < RS; j++) {
      let s = be[j];
      for (let k = 0; k < RD; k++) s += (x[t * RD + k] - bd[k]) * W[k * RS + j];
      out[t * RS + j] = s;
    }
  }
  return out;
}
/** `sum (value - relu(pre[pos, f])) W_dec[f]` at each (pos, f), as a `[1, T, d]` tensor. */
function hostDelta(
  tc: Transcoder,
  pre: Float64Array,
  ivs: { pos: number; feature: number; value: number }[],
): Tensor<"float32"> {
  const out = new Float32Array(RT * RD);
  for (const { pos, feature, value } of ivs) {
    const delta = value - Math.max(0, pre[pos * RS + feature]);
    for (let k = 0; k < RD; k++) out[pos * RD + k] += delta * tc.W_dec.data[feature * RD + k];
  }
  return { dtype: "float32", shape: [1, RT, RD], data: out };
}
const ln2 = (l: number) => `blocks.${l}.ln2.hook_normalized`;
const rclean = await rmodel.runWithCache(rtokens);
const cleanPre = [0, 1, 2].map((l) => hostPre(rtcs[l], rclean.cache.get(ln2(l)).data));
/** An active feature at a position of a layer, by the host encoder. */
function activeAt(l: number, pos: number): number {
  let f = 0;
  for (let j = 1; j < RS; j++) if (cleanPre[l][pos * RS + j] > cleanPre[l][pos * RS + f]) f = j;
  assert.ok(cleanPre[l][pos * RS + f] > 0.05, `no active feature at layer ${l}, position ${pos}`);
  return f;
}

Deno.test("random model: one ablation equals a hand-built add patch of -a W_dec[f]", async () => {
  const f = activeAt(1, 5);
  const res = await featureIntervention(rmodel, rtcs, rtokens, [
    { layer: 1, pos: 5, feature: f, value: 0 },
  ], { freezeAttention: false });
  const ref = await rmodel.forward(rtokens, {
    logits: "all",
    patches: {
      "blocks.1.hook_mlp_out": {
        mode: "add",
        value: hostDelta(rtcs[1], cleanPre[1], [{ pos: 5, feature: f, value: 0 }]),
      },
    },
    names: [ln2(2)],
  });
  const e = maxDiff(res.logits.data, ref.logits!.data);
  assert.ok(maxDiff(ref.logits!.data, rclean.logits!.data) > 1e-3, "the ablation does nothing");
  assert.ok(e < 1e-5, `logits differ from the hand-built run by ${e}`);
  // Layer 2's activations are the reference run's, by the host encoder.
  const z = hostPre(rtcs[2], ref.cache.get(ln2(2)).data).map((x) => Math.max(0, x));
  const ea = maxDiff(res.activations[2]!.data, z);
  assert.ok(ea < 1e-5, `layer 2 activations differ by ${ea}`);
});

Deno.test("random model: live and constrained interventions in two layers equal hand-built runs", async () => {
  const f0 = activeAt(0, 3), f2 = activeAt(2, 6), f1 = activeAt(1, 6);
  const patterns: Record<string, Patch> = {};
  for (const l of [0, 1, 2]) {
    patterns[`blocks.${l}.attn.hook_pattern`] = rclean.cache.get(`blocks.${l}.attn.hook_pattern`);
  }
  // Live, attention frozen: layer 2's current activation comes from the run patched at layer 0.
  const p0 = {
    "blocks.0.hook_mlp_out": {
      mode: "add" as const,
      value: hostDelta(rtcs[0], cleanPre[0], [{ pos: 3, feature: f0, value: 0 }]),
    },
  };
  const mid = await rmodel.runWithCache(rtokens, {
    names: [ln2(2)],
    patches: { ...patterns, ...p0 },
  });
  const pre2 = hostPre(rtcs[2], mid.cache.get(ln2(2)).data);
  assert.ok(Math.abs(pre2[6 * RS + f2] - cleanPre[2][6 * RS + f2]) > 1e-3, "no propagation");
  const ref = await rmodel.run(rtokens, {
    patches: {
      ...patterns,
      ...p0,
      "blocks.2.hook_mlp_out": {
        mode: "add",
        value: hostDelta(rtcs[2], pre2, [{ pos: 6, feature: f2, value: 2 }]),
      },
    },
  });
  const ivs: FeatureIntervention[] = [
    { layer: 2, pos: 6, feature: f2, value: 2 },
    { layer: 0, pos: 3, feature: f0, value: 0 },
  ];
  const res = await featureIntervention(rmodel, rtcs, rtokens, ivs);
  const e = maxDiff(res.logits.data, ref.data);
  assert.ok(e < 1e-5, `live: logits differ from the hand-built run by ${e}`);

  // Layer 1 constrained: its current activations are the clean ones and its MLP output is
  // frozen to clean + delta; layer 0 stays live (no freeze of LayerNorm: not all constrained).
  const d1 = hostDelta(rtcs[1], cleanPre[1], [{ pos: 6, feature: f1, value: 0 }]);
  const clean1 = rclean.cache.get("blocks.1.hook_mlp_out").data;
  const ref2 = await rmodel.run(rtokens, {
    patches: {
      ...patterns,
      ...p0,
      "blocks.1.hook_mlp_out": {
        dtype: "float32",
        shape: [1, RT, RD],
        data: clean1.map((x, i) => x + d1.data[i]),
      },
    },
  });
  const res2 = await featureIntervention(rmodel, rtcs, rtokens, [
    { layer: 0, pos: 3, feature: f0, value: 0 },
    { layer: 1, pos: 6, feature: f1, value: 0 },
  ], { constrainedLayers: [1] });
  const e2 = maxDiff(res2.logits.data, ref2.data);
  assert.ok(e2 < 1e-5, `constrained: logits differ from the hand-built run by ${e2}`);
  // Layer 1 as applied: the clean activations with the ablated entry at 0.
  const z1 = cleanPre[1].map((x) => Math.max(0, x));
  z1[6 * RS + f1] = 0;
  assert.ok(maxDiff(res2.activations[1]!.data, z1) < 1e-5);
});

// ---- generation ---------------------------------------------------------------------------

const GEN_PROMPT = "Once upon a time there was"; // BOS + 6 tokens

Deno.test("generation without interventions is HookedModel.generate's", async () => {
  for (const prompt of [GEN_PROMPT, "The capital of France is"]) {
    const res = await featureInterventionGenerate(model, transcoders, prompt, [], {
      maxNewTokens: 8,
    });
    assert.equal(res.text, await model.generate(prompt, { maxNewTokens: 8, greedy: true }));
    const P = model.toTokens(prompt).shape[1];
    assert.equal(res.tokens.length, P + 8);
    assert.deepEqual(res.logits.shape, [P + 8, 50257]);
    assert.deepEqual(res.activations[3]!.shape, [P + 8, S]);
    assert.equal(model.toString(res.tokens.subarray(P)), res.text);
    // The logits are the clean model's on the whole sequence (prompt patterns frozen = clean).
    const clean = await model.run(res.tokens);
    assert.ok(maxDiff(res.logits.data, clean.data) < 1e-4);
  }
  const sampled = await featureInterventionGenerate(model, transcoders, GEN_PROMPT, [], {
    maxNewTokens: 8,
    temperature: 0.9,
    seed: 3,
  });
  assert.equal(
    sampled.text,
    await model.generate(GEN_PROMPT, { maxNewTokens: 8, temperature: 0.9, seed: 3 }),
  );
});

Deno.test("generation: an open-ended ablation applies at every generated position", async () => {
  const P = model.toTokens(GEN_PROMPT).shape[1];
  const prompt = await featureIntervention(model, transcoders, GEN_PROMPT, []);
  const { feature, a } = strongest(prompt.activations[2]!, P - 1);
  assert.ok(a > 0.3, `feature ${feature} is weak (${a})`);
  const ivs: FeatureIntervention[] = [{ layer: 2, pos: { start: P - 1 }, feature, value: 0 }];
  const n = 8;
  for (const freezeAttention of [false, true]) {
    const res = await featureInterventionGenerate(model, transcoders, GEN_PROMPT, ivs, {
      maxNewTokens: n,
      freezeAttention,
    });
    const input = await featureInterventionGenerate(model, transcoders, GEN_PROMPT, ivs, {
      maxNewTokens: n,
      freezeAttention,
      activations: "input",
    });
    assert.deepEqual(input.tokens, res.tokens);
    let active = 0;
    for (let p = P - 1; p < P + n; p++) {
      assert.equal(res.activations[2]!.data[p * S + feature], 0, `position ${p}`);
      if (input.activations[2]!.data[p * S + feature] > 0) active++;
    }
    // The feature would fire at generated positions: the ablation had work to do there.
    assert.ok(active >= 2, `feature ${feature} fires at only ${active} generated positions`);
    // The prompt's logits are the single-shot intervention's on the prompt.
    const single = await featureIntervention(model, transcoders, GEN_PROMPT, ivs, {
      freezeAttention,
    });
    const ep = maxDiff(res.logits.data.subarray(0, P * 50257), single.logits.data);
    assert.ok(ep < 1e-4, `freezeAttention ${freezeAttention}: prompt logits differ by ${ep}`);
    if (!freezeAttention) {
      // Live attention: the whole run is the single-shot intervention on the final sequence.
      const whole = await featureIntervention(model, transcoders, res.tokens, ivs, {
        freezeAttention: false,
      });
      const e = maxDiff(res.logits.data, whole.logits.data);
      assert.ok(e < 1e-4, `logits differ from the single-shot run by ${e}`);
      const plain = await model.run(res.tokens);
      assert.ok(
        maxDiff(plain.data.subarray(P * 50257), res.logits.data.subarray(P * 50257)) > 1e-3,
      );
    }
  }
});

Deno.test("generation with every layer constrained keeps the prompt's run", async () => {
  const P = model.toTokens(GEN_PROMPT).shape[1];
  const clean = await featureIntervention(model, transcoders, GEN_PROMPT, []);
  const { feature } = strongest(clean.activations[1]!, 3);
  const ivs: FeatureIntervention[] = [
    { layer: 1, pos: 3, feature, value: 0 },
    { layer: 3, pos: { start: P - 2 }, feature: 7, value: 1.5 },
  ];
  const res = await featureInterventionGenerate(model, transcoders, GEN_PROMPT, ivs, {
    maxNewTokens: 5,
    constrainedLayers: ALL,
  });
  const single = await featureIntervention(model, transcoders, GEN_PROMPT, ivs, {
    constrainedLayers: ALL,
  });
  const e = maxDiff(res.logits.data.subarray(0, P * 50257), single.logits.data);
  assert.ok(e < 1e-4, `prompt logits differ by ${e}`);
  for (const l of ALL) {
    const ea = maxDiff(res.activations[l]!.data.subarray(0, P * S), single.activations[l]!.data);
    assert.ok(ea < 1e-4, `layer ${l}: prompt activations differ by ${ea}`);
  }
  for (let p = P - 2; p < P + 5; p++) assert.equal(res.activations[3]!.data[p * S + 7], 1.5);
  // The interventions reach the generated positions.
  const plain = await model.run(res.tokens);
  assert.ok(maxDiff(plain.data.subarray(P * 50257), res.logits.data.subarray(P * 50257)) > 1e-3);
});

// ---- errors --------------------------------------------------------------------------------

Deno.test("bad inputs are RangeErrors that say what is wrong", async () => {
  const iv = (
    o: Partial<FeatureIntervention>,
  ) => [{ layer: 1, pos: 2, feature: 3, value: 0, ...o }];
  const cases: [() => Promise<unknown>, RegExp][] = [
    [
      () => featureIntervention(model, transcoders, PROMPT, iv({ layer: 4 })),
      /intervention 0: layer 4 is not a layer of the model \(0\.\.3\)/,
    ],
    [
      () => featureIntervention(model, [transcoders[0], undefined, transcoders[2]], PROMPT, iv({})),
      /intervention 0: layer 1 has no transcoder \(transcoders at layers 0, 2\)/,
    ],
    [
      () => featureIntervention(model, transcoders, PROMPT, iv({ feature: 2048 })),
      /feature 2048 out of range for d_sae 2048 \(layer 1\)/,
    ],
    [
      () => featureIntervention(model, transcoders, PROMPT, iv({ pos: T })),
      new RegExp(`position ${T} out of range for ${T} tokens`),
    ],
    [
      () => featureIntervention(model, transcoders, PROMPT, iv({ pos: -T - 1 })),
      /position -13 out of range/,
    ],
    [
      () => featureIntervention(model, transcoders, PROMPT, iv({ pos: { start: 3, end: 3 } })),
      /positions \{ start: 3, end: 3 \} are empty or out of range/,
    ],
    [
      () => featureIntervention(model, transcoders, PROMPT, iv({ value: NaN })),
      /value must be a finite number, got NaN/,
    ],
    [
      () => featureIntervention(model, transcoders, PROMPT, [], { constrainedLayers: [5] }),
      /constrainedLayers: 5 is not a layer/,
    ],
    [
      () => featureIntervention(model, transcoders, new Array(129).fill(11), []),
      /the prompt has 129 tokens, more than the model's n_ctx = 128/,
    ],
    [
      () => featureIntervention(model, transcoders, [[1, 2], [3, 4]], []),
      /one sequence, got a batch of 2/,
    ],
    [
      () =>
        featureInterventionGenerate(model, transcoders, new Array(120).fill(11), [], {
          maxNewTokens: 9,
        }),
      /a prompt of 120 tokens plus maxNewTokens 9 exceeds n_ctx = 128/,
    ],
    [
      () =>
        featureInterventionGenerate(model, transcoders, PROMPT, iv({ pos: T + 3 }), {
          maxNewTokens: 3,
        }),
      /position 15 out of range for 12 prompt tokens plus 3 new ones/,
    ],
    [
      () => featureIntervention(model, [transcoders[1]], PROMPT, []),
      /transcoders\[0\] replaces the MLP of layer 1, not 0/,
    ],
  ];
  for (const [call, message] of cases) {
    await assert.rejects(call, (e: Error) => {
      assert.ok(e instanceof RangeError, `${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
  // An open range in the prompt run and a position beyond the prompt in generation are fine.
  await featureInterventionGenerate(model, transcoders, PROMPT, iv({ pos: T + 2 }), {
    maxNewTokens: 3,
  });
});

/**
 * The QK decomposition against interventions: with the layers below frozen (attention patterns,
 * every LayerNorm scale up to the head's ln1, every MLP output), removing one node (a feature's
 * decoder vector times its activation, an error vector, a token embedding) changes the head's
 * pre-softmax score to exactly what the bilinear decomposition predicts. Tolerance: 1e-4 of the
 * largest of |score| and 1, for float32.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import type { HookedModel, Patches } from "../../lib/model/hooked_model.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import type { Transcoder } from "../../lib/transcoder/transcoder.ts";
import { loadPretrained } from "../../lib/weights/pretrained.ts";
import { qkAttribution, type QkNode } from "../../lib/attribution/qk_attribution.ts";
import { promptTokens } from "../../lib/attribution/_attribution_context.ts";
import { randomTranscoder } from "../helpers/random_transcoders.ts";

const f32 = (t: Tensor) => t.data as Float32Array;

/** The head's score from t to s with `node` removed from the frozen pass. */
async function scoreWithoutByIntervention(
  model: HookedModel,
  tcs: Transcoder[],
  tokens: Int32Array,
  o: { layer: number; head: number; t: number; s: number },
  node: QkNode,
): Promise<number> {
  const { d_model: d } = model.cfg;
  const T = tokens.length;
  const frozen: string[] = [];
  for (let l = 0; l < o.layer; l++) {
    for (const h of ["attn.hook_pattern", "ln1.hook_scale", "ln2.hook_scale", "hook_mlp_out"]) {
      frozen.push(`blocks.${l}.${h}`);
    }
  }
  frozen.push(`blocks.${o.layer}.ln1.hook_scale`);
  const reads = tcs.map((tc) => tc.cfg.hook_name);
  const { cache } = await model.runWithCache(tokens, { names: [...frozen, ...reads] });
  const patches: Record<string, Patches[string]> = {};
  for (const name of frozen) patches[name] = cache.get(name);
  const subtract = (name: string, p: number, v: ArrayLike<number>, scale: number) => {
    const base = cache.get(name), data = f32(base).slice();
    for (let i = 0; i < d; i++) data[p * d + i] -= v[i] * scale;
    patches[name] = { ...base, data };
  };
  if (node.kind === "feature") {
    const tc = tcs[node.layer], f = node.feature!;
    const z = f32(await tc.encode(cache.get(tc.cfg.hook_name)));
    const a = z[node.pos * tc.cfg.d_sae + f];
    subtract(
      `blocks.${node.layer}.hook_mlp_out`,
      node.pos,
      f32(tc.W_dec).subarray(f * d, (f + 1) * d),
      a,
    );
  } else if (node.kind === "error") {
    const tc = tcs[node.layer];
    const recon = f32(await tc.decode(await tc.encode(cache.get(tc.cfg.hook_name))));
    const mlp = f32(cache.get(`blocks.${node.layer}.hook_mlp_out`));
    const e = Array.from({ length: d }, (_, i) => mlp[node.pos * d + i] - recon[node.pos * d + i]);
    subtract(`blocks.${node.layer}.hook_mlp_out`, node.pos, e, 1);
  } else if (node.kind === "token") {
    const WE = f32(model.W_E), tok = tokens[node.pos];
    const delta = new Float32Array(T * d);
    for (let i = 0; i < d; i++) delta[node.pos * d + i] = -WE[tok * d + i];
    patches.hook_embed = {
      mode: "add",
      value: { dtype: "float32", shape: [1, T, d], data: delta },
    };
  }
  const name = `blocks.${o.layer}.attn.hook_attn_scores`;
  const { cache: moved } = await model.runWithCache(tokens, { names: [name], patches });
  return f32(moved.get(name))[(o.head * T + o.t) * T + o.s];
}

async function checkRemovals(
  model: HookedModel,
  tcs: Transcoder[],
  prompt: string | number[],
  o: { layer: number; head: number; queryPos: number; keyPos: number },
) {
  const qk = await qkAttribution(model, tcs, prompt, { ...o, topK: 4 });
  const tokens = promptTokens(model, prompt);
  const nodes = [...qk.queryTerms, ...qk.keyTerms].map((x) => x.node).filter((n) =>
    n.kind !== "constant"
  );
  assert.ok(nodes.length >= 4, "too few nodes to check");
  assert.ok(nodes.some((n) => n.kind === "feature"), "no feature among the strongest terms");
  const tol = 1e-4 * Math.max(1, Math.abs(qk.score));
  let worst = 0;
  for (const node of nodes) {
    const predicted = qk.scoreWithout(node);
    const measured = await scoreWithoutByIntervention(model, tcs, tokens, {
      layer: o.layer,
      head: o.head,
      t: qk.queryPos,
      s: qk.keyPos,
    }, node);
    const err = Math.abs(predicted - measured);
    worst = Math.max(worst, err);
    assert.ok(err <= tol, `${node.label}: predicted ${predicted}, measured ${measured}`);
  }
  // The pairs are the strongest products, ordered by magnitude.
  for (let i = 1; i < qk.pairs.length; i++) {
    assert.ok(Math.abs(qk.pairs[i - 1].value) >= Math.abs(qk.pairs[i].value));
  }
  return { qk, worst, checked: nodes.length };
}

Deno.test("random model: removing a node changes the score as the QK decomposition predicts", async () => {
  const cfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 4, n_ctx: 12, d_vocab: 50 });
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 5, 0.3));
  const tcs = [0, 1, 2].map((l) => randomTranscoder(l, 60 + l, { encShift: -0.3 }));
  const { worst, checked } = await checkRemovals(model, tcs, [1, 5, 9, 13, 2, 44, 7, 30], {
    layer: 2,
    head: 1,
    queryPos: -1,
    keyPos: 3,
  });
  console.log(`random model: ${checked} removals, worst error ${worst.toExponential(2)}`);
});

Deno.test("tiny model: QK decomposition against removals, and bad options", async () => {
  const { model, transcoders } = await loadPretrained("tiny");
  const tcs = transcoders as Transcoder[];
  const prompt = "When Mary and John went to the store, John gave a drink to";
  const { qk, worst, checked } = await checkRemovals(model, tcs, prompt, {
    layer: 3,
    head: 0,
    queryPos: -1,
    keyPos: 2,
  });
  assert.ok(qk.pattern > 0 && qk.pattern <= 1);
  console.log(
    `tiny model: score ${qk.score.toFixed(3)}, ${checked} removals, worst error ${
      worst.toExponential(2)
    }; top pair ${qk.pairs[0].query.label} x ${qk.pairs[0].key.label} = ${
      qk.pairs[0].value.toFixed(3)
    }`,
  );
  await assert.rejects(
    qkAttribution(model, tcs, prompt, { layer: 3, head: 0, queryPos: 2, keyPos: 5 }),
    /at or before the query position/,
  );
  await assert.rejects(
    qkAttribution(model, tcs, prompt, { layer: 9, head: 0, queryPos: -1, keyPos: 1 }),
    /layer 9 is out of range \[0, 4\)/,
  );
});

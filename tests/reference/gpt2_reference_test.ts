/** Invariants of the float64 GPT-2 reference that need no ONNX runtime. */
import assert from "node:assert/strict";
import type { GPT2Config } from "../../lib/model/config.ts";
import {
  randomStateDict,
  referenceForward,
  referenceHookNames,
  type RefTensor,
} from "./gpt2_reference.ts";

const cfg: GPT2Config = {
  n_layers: 2,
  d_model: 8,
  n_heads: 2,
  d_head: 4,
  d_mlp: 16,
  d_vocab: 11,
  n_ctx: 8,
  layer_norm_eps: 1e-5,
  act_fn: "gelu_new",
};
const tokens = [[1, 5, 3, 9, 2], [7, 0, 10, 4, 4]];
const B = tokens.length, P = tokens[0].length;
const { d_model: D, n_heads: H, d_head: E, d_mlp: M, d_vocab: V } = cfg;

const maxDiff = (a: RefTensor, b: RefTensor) => {
  assert.deepEqual(a.shape, b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
};
const zerosLike = (shape: number[]): RefTensor => ({
  shape,
  data: new Float64Array(shape.reduce((a, b) => a * b, 1)),
});

Deno.test("reference: hook names and shapes", () => {
  const { hooks, logits, lossPerToken, loss } = referenceForward(
    cfg,
    randomStateDict(cfg, 1),
    tokens,
  );
  assert.deepEqual([...hooks.keys()], referenceHookNames(cfg));
  const want: Record<string, number[]> = {
    hook_embed: [B, P, D],
    hook_pos_embed: [B, P, D],
    "ln_final.hook_scale": [B, P, 1],
    "ln_final.hook_normalized": [B, P, D],
  };
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}`;
    for (
      const n of [
        "hook_resid_pre",
        "hook_attn_out",
        "hook_resid_mid",
        "hook_mlp_out",
        "hook_resid_post",
      ]
    ) {
      want[`${p}.${n}`] = [B, P, D];
    }
    for (const ln of ["ln1", "ln2"]) {
      want[`${p}.${ln}.hook_scale`] = [B, P, 1];
      want[`${p}.${ln}.hook_normalized`] = [B, P, D];
    }
    for (const n of ["q", "k", "v", "z"]) want[`${p}.attn.hook_${n}`] = [B, P, H, E];
    want[`${p}.attn.hook_attn_scores`] = [B, H, P, P];
    want[`${p}.attn.hook_pattern`] = [B, H, P, P];
    want[`${p}.mlp.hook_pre`] = [B, P, M];
    want[`${p}.mlp.hook_post`] = [B, P, M];
  }
  assert.equal(hooks.size, Object.keys(want).length);
  for (const [name, shape] of Object.entries(want)) {
    const t = hooks.get(name);
    assert.ok(t, name);
    assert.deepEqual(t.shape, shape, name);
    assert.equal(t.data.length, shape.reduce((a, b) => a * b, 1), name);
  }
  assert.deepEqual(logits.shape, [B, P, V]);
  assert.deepEqual(lossPerToken.shape, [B, P - 1]);
  assert.ok(Number.isFinite(loss) && loss > 0);
  const mean = lossPerToken.data.reduce((a, b) => a + b, 0) / lossPerToken.data.length;
  assert.ok(Math.abs(mean - loss) < 1e-12);
});

Deno.test("reference: pattern is causal and rows sum to 1; residual stream adds up", () => {
  for (const withLn of [true, false]) {
    const { hooks } = referenceForward(cfg, randomStateDict(cfg, 2, { withLn }), tokens);
    for (let l = 0; l < cfg.n_layers; l++) {
      const pat = hooks.get(`blocks.${l}.attn.hook_pattern`)!.data;
      const scores = hooks.get(`blocks.${l}.attn.hook_attn_scores`)!.data;
      for (let row = 0; row < B * H * P; row++) {
        const q = row % P;
        let sum = 0;
        for (let k = 0; k < P; k++) {
          const v = pat[row * P + k];
          if (k > q) {
            assert.equal(v, 0);
            assert.equal(scores[row * P + k], -Infinity);
          } else {
            assert.ok(v > 0);
          }
          sum += v;
        }
        assert.ok(Math.abs(sum - 1) < 1e-12);
      }
      const h = (n: string) => hooks.get(`blocks.${l}.${n}`)!;
      const mid = h("hook_resid_mid").data, post = h("hook_resid_post").data;
      const pre = h("hook_resid_pre").data,
        attn = h("hook_attn_out").data,
        mlp = h("hook_mlp_out").data;
      for (let i = 0; i < post.length; i++) {
        assert.ok(Math.abs(mid[i] - (pre[i] + attn[i])) < 1e-12);
        assert.ok(Math.abs(post[i] - (mid[i] + mlp[i])) < 1e-12);
      }
    }
    // Without LayerNorm weights the normalized output has mean 0 and ~unit RMS per position.
    if (!withLn) {
      const n = hooks.get("ln_final.hook_normalized")!.data;
      for (let r = 0; r < B * P; r++) {
        let s = 0, sq = 0;
        for (let i = 0; i < D; i++) (s += n[r * D + i]), (sq += n[r * D + i] ** 2);
        assert.ok(Math.abs(s / D) < 1e-12);
        assert.ok(Math.abs(sq / D - 1) < 1e-3);
      }
    }
  }
});

Deno.test("reference: causality — position 0 ignores later tokens", () => {
  const sd = randomStateDict(cfg, 3);
  const a = referenceForward(cfg, sd, tokens);
  const changed = tokens.map((row) => [...row.slice(0, -1), (row[P - 1] + 1) % V]);
  const b = referenceForward(cfg, sd, changed);
  for (let bi = 0; bi < B; bi++) {
    for (let v = 0; v < V; v++) {
      assert.equal(a.logits.data[bi * P * V + v], b.logits.data[bi * P * V + v]);
    }
  }
  // ...while the last position does change.
  assert.ok(maxDiff(a.logits, b.logits) > 1e-6);
});

Deno.test("reference: patching", () => {
  const sd = randomStateDict(cfg, 4);
  const base = referenceForward(cfg, sd, tokens);
  const name = "blocks.0.hook_mlp_out";
  const zeros = zerosLike([B, P, D]);
  const added = referenceForward(cfg, sd, tokens, {
    patches: { [name]: { mode: "add", value: zeros } },
  });
  assert.equal(maxDiff(base.logits, added.logits), 0);
  const replaced = referenceForward(cfg, sd, tokens, {
    patches: { [name]: { mode: "replace", value: zeros } },
  });
  assert.ok(maxDiff(base.logits, replaced.logits) > 1e-6);
  assert.ok(replaced.hooks.get(name)!.data.every((v) => v === 0));
  // Upstream hooks are untouched; downstream resid_post is resid_mid + 0.
  assert.equal(
    maxDiff(
      base.hooks.get("blocks.0.hook_resid_mid")!,
      replaced.hooks.get("blocks.0.hook_resid_mid")!,
    ),
    0,
  );
  assert.equal(
    maxDiff(
      replaced.hooks.get("blocks.0.hook_resid_mid")!,
      replaced.hooks.get("blocks.0.hook_resid_post")!,
    ),
    0,
  );
  // A [d_model] patch broadcasts over [batch, pos].
  const bias: RefTensor = { shape: [D], data: new Float64Array(D).fill(0.5) };
  const bc = referenceForward(cfg, sd, tokens, {
    patches: { [name]: { mode: "add", value: bias } },
  });
  const got = bc.hooks.get(name)!.data, was = base.hooks.get(name)!.data;
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - was[i] - 0.5) < 1e-12);
  // Patching resid_pre of layer 1 must not alter the recorded resid_post of layer 0.
  const rp = referenceForward(cfg, sd, tokens, {
    patches: { "blocks.1.hook_resid_pre": { mode: "replace", value: zerosLike([B, P, D]) } },
  });
  assert.equal(
    maxDiff(base.hooks.get("blocks.0.hook_resid_post")!, rp.hooks.get("blocks.0.hook_resid_post")!),
    0,
  );
  assert.throws(() =>
    referenceForward(cfg, sd, tokens, {
      patches: { "blocks.9.hook_mlp_out": { mode: "add", value: zeros } },
    })
  );
  assert.throws(() =>
    referenceForward(cfg, sd, tokens, {
      patches: { [name]: { mode: "add", value: zerosLike([3]) } },
    })
  );
});

Deno.test("reference: randomStateDict is deterministic and follows the spec", () => {
  const a = randomStateDict(cfg, 7), b = randomStateDict(cfg, 7), c = randomStateDict(cfg, 8);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, t] of a) assert.deepEqual(t.data, b.get(k)!.data);
  assert.notDeepEqual(a.get("embed.W_E")!.data, c.get("embed.W_E")!.data);
  assert.ok(a.has("blocks.0.ln1.w") && a.has("ln_final.b"));
  const folded = randomStateDict(cfg, 7, { withLn: false });
  assert.ok(![...folded.keys()].some((k) => /\.ln(1|2)\.|ln_final\./.test(k)));
  assert.equal(folded.size, a.size - 2 * (2 * cfg.n_layers + 1));
  // ln weights centre on 1, biases on 0.
  const w = a.get("blocks.0.ln1.w")!.data;
  assert.ok(Math.abs(w.reduce((s, x) => s + x, 0) / w.length - 1) < 0.3);
});

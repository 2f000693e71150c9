/**
 * The vocabulary-chunked losses and KL divergences (lib/model/_next_token_stats.ts) and those of
 * one flash attention per pass (lib/model/_vocabulary_attention.ts) against a float64
 * computation from explicit logits, with chunks that do not divide the vocabulary (7 of 30
 * columns, and one chunk of all 30), logits spread over tens of nats, and a compared pass that
 * is the reference itself (KL 0: exactly for the chunks, to 1e-6 for the attention). The
 * attention is also checked where its bounds are far from the log-sum-exp: a first chunk 60 nats
 * below the rest, a compared pass 40 nats of KL away. Tolerance 2e-5 relative (float32 graph).
 */
import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/builder.ts";
import { Runtime } from "../../lib/graph/session.ts";
import {
  expectedUnembedding,
  klFrom,
  nextTokenLosses,
  passStats,
  unembeddingChunks,
} from "../../lib/model/_next_token_stats.ts";
import {
  fusedComparedPass,
  fusedReferencePass,
  vocabularyAttention,
} from "../../lib/model/_vocabulary_attention.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { randn, Rng } from "../../lib/tensor/random.ts";
import { tensor } from "../../lib/tensor/tensor.ts";

const [b, p, d, V] = [2, 5, 4, 30];
const rng = new Rng(3);
const W = randn([d, V], rng, 3), bias = randn([V], rng, 2);
const xRef = randn([b, p, d], rng), xOther = randn([b, p, d], rng);
const tokens = tensor(Int32Array.from({ length: b * p }, (_, i) => (i * 7 + 1) % V), [b, p]);

/** Float64 log-probabilities `[b*p][V]` of a pass. */
function logProbs(x: Float32Array, w = W.data, c = bias.data): number[][] {
  return Array.from({ length: b * p }, (_, n) => {
    const logits = Array.from({ length: V }, (_, v) => {
      let s = c[v];
      for (let k = 0; k < d; k++) s += x[n * d + k] * w[k * V + v];
      return s;
    });
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((a, l) => a + Math.exp(l - m), 0));
    return logits.map((l) => l - lse);
  });
}

const close = (got: number, want: number, what: string) =>
  assert.ok(
    Math.abs(got - want) <= 2e-5 * Math.max(1, Math.abs(want)),
    `${what}: ${got} vs ${want}`,
  );

for (const chunk of [7, 30]) {
  Deno.test(`chunked losses and KL equal float64 ones (chunks of ${chunk} of ${V} columns)`, async () => {
    const g = new Graph();
    const u = unembeddingChunks(
      g,
      g.input("W", "float32", [d, V]),
      g.input("b", "float32", [V]),
      chunk,
    );
    assert.equal(u.chunks.length, Math.ceil(V / chunk));
    const t = g.input("tokens", "int32", [b, p]);
    const ref = passStats(g, g.input("xRef", "float32", [b, p, d]), u);
    const other = passStats(g, g.input("xOther", "float32", [b, p, d]), u);
    const q = expectedUnembedding(g, ref, u);
    g.output("loss", nextTokenLosses(g, other, u, t));
    g.output("kl", klFrom(g, ref, q, other));
    g.output("self", klFrom(g, ref, q, ref));
    const out = await (await new Runtime().compile(g)).run({ W, b: bias, xRef, xOther, tokens });
    const lpRef = logProbs(xRef.data), lpOther = logProbs(xOther.data);
    for (let r = 0; r < b; r++) {
      for (let i = 0; i < p - 1; i++) {
        const want = -lpOther[r * p + i][tokens.data[r * p + i + 1]];
        close((out.loss.data as Float32Array)[r * (p - 1) + i], want, `loss ${r},${i}`);
      }
    }
    for (let n = 0; n < b * p; n++) {
      const kl = lpRef[n].reduce((a, l, v) => a + Math.exp(l) * (l - lpOther[n][v]), 0);
      close((out.kl.data as Float32Array)[n], kl, `KL at ${n}`);
      assert.equal((out.self.data as Float32Array)[n], 0, "KL of a pass against itself");
    }
  });
}

/** Float64 next-token losses `[b*(p-1)]` and KL(ref || other) `[b*p]` from log-probabilities. */
function float64Stats(lpRef: number[][], lpOther: number[][]) {
  const losses = [];
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < p - 1; i++) losses.push(-lpOther[r * p + i][tokens.data[r * p + i + 1]]);
  }
  const kl = lpRef.map((row, n) =>
    row.reduce((a, l, v) => a + Math.exp(l) * (l - lpOther[n][v]), 0)
  );
  return { losses, kl };
}

/** The reference's and the compared passes' losses and KLs from one attention each. */
async function fused(
  weights: Tensor<"float32">,
  biases: Tensor<"float32">,
  others: Tensor<"float32">[],
): Promise<Record<string, Float32Array>> {
  const g = new Graph();
  const u = unembeddingChunks(
    g,
    g.input("W", "float32", [d, V]),
    g.input("b", "float32", [V]),
    7,
  );
  const a = vocabularyAttention(g, u), t = g.input("tokens", "int32", [b, p]);
  const ref = fusedReferencePass(g, g.input("xRef", "float32", [b, p, d]), u, t, a, {
    expected: true,
  });
  const xs = others.map((_, k) => g.input(`x${k}`, "float32", [b, p, d]));
  g.output("refLoss", ref.losses);
  [...xs, ref.x].map((x) => fusedComparedPass(g, ref, x, u, t, a)).forEach((c, k) => {
    g.output(`loss${k}`, c.losses);
    g.output(`kl${k}`, c.kl);
  });
  const feeds = {
    W: weights,
    b: biases,
    xRef,
    tokens,
    ...Object.fromEntries(others.map((x, k) => [`x${k}`, x])),
  };
  const out = await (await new Runtime().compile(g)).run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

function closeAll(got: Float32Array, want: number[], what: string) {
  assert.equal(got.length, want.length, what);
  want.forEach((w, i) => close(got[i], w, `${what} ${i}`));
}

Deno.test("one attention per pass gives the chunked losses and KLs (float64 references)", async () => {
  const far = tensor(xOther.data.map((v) => 4 * v), [b, p, d]); // tens of nats of KL away
  const out = await fused(W, bias, [xOther, far]);
  const lpRef = logProbs(xRef.data);
  closeAll(out.refLoss, float64Stats(lpRef, lpRef).losses, "reference loss");
  for (const [k, x] of [xOther, far].entries()) {
    const want = float64Stats(lpRef, logProbs(x.data));
    closeAll(out[`loss${k}`], want.losses, `loss of pass ${k}`);
    closeAll(out[`kl${k}`], want.kl, `KL of pass ${k}`);
  }
  assert.ok(Math.max(...float64Stats(lpRef, logProbs(far.data)).kl) > 40, "a pass 40 nats away");
  for (const v of out.kl2) assert.ok(Math.abs(v) < 1e-6, `KL of the reference itself: ${v}`);
});

Deno.test("one attention per pass: a first chunk 60 nats below the rest still bounds the reference", async () => {
  const low = tensor(bias.data.map((v, i) => (i < 7 ? v - 60 : v)), [V]);
  const out = await fused(W, low, [xOther]);
  const lpRef = logProbs(xRef.data, W.data, low.data);
  const want = float64Stats(lpRef, logProbs(xOther.data, W.data, low.data));
  closeAll(out.refLoss, float64Stats(lpRef, lpRef).losses, "reference loss");
  closeAll(out.loss0, want.losses, "compared loss");
  closeAll(out.kl0, want.kl, "compared KL");
});

/**
 * The vocabulary-chunked losses and KL divergences (lib/model/_next_token_stats.ts) against a
 * float64 computation from explicit logits, with chunks that do not divide the vocabulary (7 of
 * 30 columns, and one chunk of all 30), logits spread over tens of nats, and a compared pass that
 * is the reference itself (KL exactly 0). Tolerance 2e-5 relative (float32 graph).
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
import { randn, Rng } from "../../lib/tensor/random.ts";
import { tensor } from "../../lib/tensor/tensor.ts";

const [b, p, d, V] = [2, 5, 4, 30];
const rng = new Rng(3);
const W = randn([d, V], rng, 3), bias = randn([V], rng, 2);
const xRef = randn([b, p, d], rng), xOther = randn([b, p, d], rng);
const tokens = tensor(Int32Array.from({ length: b * p }, (_, i) => (i * 7 + 1) % V), [b, p]);

/** Float64 log-probabilities `[b*p][V]` of a pass. */
function logProbs(x: Float32Array): number[][] {
  return Array.from({ length: b * p }, (_, n) => {
    const logits = Array.from({ length: V }, (_, v) => {
      let s = bias.data[v];
      for (let k = 0; k < d; k++) s += x[n * d + k] * W.data[k * V + v];
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

/**
 * Weight-based feature analysis against direct float64 host computations (1e-5 relative):
 * direct logit effects, de-embeddings (direct, through a head, of a vector), OV norms,
 * input-independent and input-dependent pullbacks, and the corpus mean input-times-gradient.
 */
import assert from "node:assert/strict";
import { CircuitContext, featureDeembedding, vectorPullback } from "../../mod.ts";
import {
  deembedVector,
  featureInputAnalysis,
  featureLogitEffects,
  featureOvNorms,
  featurePullback,
  inputDependentPullback,
  meanIxG,
} from "../../lib/dashboards/mod.ts";
import { relativeError } from "../../lib/tensor/mod.ts";
import { cfg, D_SAE, denseActs, model, randomRows, transcoders } from "./fixture.ts";

const { d_model: d, d_vocab: V, n_heads: H, d_head: dh } = cfg;
const W = (name: string) => model.param(name).data;
const close = (a: ArrayLike<number>, b: ArrayLike<number>) => relativeError(a, b) < 1e-5;

/** `M [rows, cols] @ v [cols]` with M given by an accessor, in float64. */
function matvec(
  rows: number,
  cols: number,
  at: (r: number, c: number) => number,
  v: ArrayLike<number>,
) {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += at(r, c) * v[c];
    out[r] = s;
  }
  return out;
}
const encCol = (l: number, i: number) =>
  Float64Array.from({ length: d }, (_, k) => transcoders[l].W_enc.data[k * D_SAE + i]);
/** The full OV matrix `[d, d]` of a head: `W_V[h] @ W_O[h]`. */
function ov(l: number, h: number): Float64Array {
  const WV = W(`blocks.${l}.attn.W_V`), WO = W(`blocks.${l}.attn.W_O`), M = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let e = 0; e < dh; e++) s += WV[(h * d + a) * dh + e] * WO[(h * dh + e) * d + b];
      M[a * d + b] = s;
    }
  }
  return M;
}

Deno.test("featureLogitEffects equals W_dec[i] @ W_U, with top/bottom tokens and a histogram", () => {
  const tc = transcoders[2], i = 9, WU = W("unembed.W_U");
  const want = Float64Array.from({ length: V }, (_, t) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += tc.W_dec.data[i * d + k] * WU[k * V + t];
    return s;
  });
  const fx = featureLogitEffects(model, tc, i, { k: 3, bins: 10 });
  assert.ok(close(fx.values, want));
  const order = Array.from(want.keys()).sort((a, b) => want[b] - want[a]);
  assert.deepEqual(fx.top.map((t) => t.token), order.slice(0, 3));
  assert.deepEqual(fx.bottom.map((t) => t.token), order.slice(-3).reverse());
  assert.equal(fx.top[0].str, model.toString([order[0]]));
  assert.equal(fx.histogram.counts.reduce((a, c) => a + c, 0), V);
  assert.throws(() => featureLogitEffects(model, tc, 24), /feature 24 out of range for d_sae 24/);
});

Deno.test("de-embeddings: direct, through a head and of any vector", () => {
  const tc = transcoders[1], i = 3, WE = W("embed.W_E");
  const WEat = (r: number, c: number) => WE[r * d + c];
  const direct = featureDeembedding(model, tc, i, { k: 4 });
  assert.ok(close(direct.values, matvec(V, d, WEat, encCol(1, i))));
  assert.equal(direct.top.length, 4);
  assert.ok(direct.top[0].value >= direct.top[3].value);
  const M = ov(1, 2);
  const through = featureDeembedding(model, tc, i, { head: { layer: 1, head: 2 } });
  const u = matvec(d, d, (a, b) => M[a * d + b], encCol(1, i));
  assert.ok(close(through.values, matvec(V, d, WEat, u)));
  const v = Float64Array.from({ length: d }, (_, k) => Math.cos(k));
  assert.ok(close(deembedVector(model, v).values, matvec(V, d, WEat, v)));
  assert.throws(
    () => featureDeembedding(model, tc, i, { head: { layer: 0, head: 4 } }),
    /head 4 out of range for n_heads 4/,
  );
  assert.throws(() => deembedVector(model, [1, 2]), /vector has 2 entries, expected d_model 16/);
});

Deno.test("featureOvNorms equals ||OV[l, h] @ W_enc[:, i]|| for layers 0..layer", () => {
  const tc = transcoders[2], i = 11;
  const norms = featureOvNorms(model, tc, i);
  assert.equal(norms.length, 3);
  const col = encCol(2, i);
  for (let l = 0; l <= 2; l++) {
    const want = Float64Array.from({ length: H }, (_, h) => {
      const M = ov(l, h);
      const y = matvec(d, d, (a, b) => M[a * d + b], col);
      return Math.hypot(...y);
    });
    assert.ok(close(norms[l], want), `layer ${l}`);
  }
  assert.equal(featureOvNorms(model, tc, i, { layer: 0 }).length, 1);
  const a = featureInputAnalysis(model, tc, i, { attnK: 2, k: 3 });
  const best = norms.flatMap((r) => Array.from(r)).sort((x, y) => y - x);
  assert.deepEqual(a.heads.map((h) => h.norm), best.slice(0, 2));
});

Deno.test("pullbacks: W_dec v, and (W_dec v) * z at a token of a prompt", async () => {
  const up = transcoders[0], down = transcoders[2], i = 5;
  const col = encCol(2, i);
  const want = matvec(D_SAE, d, (r, c) => up.W_dec.data[r * d + c], col);
  const pb = featurePullback(up, down, i, { k: 3 });
  assert.ok(close(pb.values, want));
  assert.deepEqual(
    pb.top.map((f) => f.feature),
    Array.from(want.keys()).sort((a, b) => want[b] - want[a]).slice(0, 3),
  );
  const mean = col.reduce((a, x) => a + x, 0) / d;
  const mf = vectorPullback(up, col, { meanFree: true });
  assert.ok(
    close(
      mf.values,
      matvec(D_SAE, d, (r, c) => up.W_dec.data[r * d + c], col.map((x) => x - mean)),
    ),
  );
  assert.throws(
    () => featurePullback(down, up, i),
    /upstream transcoder \(layer 2\) must come before/,
  );

  const ctx = await CircuitContext.create(model, transcoders, [1, 5, 9, 13, 2, 44], {
    meanFreeDecoders: false,
  });
  const ixg = inputDependentPullback(ctx, 0, -1, col, { k: 2 });
  const z = ctx.featureActs(0, -1);
  assert.ok(close(ixg.values, want.map((x, j) => x * z[j])));
  const only0 = await CircuitContext.create(model, [transcoders[0]], [1, 5, 9]);
  assert.throws(() => inputDependentPullback(only0, 1, -1, col), /no transcoder for layer 1/);
});

Deno.test("meanIxG equals the dense mean of (W_dec v) * z over the tokens where the feature fires", async () => {
  const rows = randomRows(6, 12, 5);
  const up = transcoders[0], down = transcoders[2];
  const zu = (await denseActs(up, rows)).z, zd = (await denseActs(down, rows)).z;
  const T = 6 * 12;
  const i = Array.from({ length: D_SAE }, (_, f) => f).find((f) => {
    let c = 0;
    for (let t = 0; t < T; t++) if (zd[t * D_SAE + f] > 0) c++;
    return c >= 5 && c < T;
  })!;
  const pulled = featurePullback(up, down, i).values;
  const sum = new Float64Array(D_SAE), fires = new Float64Array(D_SAE);
  let n = 0;
  for (let t = 0; t < T; t++) {
    if (!(zd[t * D_SAE + i] > 0)) continue;
    n++;
    for (let j = 0; j < D_SAE; j++) {
      sum[j] += pulled[j] * zu[t * D_SAE + j];
      if (zu[t * D_SAE + j] > 0) fires[j]++;
    }
  }
  const m = await meanIxG(model, up, down, i, rows, { batchSize: 4, k: 3 });
  assert.equal(m.selectedTokens, n);
  assert.equal(m.totalTokens, T);
  assert.ok(close(m.values, sum.map((s) => s / n)));
  assert.ok(close(m.meanOverFiring, sum.map((s, j) => (fires[j] > 0 ? s / fires[j] : 0))));
  assert.deepEqual(m.firingFraction, fires.map((f) => f / n));
  // Chosen tokens instead of the firing ones.
  const picked = [{ row: 0, pos: 3 }, { row: 5, pos: 11 }];
  const mp = await meanIxG(model, up, down, i, rows, { tokens: picked });
  const want = Float64Array.from(
    { length: D_SAE },
    (_, j) => pulled[j] * (zu[3 * D_SAE + j] + zu[71 * D_SAE + j]) / 2,
  );
  assert.equal(mp.selectedTokens, 2);
  assert.ok(close(mp.values, want));
  await assert.rejects(meanIxG(model, up, down, 99, rows), /feature 99 out of range for d_sae 24/);
});

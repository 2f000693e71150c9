/**
 * Per-feature scores (the reference's one-pass-per-feature `get_feature_scores`) against the
 * dense activations computed directly, raw-score variants against float64 host dot products,
 * and example contexts.
 */
import assert from "node:assert/strict";
import { exampleContext, featureColumns, featureScores } from "../../lib/dashboards/mod.ts";
import { relativeError } from "../../lib/tensor/mod.ts";
import { cfg, D_SAE, denseActs, model, randomRows, transcoders } from "./fixture.ts";

const rows = randomRows(5, 12, 3);
const [N, P] = rows.shape;

Deno.test("featureScores equals the dense activations' column, for every feature", async () => {
  const tc = transcoders[2];
  const { z } = await denseActs(tc, rows);
  for (const i of [0, 7, 23]) {
    const s = await featureScores(model, tc, rows, i, { batchSize: 2 });
    assert.deepEqual(s.shape, [N, P]);
    const want = Float32Array.from({ length: N * P }, (_, t) => z[t * D_SAE + i]);
    assert.deepEqual(s.data, want);
  }
  const cols = await featureColumns(model, tc, rows, [5, 1], { batchSize: 4 });
  assert.deepEqual(cols.shape, [N, P, 2]);
  for (let t = 0; t < N * P; t++) {
    assert.equal(cols.data[t * 2], z[t * D_SAE + 5]);
    assert.equal(cols.data[t * 2 + 1], z[t * D_SAE + 1]);
  }
});

Deno.test("raw scores: pre-activation, decoder projection and a custom vector", async () => {
  const tc = transcoders[0], d = cfg.d_model, i = 4;
  const { pre, x } = await denseActs(tc, rows);
  const raw = await featureScores(model, tc, rows, i, { kind: "pre" });
  const wantPre = Float64Array.from({ length: N * P }, (_, t) => pre[t * D_SAE + i]);
  assert.ok(relativeError(raw.data, wantPre) < 1e-5);
  const dec = await featureScores(model, tc, rows, i, { kind: "decoder" });
  const v = Float64Array.from({ length: d }, (_, k) => Math.sin(k + 1));
  const custom = await featureScores(model, tc, rows, i, { vector: v });
  const wantDec = new Float64Array(N * P), wantCustom = new Float64Array(N * P);
  for (let t = 0; t < N * P; t++) {
    for (let k = 0; k < d; k++) {
      const c = x[t * d + k] - tc.b_dec.data[k];
      wantDec[t] += c * tc.W_dec.data[i * d + k];
      wantCustom[t] += c * v[k];
    }
  }
  assert.ok(relativeError(dec.data, wantDec) < 1e-5);
  assert.ok(relativeError(custom.data, wantCustom) < 1e-5);
});

Deno.test("featureScores rejects bad input with exact messages", async () => {
  const tc = transcoders[0];
  await assert.rejects(featureScores(model, tc, rows, 30), {
    name: "RangeError",
    message: "feature 30 out of range for d_sae 24",
  });
  await assert.rejects(
    featureScores(model, tc, { dtype: "int32", shape: [0, 4], data: new Int32Array(0) }, 1),
    /rows \[0, 4\] hold no tokens/,
  );
  await assert.rejects(
    featureScores(model, tc, rows, 1, { vector: [1, 2] }),
    /score vector has 2 entries, expected d_in 16/,
  );
  await assert.rejects(featureColumns(model, tc, rows, []), /at least one feature/);
});

Deno.test("exampleContext crops a window around the example", () => {
  const c = exampleContext(rows, { row: 1, pos: 0, window: 3 });
  assert.equal(c.start, 0);
  assert.equal(c.end, 4);
  assert.equal(c.focus, 0);
  assert.deepEqual(c.tokens, rows.data.slice(12, 16));
  assert.equal(c.strings.length, 4);
  const e = exampleContext(rows, { row: 4, pos: 11, window: 2 });
  assert.deepEqual([e.start, e.end, e.focus], [9, 12, 2]);
  assert.throws(
    () => exampleContext(rows, { row: 5, pos: 0, window: 1 }),
    /row 5 out of range for 5 rows/,
  );
  assert.throws(
    () => exampleContext(rows, { row: 0, pos: 12, window: 1 }),
    /position 12 out of range/,
  );
});

/**
 * Influence helpers against naive float64 implementations: row normalisation, node influence
 * against the Neumann form solved by Gaussian elimination (relative tolerance 1e-9), the
 * radix-selection threshold against an explicit sort (exactly equal: the inputs with ties are
 * dyadic, so every float64 sum is exact), partial influences against a dense loop (1e-12
 * relative), cumulative scores against an explicit sort (1e-15).
 */
import { neumannInfluence } from "../reference/influence_reference.ts";
import { Rng } from "../../lib/tensor/random.ts";
import assert from "node:assert/strict";
import {
  cumulativeScores,
  findThreshold,
  nodeInfluence,
  normalizeRows,
  partialInfluences,
  thresholdOfSource,
} from "../../lib/attribution/influence.ts";

/** Uniforms in [0, 1) from the library's seeded generator. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}

/** The sort-based definition (P4): sorted descending, cumsum / total, first >= tau, clipped. */
function naiveThreshold(scores: ArrayLike<number>, tau: number): number {
  const s = Array.from(scores).sort((a, b) => b - a);
  let total = 0;
  for (const x of s) total += x;
  let cum = 0;
  for (let k = 0; k < s.length; k++) {
    cum += s[k];
    if (cum / total >= tau) return s[k];
  }
  return s[s.length - 1];
}

/** A random DAG `[n, n]` (targets after their sources in a random order), with zero rows. */
function randomDag(n: number, r: () => number, density = 0.3): Float32Array {
  const order = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
  const rank = new Int32Array(n);
  order.forEach((node, k) => (rank[node] = k));
  const A = new Float32Array(n * n);
  for (let t = 0; t < n; t++) {
    if (r() < 0.2) continue; // a zero row (an error or token node)
    for (let s = 0; s < n; s++) {
      if (rank[s] < rank[t] && r() < density) A[t * n + s] = (r() - 0.4) * 4;
    }
  }
  return A;
}

function naiveNormalize(A: Float32Array, n: number, clamp: number): Float64Array {
  const out = new Float64Array(A.length);
  for (let i = 0; i < A.length / n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.abs(A[i * n + j]);
    for (let j = 0; j < n; j++) out[i * n + j] = Math.abs(A[i * n + j]) / Math.max(s, clamp);
  }
  return out;
}

Deno.test("normalizeRows divides |A| by the row sums, clamped at 1e-10", () => {
  const r = rng(1);
  const n = 17, A = randomDag(n, r);
  A[3 * n + 5] = 1e-12; // a row whose sum is below the clamp
  for (let j = 0; j < n; j++) if (j !== 5) A[3 * n + j] = 0;
  const got = normalizeRows(A, n), want = naiveNormalize(A, n, 1e-10);
  for (let k = 0; k < A.length; k++) {
    assert.ok(Math.abs(got[k] - want[k]) <= 1e-7 * Math.abs(want[k]), `entry ${k}`);
  }
  assert.ok(Math.abs(got[3 * n + 5] - 0.01) < 1e-9); // 1e-12 / 1e-10
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += got[i * n + j];
    assert.ok(s === 0 || Math.abs(s - 1) < 1e-6 || i === 3, `row ${i} sums to ${s}`);
  }
  assert.throws(() => normalizeRows(new Float32Array(5), 2), RangeError);
});

Deno.test("nodeInfluence equals the Neumann form w((Id - Â)^-1 - Id) on random DAGs", () => {
  const r = rng(2);
  for (let trial = 0; trial < 30; trial++) {
    const n = 5 + Math.floor(r() * 40);
    const A = randomDag(n, r);
    const w = Float64Array.from({ length: n }, () => (r() < 0.3 ? r() : 0));
    const got = nodeInfluence(normalizeRows(A, n), n, w);
    const want = neumannInfluence(naiveNormalize(A, n, 1e-10), n, w);
    const scale = Math.max(1e-300, ...want.map(Math.abs));
    for (let i = 0; i < n; i++) {
      assert.ok(
        Math.abs(got[i] - want[i]) <= 1e-6 * scale,
        `trial ${trial} node ${i}: ${got[i]} vs ${want[i]}`,
      );
    }
  }
});

Deno.test("nodeInfluence: a cycle is not a DAG; shapes are checked", () => {
  const A = normalizeRows(Float32Array.from([0, 1, 0, 0, 0, 1, 1, 0, 0]), 3); // 0 <- 1 <- 2 <- 0
  assert.throws(() => nodeInfluence(A, 3, [1, 0, 0]), /not a DAG.*1000/);
  assert.throws(() => nodeInfluence(A, 3, [1, 0, 0], { maxIter: 5 }), /not a DAG.*5 iterations/);
  assert.throws(() => nodeInfluence(A, 4, [1, 0, 0, 0]), RangeError);
  assert.throws(() => nodeInfluence(A, 3, [1, 0]), RangeError);
  // A node that feeds nothing has zero influence, and w itself is not counted.
  assert.deepEqual(Array.from(nodeInfluence(new Float32Array(4), 2, [1, 1])), [0, 0]);
});

/** Random dyadic scores with ties and zeros: multiples of 1/64 below 16 (sums exact). */
function dyadicScores(n: number, r: () => number, distinct: number): number[] {
  const pool = Array.from({ length: distinct }, () => Math.floor(r() * 1024) / 64);
  return Array.from({ length: n }, () => (r() < 0.25 ? 0 : pool[Math.floor(r() * distinct)]));
}

Deno.test("findThreshold equals the sort-based definition (ties, zeros, all equal, exact shares)", () => {
  const r = rng(3);
  let cases = 0;
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(r() * (trial % 10 === 0 ? 5000 : 60));
    const kind = trial % 4;
    const scores = kind === 0
      ? Array.from({ length: n }, () => 2.5) // all equal
      : kind === 1
      ? Array.from({ length: n }, () => (r() < 0.5 ? 0 : 0.75)) // zeros and one value
      : dyadicScores(n, r, 1 + Math.floor(r() * 12));
    // tau: random, the exact share at a random index (the boundary case), and the edge values.
    const sorted = [...scores].sort((a, b) => b - a);
    const total = sorted.reduce((a, b) => a + b, 0);
    const k = Math.floor(r() * n);
    const exact = total > 0 ? sorted.slice(0, k + 1).reduce((a, b) => a + b, 0) / total : 0.5;
    for (const tau of [r(), exact, 0, 1, 0.8, 0.98, 1.5, -1]) {
      const want = naiveThreshold(scores, tau);
      const f32 = Float32Array.from(scores), f64 = Float64Array.from(scores);
      assert.equal(findThreshold(f32, tau), want, `f32 ${trial} ${tau}`);
      assert.equal(findThreshold(f64, tau), want, `f64 ${trial} ${tau}`);
      assert.equal(findThreshold(scores, tau), want);
      // The radix selection itself (findThreshold sorts inputs of at most 2048 scores):
      assert.equal(thresholdOfSource((v) => v(f32), tau), want, `radix f32 ${trial} ${tau}`);
      assert.equal(thresholdOfSource((v) => v(f64), tau), want, `radix f64 ${trial} ${tau}`);
      cases++;
    }
  }
  assert.equal(cases, 1600);
  // All zeros: the total is 0, no share reaches tau, the last (0).
  assert.equal(findThreshold(new Float32Array(10), 0.8), 0);
  assert.equal(findThreshold(Float32Array.of(-0, 1), 0.5), 1); // -0 counts as 0
  assert.equal(findThreshold(Float32Array.of(-0, 1), 1.5), 0);
});

Deno.test("findThreshold refines big crossing buckets (float32 and float64 digit levels)", () => {
  const r = rng(4);
  // 40000 float32 scores 1 + k 2^-23 share their top 16 bits: the second digit decides.
  for (let trial = 0; trial < 6; trial++) {
    const f32 = Float32Array.from({ length: 40000 }, () => 1 + Math.floor(r() * 256) * 2 ** -23);
    f32[0] = 3;
    f32[1] = 0;
    const tau = r();
    assert.equal(findThreshold(f32, tau), naiveThreshold(f32, tau), `f32 trial ${trial}`);
  }
  // 40000 float64 scores 1 + k 2^-37 share their high word: the low word's digits decide (sums exact).
  for (let trial = 0; trial < 6; trial++) {
    const f64 = Float64Array.from({ length: 40000 }, () => 1 + Math.floor(r() * 65536) * 2 ** -37);
    const tau = trial === 0 ? 1 : r();
    assert.equal(findThreshold(f64, tau), naiveThreshold(f64, tau), `f64 trial ${trial}`);
  }
  // 40000 float64 scores that differ in their last bits only: all four digit levels.
  const eps = 2 ** -52;
  const close = Float64Array.from({ length: 40000 }, (_, i) => 1 + (i % 2) * eps);
  assert.equal(findThreshold(close, 0.4), 1 + eps);
  assert.equal(findThreshold(close, 0.6), 1);
  const three = Float64Array.from({ length: 40000 }, () => 1 + Math.floor(r() * 3) * eps);
  for (const tau of [0.1, 0.3, 0.5, 0.7, 0.9]) {
    assert.equal(findThreshold(three, tau), naiveThreshold(three, tau), `three ${tau}`);
  }
  // All equal and huge: no sort at all.
  assert.equal(findThreshold(new Float32Array(100000).fill(0.3), 0.5), Math.fround(0.3));
});

Deno.test("findThreshold on random continuous scores and over a chunked source", () => {
  const r = rng(5);
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + Math.floor(r() * 3000);
    const s = Float32Array.from({ length: n }, () => (r() < 0.3 ? 0 : r() ** 4));
    const tau = r();
    assert.equal(findThreshold(s, tau), naiveThreshold(s, tau), `trial ${trial}`);
    // The same scores in chunks with runs of zeros reported separately.
    const nz = s.filter((x) => x !== 0);
    const got = thresholdOfSource((visit, zeros) => {
      for (let k = 0; k < nz.length; k += 100) visit(nz.subarray(k, k + 100));
      zeros(n - nz.length);
    }, tau);
    assert.equal(got, naiveThreshold(s, tau));
  }
  assert.throws(() => findThreshold(new Float32Array(0), 0.5), /no scores/);
  assert.throws(() => findThreshold(Float32Array.of(1, -2), 0.5), /non-negative/);
  assert.throws(() => findThreshold(Float64Array.of(1, NaN), 0.5), /finite/);
  assert.throws(() => findThreshold(Float32Array.of(Infinity), 0.5), /finite/);
  assert.throws(() => findThreshold(Float32Array.of(1), NaN), RangeError);
});

Deno.test("findThreshold is linear: 2e6 float32 scores against a full sort, 2e7 timed", () => {
  const r = rng(6);
  const n = 2_000_000;
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = r() < 0.6 ? 0 : r() * r();
  let t = performance.now();
  const fast = findThreshold(s, 0.98);
  const tFast = performance.now() - t;
  t = performance.now();
  const sorted = s.slice().sort().reverse();
  let total = 0;
  for (let i = 0; i < n; i++) total += sorted[i];
  let cum = 0, want = sorted[n - 1];
  for (let i = 0; i < n; i++) {
    cum += sorted[i];
    if (cum / total >= 0.98) {
      want = sorted[i];
      break;
    }
  }
  const tSort = performance.now() - t;
  console.log(
    `findThreshold on ${n} float32: ${tFast.toFixed(0)} ms (sort-based: ${tSort.toFixed(0)} ms)`,
  );
  assert.equal(fast, want);
  assert.ok(tFast < tSort, "the radix selection should beat the sort");
  const big = new Float32Array(10 * n);
  for (let i = 0; i < big.length; i++) big[i] = r() < 0.6 ? 0 : r() * r();
  t = performance.now();
  const cut = findThreshold(big, 0.98);
  console.log(`findThreshold on ${big.length} float32: ${(performance.now() - t).toFixed(0)} ms`);
  assert.ok(cut > 0 && cut < 1);
});

/** compute_partial_influences, the direct way, in float64. */
function naivePartial(
  rows: Float32Array,
  C: number,
  rowToCol: Int32Array,
  probs: number[],
  maxIter = 128,
): Float64Array {
  const R = rowToCol.length;
  const norm = naiveNormalize(rows, C, 1e-8);
  let prod = new Float64Array(C);
  probs.forEach((p, k) => (prod[C - probs.length + k] = p));
  const out = new Float64Array(C);
  for (let it = 0; it < maxIter; it++) {
    const next = new Float64Array(C);
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) next[c] += prod[rowToCol[r]] * norm[r * C + c];
    }
    if (next.every((x) => x === 0)) break;
    next.forEach((x, c) => (out[c] += x));
    prod = next;
  }
  return out;
}

Deno.test("partialInfluences equals the dense definition on partial row sets", () => {
  const r = rng(7);
  for (let trial = 0; trial < 30; trial++) {
    const C = 10 + Math.floor(r() * 50), K = 1 + Math.floor(r() * 3);
    const full = randomDag(C, r, 0.4);
    // Logit rows first, then a random subset of the other nodes' rows.
    const rowNodes = [
      ...Array.from({ length: K }, (_, k) => C - K + k),
      ...Array.from({ length: C - K }, (_, i) => i).filter(() => r() < 0.5),
    ];
    const R = rowNodes.length;
    const rows = new Float32Array(R * C);
    rowNodes.forEach((node, q) => rows.set(full.subarray(node * C, (node + 1) * C), q * C));
    // Logit rows must only read non-logit columns (a DAG ending at the logits).
    for (let q = 0; q < K; q++) for (let c = C - K; c < C; c++) rows[q * C + c] = 0;
    const rowToCol = Int32Array.from(rowNodes);
    const probs = Array.from({ length: K }, () => r());
    const got = partialInfluences(rows, C, rowToCol, probs);
    const want = naivePartial(rows, C, rowToCol, probs);
    // Levels of the full DAG (1 + the deepest source), for the one-pass topological sum.
    const level = new Int32Array(C);
    for (let pass = 0; pass < C; pass++) {
      for (let t = 0; t < C; t++) {
        for (let s = 0; s < C; s++) {
          if (full[t * C + s] !== 0) level[t] = Math.max(level[t], level[s] + 1);
        }
      }
    }
    const onePass = partialInfluences(rows, C, rowToCol, probs, {
      rowLayers: Int32Array.from(rowNodes, (node) => level[node]),
    });
    // Spans per level: a row of level v reads only columns of lower levels (here: all of them,
    // split in two ranges, which must give the same sums).
    const levels = Math.max(...level) + 1;
    const spanned = partialInfluences(rows, C, rowToCol, probs, {
      rowLayers: Int32Array.from(rowNodes, (node) => level[node]),
      layerColumnSpans: Array.from({ length: levels }, () => Int32Array.of(0, 3, 3, C)),
    });
    const scale = Math.max(1e-300, ...want);
    for (let c = 0; c < C; c++) {
      assert.ok(Math.abs(spanned[c] - onePass[c]) <= 1e-15 * scale, `spans: trial ${trial}`);
      assert.ok(Math.abs(got[c] - want[c]) <= 1e-12 * scale, `trial ${trial} column ${c}`);
      assert.ok(
        Math.abs(onePass[c] - want[c]) <= 1e-12 * scale,
        `one pass: trial ${trial} column ${c}`,
      );
    }
  }
});

Deno.test("partialInfluences with every row equals nodeInfluence; it stops after maxIter", () => {
  const r = rng(8);
  const n = 30, A = randomDag(n, r, 0.3);
  for (let c = 27; c < 30; c++) for (let t = 0; t < n; t++) A[c * n + t] = 0; // logits feed nothing
  for (let t = 0; t < n; t++) for (let c = 27; c < 30; c++) A[t * n + c] = 0;
  const w = new Float64Array(n);
  w[27] = 0.5, w[28] = 0.3, w[29] = 0.2;
  const rowToCol = Int32Array.from({ length: n }, (_, i) => i);
  const partial = partialInfluences(A, n, rowToCol, [0.5, 0.3, 0.2]);
  const full = nodeInfluence(normalizeRows(A, n), n, w);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(partial[i] - full[i]) <= 1e-6 * (full[i] + 1e-9));
  // A cycle does not throw: the sum stops after maxIter products.
  const cyc = Float32Array.from([1, 0, 0, 0, 1, 0, 1, 0, 0]); // rows of 2 <- 0, 0 <- 1, 1 <- 0
  const inf = partialInfluences(cyc, 3, Int32Array.from([2, 0, 1]), [1], { maxIter: 4 });
  assert.deepEqual(Array.from(inf), [2, 2, 0]); // products 1..4 alternate between nodes 0 and 1
  assert.throws(() => partialInfluences(cyc, 3, Int32Array.from([2, 0]), [1]), RangeError);
  assert.throws(() => partialInfluences(cyc, 3, Int32Array.from([2, 0, 7]), [1]), RangeError);
});

Deno.test("cumulativeScores: descending rank, cumulative share (worked example and random)", () => {
  const s = cumulativeScores([0.375, 0.75, 0.25, 0.75, 0]);
  const want = [1.875, 0.75, 2.125, 1.5, 2.125].map((x) => x / 2.125);
  s.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-15, `node ${i}`));
  const r = rng(9);
  const inf = Array.from({ length: 200 }, () => (r() < 0.2 ? 0 : r()));
  const got = cumulativeScores(inf);
  const order = inf.map((_, i) => i).sort((a, b) => inf[b] - inf[a] || a - b);
  const total = inf.reduce((a, b) => a + b, 0);
  let cum = 0;
  for (const i of order) {
    cum += inf[i];
    assert.ok(Math.abs(got[i] - cum / total) < 1e-12);
  }
  assert.deepEqual(Array.from(cumulativeScores([0, 0])), [1, 1]);
});

/**
 * Pruning an attribution graph and scoring it, as circuit-tracer's `graph.py` (`prune_graph`,
 * `compute_graph_scores`; reference `attribution_graphs.md` sections 2 and 4):
 *
 * - P1: the target weights w are the logit probabilities on the K logit nodes, 0 elsewhere.
 * - P2-P3: `Â` = `|A|` row-normalised, node influence `I = sum_{k>=1} w Â^k` (unpruned graph).
 * - P4: nodes with `I >= findThreshold(I, nodeThreshold)` are kept; tokens and logits always.
 * - P5-P6: `A'` = A without the dropped nodes' rows and columns; edge scores
 *   `E[i, j] = Â'[i, j] * I'[i]` with `I' = w + sum_{k>=1} w Â'^k` (logits count their weight).
 * - P7: edges with `E >= findThreshold(flatten(E), edgeThreshold)` and `A'[i, j] != 0` are kept
 *   (the `A != 0` condition guards the cut 0 that `edgeThreshold = 1` can give, which would
 *   otherwise keep every pair, empty ones included).
 * - P8: to a fixpoint, feature and error nodes with no kept outgoing edge and feature nodes with
 *   no kept incoming edge are dropped, with their edges.
 * - P9: each node's cumulative score (`cumulativeScores`), the JSON `influence`.
 *
 * Nothing of size `[N, N]` is allocated but the edge mask (bytes): the normalised matrices are
 * applied as per-row scales of the float32 adjacency, the edge scores are recomputed row by row
 * (float32, as circuit-tracer's) for each pass of the threshold's radix selection, and the
 * pruned graph's products run on the kept nodes only.
 *
 * @module
 */
import { type AttributionGraph, nodeCounts } from "./graph_types.ts";
import {
  cumulativeScores,
  findThreshold,
  propagate,
  ROW_SUM_CLAMP,
  type ScoreSource,
  thresholdOfSource,
} from "./influence.ts";

/** Options of `pruneGraph`. */
export interface PruneOptions {
  /** Share of the total node influence the kept nodes reach (default 0.8). */
  nodeThreshold?: number;
  /** Share of the total edge score the kept edges reach (default 0.98). */
  edgeThreshold?: number;
}

/** What `pruneGraph` returns (node order as `AttributionGraph`, N nodes). */
export interface PrunedGraph {
  /** `[N]` 1 for a kept node. */
  nodeMask: Uint8Array;
  /** `[N, N]` row-major (target, source): 1 for a kept edge. */
  edgeMask: Uint8Array;
  /** `[N]` node influence on the unpruned graph (P3). */
  influence: Float64Array;
  /** `[N]` cumulative influence scores (P9). */
  cumulativeScores: Float64Array;
}

/**
 * The target weights w (P1): the logit probabilities on the last K nodes, 0 elsewhere.
 *
 * @returns `[N]` float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logitWeights } from "./prune.ts";
 * const g = { selectedFeatures: new Int32Array(1), nLayers: 1, tokens: new Int32Array(1), logitTargets: [{ tokenId: 7, label: "a", probability: 0.5 }] };
 * assert.deepEqual(Array.from(logitWeights(g)), [0, 0, 0, 0.5]); // [feature, error, token, logit]
 * ```
 */
export function logitWeights(
  graph: Pick<AttributionGraph, "selectedFeatures" | "nLayers" | "tokens" | "logitTargets">,
): Float64Array {
  const { total: N, logits: K } = nodeCounts(graph);
  const w = new Float64Array(N);
  graph.logitTargets.forEach((t, k) => (w[N - K + k] = t.probability));
  return w;
}

function checkGraph(graph: AttributionGraph): number {
  const { total: N } = nodeCounts(graph);
  if (graph.adjacency.length !== N * N) {
    throw new RangeError(
      `attribution graph: adjacency has ${graph.adjacency.length} entries, expected ${N}x${N} (${N} nodes)`,
    );
  }
  return N;
}

/** `1 / max(sum_j |A[i, j]|, 1e-10)` over `cols` (all when absent); 0 for an all-zero row. */
function rowScales(
  A: Float32Array,
  N: number,
  rows: ArrayLike<number>,
  cols?: Int32Array,
): Float64Array {
  const scale = new Float64Array(N);
  for (let a = 0; a < rows.length; a++) {
    const i = rows[a], off = i * N;
    let s = 0;
    if (cols) { for (let b = 0; b < cols.length; b++) s += Math.abs(A[off + cols[b]]); }
    else for (let j = 0; j < N; j++) s += Math.abs(A[off + j]);
    scale[i] = s === 0 ? 0 : 1 / Math.max(s, ROW_SUM_CLAMP);
  }
  return scale;
}

function maskIndices(mask: Uint8Array): Int32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i] ? 1 : 0;
  const out = new Int32Array(n);
  for (let i = 0, k = 0; i < mask.length; i++) if (mask[i]) out[k++] = i;
  return out;
}

function range(N: number): Int32Array {
  return Int32Array.from({ length: N }, (_, i) => i);
}

/** Node influence on the unpruned graph (P2-P3), `[N]`. */
function unprunedInfluence(graph: AttributionGraph, N: number): Float64Array {
  const scale = rowScales(graph.adjacency, N, range(N));
  return propagate(graph.adjacency, N, logitWeights(graph), { rowScale: scale, abs: true });
}

/**
 * Prunes an attribution graph exactly as circuit-tracer's `prune_graph` (P1-P8, see the module
 * notes), and returns the unpruned influence and cumulative scores (P3, P9) with the masks.
 *
 * Cost: about (depth of the graph + 6) passes over the `[N, N]` float32 adjacency, plus the
 * `[N, N]` byte mask; N = 9000 takes a few seconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pruneGraph } from "./prune.ts";
 * // The worked example of the reference (section 2): nodes [f1, f2, err, err e, tok T, logit].
 * const N = 6, A = new Float32Array(N * N);
 * const edge = (t: number, s: number, v: number) => (A[t * N + s] = v);
 * edge(5, 1, 3), edge(5, 3, -1), edge(1, 0, 2), edge(1, 4, 2), edge(0, 4, 1);
 * const graph = {
 *   scan: "example", nLayers: 2, tokens: Int32Array.of(0), tokenStrings: ["T"],
 *   activeFeatures: Int32Array.of(0, 0, 5, 1, 0, 7), activations: Float32Array.of(1, 1),
 *   selectedFeatures: Int32Array.of(0, 1), logitTargets: [{ tokenId: 9, label: "l", probability: 1 }],
 *   adjacency: A, droppedFeatures: 0,
 * };
 * const { nodeMask, edgeMask, influence } = pruneGraph(graph);
 * assert.deepEqual(Array.from(influence), [0.375, 0.75, 0, 0.25, 0.75, 0]);
 * assert.deepEqual(Array.from(nodeMask), [1, 1, 0, 0, 1, 1]); // e (.25) is below the cut .375
 * assert.equal(edgeMask.reduce((a, b) => a + b), 4); // all but e's edge
 * assert.equal(edgeMask[5 * N + 3], 0);
 * ```
 */
export function pruneGraph(
  graph: AttributionGraph,
  { nodeThreshold = 0.8, edgeThreshold = 0.98 }: PruneOptions = {},
): PrunedGraph {
  for (const [name, v] of [["nodeThreshold", nodeThreshold], ["edgeThreshold", edgeThreshold]]) {
    if (typeof v !== "number" || Number.isNaN(v)) {
      throw new RangeError(`pruneGraph: ${name} must be a number, got ${v}`);
    }
  }
  const N = checkGraph(graph);
  const { features: S, errors: E } = nodeCounts(graph);
  const A = graph.adjacency;
  const w = logitWeights(graph);

  // P2-P4: node influence and the node cut.
  const influence = unprunedInfluence(graph, N);
  const nodeCut = findThreshold(influence, nodeThreshold);
  const nodeMask = new Uint8Array(N);
  for (let i = 0; i < N; i++) nodeMask[i] = i >= S + E || influence[i] >= nodeCut ? 1 : 0;

  // P5-P6: edge scores on the kept nodes, E[i, j] = |A[i, j]| * r[i] over kept i, j.
  const kept = maskIndices(nodeMask);
  const m = kept.length;
  const scale = rowScales(A, N, kept, kept);
  const wKept = Float64Array.from(kept, (i) => w[i]);
  const iKept = propagate(A, N, wKept, { rowScale: scale, abs: true, subset: kept });
  const r = new Float64Array(m); // scale * I'
  for (let a = 0; a < m; a++) r[a] = scale[kept[a]] * (wKept[a] + iKept[a]);

  // P7: the edge cut over all N*N scores (float32), recomputed row by row on every pass.
  const buf = new Float32Array(m);
  const source: ScoreSource = (visit, zeros) => {
    zeros((N - m) * N);
    for (let a = 0; a < m; a++) {
      const ra = r[a];
      if (ra === 0) {
        zeros(N);
        continue;
      }
      const off = kept[a] * N;
      for (let b = 0; b < m; b++) buf[b] = Math.abs(A[off + kept[b]]) * ra;
      visit(buf);
      zeros(N - m);
    }
  };
  const edgeCut = thresholdOfSource(source, edgeThreshold);
  const edgeMask = new Uint8Array(N * N);
  const inCount = new Int32Array(N), outCount = new Int32Array(N);
  for (let a = 0; a < m; a++) {
    const i = kept[a], ra = r[a];
    if (scale[i] === 0 || (ra === 0 && edgeCut > 0)) continue;
    const off = i * N;
    for (let b = 0; b < m; b++) {
      const x = A[off + kept[b]];
      if (x !== 0 && Math.fround(Math.abs(x) * ra) >= edgeCut) {
        edgeMask[off + kept[b]] = 1;
        inCount[i]++;
        outCount[kept[b]]++;
      }
    }
  }

  // P8: drop features/errors without outgoing and features without incoming edges, to a fixpoint.
  const alive = new Uint8Array(N); // rows that may still hold kept edges
  for (let i = 0; i < N; i++) alive[i] = inCount[i] > 0 ? 1 : 0;
  for (;;) {
    const dropped: number[] = [];
    for (let j = 0; j < S + E; j++) {
      if (nodeMask[j] && (outCount[j] === 0 || (j < S && inCount[j] === 0))) dropped.push(j);
    }
    if (dropped.length === 0) break;
    for (const d of dropped) nodeMask[d] = 0;
    for (const d of dropped) { // their incoming edges
      const off = d * N;
      if (inCount[d] === 0) continue;
      for (let b = 0; b < m; b++) {
        const s = kept[b];
        if (edgeMask[off + s]) {
          edgeMask[off + s] = 0;
          outCount[s]--;
        }
      }
      inCount[d] = 0;
      alive[d] = 0;
    }
    for (let i = 0; i < N; i++) { // their outgoing edges
      if (!alive[i]) continue;
      const off = i * N;
      for (const d of dropped) {
        if (edgeMask[off + d]) {
          edgeMask[off + d] = 0;
          inCount[i]--;
          outCount[d]--;
        }
      }
      if (inCount[i] === 0) alive[i] = 0;
    }
  }
  return { nodeMask, edgeMask, influence, cumulativeScores: cumulativeScores(influence) };
}

/** The replacement and completeness scores of a graph (section 4). */
export interface GraphScores {
  /** Share of the token and error influence that comes from tokens. */
  replacement: number;
  /** Influence-weighted share of the nodes' inputs that does not come from error nodes. */
  completeness: number;
}

/**
 * circuit-tracer's `compute_graph_scores` (section 4) on the unpruned graph, with `Â`, w and I
 * as in P2-P3:
 *
 * - replacement = `sum_tokens I / (sum_tokens I + sum_errors I)`;
 * - completeness = `sum_i (1 - sum_{j in errors} Â[i, j]) (I_i + w_i) / sum_i (I_i + w_i)`, where
 *   (circuit-tracer's quirk) error and token nodes, whose rows are zero, count as complete.
 *
 * `influence` (`pruneGraph(graph).influence`) saves recomputing I.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphScores } from "./prune.ts";
 * // The worked example of the reference (sections 2 and 4).
 * const N = 6, A = new Float32Array(N * N);
 * const edge = (t: number, s: number, v: number) => (A[t * N + s] = v);
 * edge(5, 1, 3), edge(5, 3, -1), edge(1, 0, 2), edge(1, 4, 2), edge(0, 4, 1);
 * const graph = {
 *   scan: "example", nLayers: 2, tokens: Int32Array.of(0), tokenStrings: ["T"],
 *   activeFeatures: Int32Array.of(0, 0, 5, 1, 0, 7), activations: Float32Array.of(1, 1),
 *   selectedFeatures: Int32Array.of(0, 1), logitTargets: [{ tokenId: 9, label: "l", probability: 1 }],
 *   adjacency: A, droppedFeatures: 0,
 * };
 * const { replacement, completeness } = graphScores(graph); // 0.75, 0.92
 * assert.equal(replacement, 0.75);
 * assert.ok(Math.abs(completeness - 0.92) < 1e-12);
 * ```
 */
export function graphScores(
  graph: AttributionGraph,
  { influence }: { influence?: Float64Array } = {},
): GraphScores {
  const N = checkGraph(graph);
  const { features: S, errors: E, tokens: T } = nodeCounts(graph);
  const A = graph.adjacency;
  const w = logitWeights(graph);
  const I = influence ?? unprunedInfluence(graph, N);
  if (I.length !== N) {
    throw new RangeError(`graphScores: influence has ${I.length} entries, not ${N}`);
  }
  let tokenI = 0, errorI = 0;
  for (let j = S; j < S + E; j++) errorI += I[j];
  for (let j = S + E; j < S + E + T; j++) tokenI += I[j];
  let num = 0, den = 0;
  for (let i = 0; i < N; i++) {
    const off = i * N;
    let all = 0, err = 0;
    for (let j = 0; j < N; j++) all += Math.abs(A[off + j]);
    if (all === 0) { // error and token rows: complete (circuit-tracer's quirk)
      den += I[i] + w[i];
      num += I[i] + w[i];
      continue;
    }
    for (let j = S; j < S + E; j++) err += Math.abs(A[off + j]);
    const nonError = 1 - err / Math.max(all, ROW_SUM_CLAMP);
    const weight = I[i] + w[i];
    num += nonError * weight;
    den += weight;
  }
  return { replacement: tokenI / (tokenI + errorI), completeness: num / den };
}

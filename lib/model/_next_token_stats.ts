/**
 * Next-token cross-entropy and KL divergences in the graph, without materialising a full
 * log-softmax: the unembedding runs in vocabulary chunks, each reduced at once to its
 * log-sum-exp, so a pass costs one matmul and one streaming reduction over `[tokens, d_vocab]`.
 *
 * With `x` the final normalised residual of a pass (`ln_final.hook_normalized`), its logits are
 * `x W_U + b_U` and, for each position:
 * - `lse = log sum_v exp(logit_v)` (the chunks' log-sum-exps, reduced once more);
 * - the loss of the next token `t` is `lse - (x . W_U[:, t] + b_U[t])`;
 * - against a reference pass `c` with distribution `p_c`, `KL(p_c || p) = sum_v p_c(v) (logit_c(v)
 *   - lse_c - logit(v) + lse)`, and since `sum_v p_c(v) logit(v) = x . q_c + p_c . b_U` with
 *   `q_c = sum_v p_c(v) W_U[:, v]` (`[d_model]`, the expected unembedding vector), the biases
 *   cancel: `KL = (x_c - x) . q_c - lse_c + lse`. So `q_c` is computed once (one more pass over
 *   the reference's chunks) and every compared pass costs only its log-sum-exp and a dot product.
 *
 * `referencePass` and `comparedPass` put these together; a forward pass with compared passes
 * on the CPU provider takes the same statistics from one flash attention per pass instead
 * (_vocabulary_attention.ts).
 *
 * @module
 */
import type { Graph } from "../graph/builder.ts";
import type { Value } from "../graph/ir.ts";

/**
 * Vocabulary columns per chunk: a `[tokens, chunk]` block of logits at a time. Measured on the
 * tiny model's eval (2 cores, before it ran on flash attention): 2048 gave 556 tok/s, 8192 435,
 * 16384 396, the whole vocabulary 403.
 */
export const VOCAB_CHUNK = 2048;

/** The unembedding `W_U` `[d, V]` and `b_U` `[V]` split into vocabulary chunks. */
export interface Unembedding {
  W_U: Value;
  b_U: Value;
  /** Per chunk: `W_U[:, c0:c1]` `[d, c]` and `b_U[c0:c1]` `[c]`. */
  chunks: { W: Value; b: Value }[];
}

/**
 * Splits the unembedding into chunks of `chunk` columns (the last may be shorter).
 *
 * @example
 * ```ts
 * import { Graph } from "@transcoder-circuits/core/graph";
 * import { unembeddingChunks } from "./_next_token_stats.ts";
 * const g = new Graph();
 * const u = unembeddingChunks(g, g.input("W_U", "float32", [4, 10]), g.input("b_U", "float32", [10]), 4);
 * u.chunks.map((c) => c.W.shape); // [[4, 4], [4, 4], [4, 2]]
 * ```
 */
export function unembeddingChunks(
  g: Graph,
  W_U: Value,
  b_U: Value,
  chunk = VOCAB_CHUNK,
): Unembedding {
  const [d, V] = W_U.shape;
  const chunks = [];
  for (let c0 = 0; c0 < V; c0 += chunk) {
    const c1 = Math.min(V, c0 + chunk);
    chunks.push({ W: g.slice(W_U, [0, c0], [d, c1], [0, 1]), b: g.slice(b_U, [c0], [c1], [0]) });
  }
  return { W_U, b_U, chunks };
}

/** A pass's final residual `x` `[b, p, d]` and its per-position log-sum-exp `[b, p]`. */
export interface PassLse {
  x: Value;
  lse: Value;
}

/** The statistics of a reference pass: its log-sum-exp and its chunks. */
export interface PassStats extends PassLse {
  /**
   * Per chunk: its log-softmax `[b*p, c]` and log-sum-exp `[b*p, 1]` (kept for a reference pass,
   * whose `expectedUnembedding` reads them).
   */
  chunks: { logSoftmax: Value; lse: Value }[];
}

/**
 * The log-sum-exp of the logits of `x` `[b, p, d]` at every position, `[b, p]`. Each chunk's
 * log-sum-exp is read off its log-softmax (`lse = logit_0 - logSoftmax_0`: onnxruntime's
 * LogSoftmax is vectorised, its ReduceLogSumExp is not, and measured twice as slow).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph, Runtime } from "@transcoder-circuits/core/graph";
 * import { tensor } from "@transcoder-circuits/core/tensor";
 * import { passStats, unembeddingChunks } from "./_next_token_stats.ts";
 * const g = new Graph();
 * const u = unembeddingChunks(g, g.input("W", "float32", [1, 3]), g.input("b", "float32", [3]), 2);
 * g.output("lse", passStats(g, g.input("x", "float32", [1, 1, 1]), u).lse);
 * const out = await (await new Runtime().compile(g)).run({
 *   W: tensor(new Float32Array([1, 2, 3]), [1, 3]),
 *   b: tensor(new Float32Array(3), [3]),
 *   x: tensor(new Float32Array([1]), [1, 1, 1]),
 * });
 * const expected = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)); // 3.4076
 * assert.ok(Math.abs((out.lse.data as Float32Array)[0] - expected) < 1e-5);
 * ```
 */
export function passStats(g: Graph, x: Value, u: Unembedding): PassStats {
  const [b, p, d] = x.shape, n = b * p;
  const x2 = g.reshape(x, [n, d]);
  const chunks = u.chunks.map((c) => chunkLogSoftmax(g, x2, c));
  const lse = chunks.length === 1
    ? chunks[0].lse
    : g.reduceLogSumExp(g.concat(chunks.map((c) => c.lse), 1), [1], true);
  return { x, lse: g.reshape(lse, [b, p]), chunks };
}

/**
 * One vocabulary chunk of the rows `x` `[n, d]`: its log-softmax `[n, c]` and log-sum-exp
 * `[n, 1]`, read off the first column (`lse = logit_0 - logSoftmax_0`).
 */
export function chunkLogSoftmax(
  g: Graph,
  x: Value,
  chunk: { W: Value; b: Value },
): { logSoftmax: Value; lse: Value } {
  const n = x.shape[0];
  const first = (v: Value) => g.slice(v, [0, 0], [n, 1], [0, 1]); // [n, 1]
  const logits = g.gemm(x, chunk.W, { c: chunk.b }); // [n, c], the bias added inside the kernel
  const logSoftmax = g.logSoftmax(logits, 1);
  return { logSoftmax, lse: g.sub(first(logits), first(logSoftmax)) };
}

/**
 * The expected unembedding vector under a pass's next-token distribution at every position,
 * `q = sum_v p(v) W_U[:, v]`, `[b, p, d]` (the reference side of `klFrom`): per chunk, its
 * softmax times `W_U[:, chunk]^T`, weighted by the chunk's share of the probability.
 */
export function expectedUnembedding(g: Graph, s: PassStats, u: Unembedding): Value {
  const [b, p, d] = s.x.shape;
  const lse = g.reshape(s.lse, [b * p, 1]);
  let q: Value | undefined;
  s.chunks.forEach((c, i) => {
    const share = g.exp(g.sub(c.lse, lse)); // [n, 1]
    const part = g.mul(g.gemm(g.exp(c.logSoftmax), u.chunks[i].W, { transB: true }), share);
    q = q ? g.add(q, part) : part;
  });
  return g.reshape(q!, [b, p, d]);
}

/**
 * Per-token next-token loss `[b, p-1]` of a pass: position `i` predicts `tokens[:, i+1]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph, Runtime } from "@transcoder-circuits/core/graph";
 * import { tensor } from "@transcoder-circuits/core/tensor";
 * import { nextTokenLosses, passStats, unembeddingChunks } from "./_next_token_stats.ts";
 * const g = new Graph();
 * const u = unembeddingChunks(g, g.input("W", "float32", [1, 4]), g.input("b", "float32", [4]), 3);
 * const x = g.input("x", "float32", [1, 2, 1]), tokens = g.input("tokens", "int32", [1, 2]);
 * g.output("loss", nextTokenLosses(g, passStats(g, x, u), u, tokens));
 * const out = await (await new Runtime().compile(g)).run({
 *   W: tensor(new Float32Array(4), [1, 4]), // uniform logits: every loss is ln 4
 *   b: tensor(new Float32Array(4), [4]),
 *   x: tensor(new Float32Array([1, 1]), [1, 2, 1]),
 *   tokens: tensor(new Int32Array([0, 3]), [1, 2]),
 * });
 * out.loss.shape; // [1, 1]
 * assert.ok(Math.abs((out.loss.data as Float32Array)[0] - Math.log(4)) < 1e-6);
 * ```
 */
export function nextTokenLosses(
  g: Graph,
  s: PassLse,
  u: Unembedding,
  tokens: Value,
  targets: Value = targetLogits(g, s.x, u, tokens),
): Value {
  const p = s.x.shape[1];
  return g.sub(g.slice(s.lse, [0], [p - 1], [1]), targets);
}

/** The logit of each next token `[b, p-1]` of a pass: at position `i`, of `tokens[:, i+1]`. */
export function targetLogits(g: Graph, x: Value, u: Unembedding, tokens: Value): Value {
  const [b, p, d] = x.shape;
  const targets = g.reshape(g.slice(tokens, [1], [p], [1]), [b * (p - 1)]);
  const rows = g.reshape(g.slice(x, [0], [p - 1], [1]), [b * (p - 1), d]);
  const wT = g.transpose(g.gather(u.W_U, targets, 1), [1, 0]); // [n, d]: W_U[:, t] per row
  const target = g.add(g.reduceSum(g.mul(rows, wT), [1]), g.gather(u.b_U, targets, 0)); // [n]
  return g.reshape(target, [b, p - 1]);
}

/**
 * `KL(reference || pass)` of the next-token distributions at every position, `[b, p]`, from the
 * reference's statistics and expected unembedding `q` (`expectedUnembedding`).
 */
export function klFrom(g: Graph, ref: PassLse, q: Value, s: PassLse): Value {
  const dot = g.reduceSum(g.mul(g.sub(ref.x, s.x), q), [2]); // [b, p]
  return g.add(g.sub(dot, ref.lse), s.lse);
}

/**
 * What a reference pass gives its compared passes: its final residual `x` `[b, p, d]`, its
 * log-sum-exp `lse` `[b, p]`, its next-token losses `[b, p-1]` and, when asked for, its expected
 * unembedding `q` `[b, p, d]`.
 */
export interface ReferencePass extends PassLse {
  losses: Value;
  q?: Value;
}

/** A compared pass's next-token losses `[b, p-1]` and `KL(reference || pass)` `[b, p]`. */
export interface ComparedPass {
  losses: Value;
  kl: Value;
}

/**
 * A reference pass from the vocabulary chunks, with its expected unembedding when `expected`
 * (one more product per chunk).
 */
export function referencePass(
  g: Graph,
  x: Value,
  u: Unembedding,
  tokens: Value,
  { expected = false }: { expected?: boolean } = {},
): ReferencePass {
  const stats = passStats(g, x, u);
  return {
    x,
    lse: stats.lse,
    losses: nextTokenLosses(g, stats, u, tokens),
    ...(expected ? { q: expectedUnembedding(g, stats, u) } : {}),
  };
}

/** A pass compared with `ref` (which has its `q`), from its final residual `x` `[b, p, d]`. */
export function comparedPass(
  g: Graph,
  ref: ReferencePass,
  x: Value,
  u: Unembedding,
  tokens: Value,
): ComparedPass {
  const stats = passStats(g, x, u);
  return { losses: nextTokenLosses(g, stats, u, tokens), kl: klFrom(g, ref, ref.q!, stats) };
}

/**
 * The next-token statistics of _next_token_stats.ts from one flash attention per pass (the CPU
 * provider's MLAS kernel behind `com.microsoft.MultiHeadAttention`): the logits are scored a
 * block of the vocabulary at a time inside the L2 cache, and neither they nor a log-softmax are
 * ever written out, where the chunked path writes and reads both for every chunk.
 *
 * The keys are the vocabulary plus one extra key (`VocabularyAttention`): against the query
 * `[x, 1, e]` the key of token `v` scores its logit `x . W_U[:, v] + b_U[v]` and the extra key
 * scores `e`. With the value 1 on the extra key and 0 elsewhere, the attention gives the extra
 * key's weight `w = exp(e) / (exp(e) + sum_v exp(logit_v))`, hence
 * `lse - e = log((1 - w) / w)`. `e` is chosen as a lower bound on `lse`, so that `w <= 1/2`
 * (`1 - w` loses no precision) and `w` underflows only if `lse - e` exceeds 87 nats:
 * - a reference pass takes the larger of the next token's logit and the log-sum-exp of the first
 *   vocabulary chunk (both at most `lse`); its loss is then `log((1 - w) / w)` itself wherever
 *   the bound is the next token's logit, and its expected unembedding `q` comes from the same
 *   attention with the keys as its values (the weighted sum of their `W_U` part is `(1 - w) q`);
 * - a compared pass takes the larger of the next token's logit and the tangent of the convex
 *   `lse` at the reference, `e = lse_c + q_c . (x - x_c)`, for which `lse - e` is exactly
 *   `KL(reference || pass)` (the identity of _next_token_stats.ts): the KL is `log((1 - w) / w)`
 *   itself wherever the bound is the tangent.
 *
 * @module
 */
import type { Graph } from "../graph/builder.ts";
import type { Value } from "../graph/ir.ts";
import {
  chunkLogSoftmax,
  type ComparedPass,
  type ReferencePass,
  targetLogits,
  type Unembedding,
} from "./_next_token_stats.ts";

/**
 * The vocabulary as the keys of an attention, built once per graph run and shared by every pass:
 * `keys` `[1, V + 1, d + 2]`, key 0 `[0, .., 0, 0, 1]` and key `1 + v` `[W_U[:, v], b_U[v], 0]`.
 * They are also the values that give a reference pass its expected unembedding: weighted by the
 * attention, their first `d` columns sum to `(1 - w) q` and their last to `w`. `extraKey`
 * `[1, V + 1, 1]` is that last column alone (1 for key 0, else 0), the value of compared passes.
 */
export interface VocabularyAttention {
  keys: Value;
  extraKey: Value;
}

/** Builds the `VocabularyAttention` of an unembedding. */
export function vocabularyAttention(g: Graph, u: Unembedding): VocabularyAttention {
  const [d, V] = u.W_U.shape;
  const fill = (x: number, shape: number[]) => g.expand(g.scalar(x), shape);
  const extraKey = g.concat([fill(1, [1, 1]), fill(0, [V, 1])], 0); // [V + 1, 1]
  const keys = g.concat([
    g.concat([fill(0, [1, d]), g.transpose(u.W_U, [1, 0])], 0), // [V + 1, d]
    g.concat([fill(0, [1, 1]), g.reshape(u.b_U, [V, 1])], 0), // [V + 1, 1]
    extraKey,
  ], 1);
  return {
    keys: g.reshape(keys, [1, V + 1, d + 2]),
    extraKey: g.reshape(extraKey, [1, V + 1, 1]),
  };
}

/**
 * The attention of the queries `[x, 1, bound]` (`x` `[b, p, d]`, `bound` `[b, p]`) over the
 * vocabulary: the gap `lse - bound = log((1 - w) / w)` `[b, p]` and, with the keys as values,
 * the expected unembedding `q` `[b, p, d]`. One call per pass: were onnxruntime to fall back
 * from its flash kernel (it needs the L2 cache's size), it would hold `[b * p, V + 1]` scores.
 */
function attend(
  g: Graph,
  x: Value,
  bound: Value,
  attention: VocabularyAttention,
  { expected = false }: { expected?: boolean } = {},
): { gap: Value; q?: Value } {
  const [b, p, d] = x.shape, n = b * p;
  const values = expected ? attention.keys : attention.extraKey, f = values.shape[2];
  const query = g.concat([
    g.reshape(x, [n, d]),
    g.expand(g.scalar(1), [n, 1]),
    g.reshape(bound, [n, 1]),
  ], 1);
  const out = g.reshape(
    g.multiHeadAttention(g.reshape(query, [1, n, d + 2]), attention.keys, values, {
      numHeads: 1,
      scale: 1,
    }),
    [b, p, f],
  );
  const w = g.slice(out, [f - 1], [f], [2]); // [b, p, 1]: the extra key's weight
  const gap = g.reshape(g.sub(g.log(g.sub(g.scalar(1), w)), g.log(w)), [b, p]);
  return expected ? { gap, q: g.div(g.slice(out, [0], [d], [2]), g.sub(g.scalar(1), w)) } : { gap };
}

/**
 * The larger of `e` `[b, p]` and the next token's logits `targets` `[b, p-1]` at each position
 * (the last position, which has no next token, keeps `e`).
 */
function lowerBound(g: Graph, e: Value, targets: Value): Value {
  const p = e.shape[1];
  return g.concat(
    [g.max(g.slice(e, [0], [p - 1], [1]), targets), g.slice(e, [p - 1], [p], [1])],
    1,
  );
}

/** The losses `(bound - logit) + gap` `[b, p-1]` at the positions with a next token. */
function losses(g: Graph, bound: Value, gap: Value, targets: Value): Value {
  const p = bound.shape[1];
  const head = (v: Value) => g.slice(v, [0], [p - 1], [1]);
  return g.add(g.sub(head(bound), targets), head(gap));
}

/**
 * A reference pass (see the module doc) from its final residual `x` `[b, p, d]`, with its
 * expected unembedding `q` when `expected`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph, Runtime } from "@transcoder-circuits/core/graph";
 * import { tensor } from "@transcoder-circuits/core/tensor";
 * import { unembeddingChunks } from "./_next_token_stats.ts";
 * import { fusedReferencePass, vocabularyAttention } from "./_vocabulary_attention.ts";
 * const g = new Graph();
 * const u = unembeddingChunks(g, g.input("W", "float32", [1, 3]), g.input("b", "float32", [3]), 2);
 * const x = g.input("x", "float32", [1, 2, 1]), tokens = g.input("tokens", "int32", [1, 2]);
 * const ref = fusedReferencePass(g, x, u, tokens, vocabularyAttention(g, u), { expected: true });
 * g.output("lse", ref.lse);
 * g.output("loss", ref.losses);
 * g.output("q", ref.q!);
 * const out = await (await new Runtime().compile(g)).run({
 *   W: tensor(new Float32Array([1, 2, 3]), [1, 3]), b: tensor(new Float32Array(3), [3]),
 *   x: tensor(new Float32Array([1, 1]), [1, 2, 1]), tokens: tensor(new Int32Array([0, 0]), [1, 2]),
 * });
 * const z = Math.exp(1) + Math.exp(2) + Math.exp(3); // logits 1, 2, 3
 * for (const v of out.lse.data as Float32Array) assert.ok(Math.abs(v - Math.log(z)) < 1e-6);
 * assert.ok(Math.abs((out.loss.data as Float32Array)[0] - (Math.log(z) - 1)) < 1e-6);
 * const q = (Math.exp(1) + 2 * Math.exp(2) + 3 * Math.exp(3)) / z; // the expected W_U[0, v]
 * for (const v of out.q.data as Float32Array) assert.ok(Math.abs(v - q) < 1e-6);
 * ```
 */
export function fusedReferencePass(
  g: Graph,
  x: Value,
  u: Unembedding,
  tokens: Value,
  attention: VocabularyAttention,
  { expected = false }: { expected?: boolean } = {},
): ReferencePass {
  const [b, p, d] = x.shape;
  const targets = targetLogits(g, x, u, tokens);
  const probe = g.reshape(chunkLogSoftmax(g, g.reshape(x, [b * p, d]), u.chunks[0]).lse, [b, p]);
  const bound = lowerBound(g, probe, targets);
  const { gap, q } = attend(g, x, bound, attention, { expected });
  return {
    x,
    lse: g.add(bound, gap),
    losses: losses(g, bound, gap, targets),
    ...(q ? { q } : {}),
  };
}

/**
 * A pass compared with `ref` (see the module doc), from its final residual `x` `[b, p, d]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph, Runtime } from "@transcoder-circuits/core/graph";
 * import { tensor } from "@transcoder-circuits/core/tensor";
 * import { comparedPass, referencePass, unembeddingChunks } from "./_next_token_stats.ts";
 * import { fusedComparedPass, vocabularyAttention } from "./_vocabulary_attention.ts";
 * const g = new Graph();
 * const u = unembeddingChunks(g, g.input("W", "float32", [1, 3]), g.input("b", "float32", [3]), 2);
 * const tokens = g.input("tokens", "int32", [1, 2]);
 * const ref = referencePass(g, g.input("xRef", "float32", [1, 2, 1]), u, tokens, { expected: true });
 * const x = g.input("x", "float32", [1, 2, 1]);
 * const fused = fusedComparedPass(g, ref, x, u, tokens, vocabularyAttention(g, u));
 * const chunked = comparedPass(g, ref, x, u, tokens);
 * for (const [k, v] of Object.entries({ fused, chunked })) {
 *   g.output(`${k}KL`, v.kl);
 *   g.output(`${k}Loss`, v.losses);
 * }
 * const out = await (await new Runtime().compile(g)).run({
 *   W: tensor(new Float32Array([1, 2, 3]), [1, 3]), b: tensor(new Float32Array(3), [3]),
 *   xRef: tensor(new Float32Array([0, 0]), [1, 2, 1]), x: tensor(new Float32Array([1, 1]), [1, 2, 1]),
 *   tokens: tensor(new Int32Array([0, 0]), [1, 2]),
 * });
 * const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)); // logits 1, 2, 3 at x = 1
 * const kl = lse - 2 - Math.log(3); // KL(uniform || softmax(1, 2, 3)) = 0.309
 * for (const k of ["fused", "chunked"]) {
 *   for (const v of out[`${k}KL`].data as Float32Array) assert.ok(Math.abs(v - kl) < 1e-6, k);
 *   assert.ok(Math.abs((out[`${k}Loss`].data as Float32Array)[0] - (lse - 1)) < 1e-6, k);
 * }
 * ```
 */
export function fusedComparedPass(
  g: Graph,
  ref: ReferencePass,
  x: Value,
  u: Unembedding,
  tokens: Value,
  attention: VocabularyAttention,
): ComparedPass {
  const targets = targetLogits(g, x, u, tokens);
  const tangent = g.add(ref.lse, g.reduceSum(g.mul(g.sub(x, ref.x), ref.q!), [2])); // [b, p]
  const bound = lowerBound(g, tangent, targets);
  const { gap } = attend(g, x, bound, attention);
  return { losses: losses(g, bound, gap, targets), kl: g.add(g.sub(bound, tangent), gap) };
}

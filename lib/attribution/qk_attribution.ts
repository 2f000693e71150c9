/**
 * Why a head attends: the pre-softmax score `q_t . k_s / sqrt(d_head)` of head (l, h) from
 * destination t to source s, decomposed into the contributions of the graph's nodes (features,
 * errors, tokens) on the query side and on the key side, under the same frozen linearisation as
 * the attribution graph's edges (attention patterns and LayerNorm scales of the layers below
 * frozen, no path through an MLP).
 *
 * With Q_i and K_j the parts of q_t and k_s that node i and node j write (one reverse pass row
 * per query and key dimension), and q_c, k_c what no node writes (positional embeddings, biases):
 *
 *     score = sum_ij Q_i . K_j / sqrt(d_head) + sum_i Q_i . k_c / sqrt(d_head)
 *           + sum_j q_c . K_j / sqrt(d_head) + q_c . k_c / sqrt(d_head)
 *
 * The score is bilinear in the nodes, so removing node i from the frozen pass changes it to
 * exactly `(q_t - Q_i) . (k_s - K_i) / sqrt(d_head)` (a test checks it against a real run).
 *
 * @module
 */
import type { HookedModel } from "../model/hooked_model.ts";
import type { TokensLike } from "../model/tokens.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { tokenStrings } from "../tokenizer/gpt2_tokenizer.ts";
import { AttributionContext, type RowTask } from "./_attribution_context.ts";

/** A node of the decomposition: a feature, an error, a token, or the constant part. */
export interface QkNode {
  kind: "feature" | "error" | "token" | "constant";
  /** The layer (-1 for tokens and the constant). */
  layer: number;
  /** The position (-1 for the constant). */
  pos: number;
  /** The feature index (features only). */
  feature?: number;
  /** E.g. `L3/1207@5 " cat"`, `err L2@5`, `tok@5 " cat"`, `const`. */
  label: string;
}

/** One term of the decomposition. */
export interface QkTerm {
  node: QkNode;
  /** Its contribution to the score. */
  value: number;
}

/** A (query node, key node) pair and its contribution `Q_i . K_j / sqrt(d_head)`. */
export interface QkPair {
  query: QkNode;
  key: QkNode;
  value: number;
}

/** Options of `qkAttribution`. */
export interface QkOptions {
  layer: number;
  head: number;
  /** The destination position t (attending; negative counts from the end). */
  queryPos: number;
  /** The source position s (attended to; at most t). */
  keyPos: number;
  /** Terms and pairs listed (default 10). */
  topK?: number;
  /** Pairs are searched among this many strongest query and key terms (default 50). */
  candidates?: number;
}

/** The decomposition of one attention score. */
export interface QkAttribution {
  layer: number;
  head: number;
  queryPos: number;
  keyPos: number;
  /** The clean pass's pre-softmax score (`hook_attn_scores`). */
  score: number;
  /** The clean pass's attention weight (`hook_pattern`). */
  pattern: number;
  /** The strongest query-side terms `Q_i . k_s / sqrt(d_head)` (they sum, with all others and the constant, to the score). */
  queryTerms: QkTerm[];
  /** The strongest key-side terms `q_t . K_j / sqrt(d_head)`. */
  keyTerms: QkTerm[];
  /** The strongest pairs `Q_i . K_j / sqrt(d_head)` (constant parts included as a node). */
  pairs: QkPair[];
  /**
   * The score with node `column`'s contribution removed on both sides, as the bilinear form
   * predicts it (`column` in the attribution columns: features, then errors, then tokens).
   */
  scoreWithout(node: QkNode): number;
}

const f32 = (t: Tensor) => t.data as Float32Array;

/**
 * Decomposes head (layer, head)'s score from `queryPos` to `keyPos` into node contributions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { qkAttribution } from "./qk_attribution.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const qk = await qkAttribution(model, transcoders, "The cat sat on the mat", {
 *   layer: 2, head: 1, queryPos: -1, keyPos: 2,
 * });
 * qk.pairs[0]; // { query: { kind: "token", label: 'tok@6 " mat"', ... }, key: ..., value: ... }
 * assert.ok(qk.pairs.length > 0 && Number.isFinite(qk.score));
 * ```
 */
export async function qkAttribution(
  model: HookedModel,
  transcoders: readonly (Transcoder | undefined)[],
  prompt: string | TokensLike,
  options: QkOptions,
): Promise<QkAttribution> {
  const { n_layers: L, n_heads: H, d_head: dh, d_model: d } = model.cfg;
  const { layer, head, topK = 10, candidates = 50 } = options;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
    throw new RangeError(`layer ${layer} is out of range [0, ${L})`);
  }
  if (!Number.isInteger(head) || head < 0 || head >= H) {
    throw new RangeError(`head ${head} is out of range [0, ${H})`);
  }
  const ctx = await AttributionContext.create(model, transcoders, prompt, { batchSize: dh });
  const T = ctx.nPos;
  const t = options.queryPos < 0 ? T + options.queryPos : options.queryPos;
  const s = options.keyPos < 0 ? T + options.keyPos : options.keyPos;
  if (!Number.isInteger(t) || t < 0 || t >= T) {
    throw new RangeError(`queryPos ${options.queryPos} is out of range for ${T} positions`);
  }
  if (!Number.isInteger(s) || s < 0 || s > t) {
    throw new RangeError(
      `keyPos ${options.keyPos} must be a position at or before the query position ${t} (causal attention)`,
    );
  }
  const a = `blocks.${layer}.attn`;
  const { cache } = await model.runWithCache(ctx.tokens, {
    names: [`${a}.hook_q`, `${a}.hook_k`, `${a}.hook_attn_scores`, `${a}.hook_pattern`],
  });
  const q = f32(cache.get(`${a}.hook_q`)).slice((t * H + head) * dh, (t * H + head + 1) * dh);
  const k = f32(cache.get(`${a}.hook_k`)).slice((s * H + head) * dh, (s * H + head + 1) * dh);
  const score = f32(cache.get(`${a}.hook_attn_scores`))[(head * T + t) * T + s];
  const pattern = f32(cache.get(`${a}.hook_pattern`))[(head * T + t) * T + s];

  // One row per query dimension and per key dimension: the W_Q / W_K column read at ln1.
  const column = (name: string, e: number) => {
    const W = f32(model.param(`${a}.${name}`)); // [H, d, dh]
    return Float32Array.from({ length: d }, (_, i) => W[(head * d + i) * dh + e]);
  };
  const readHook = `blocks.${layer}.ln1.hook_normalized`;
  const C = ctx.nSourceColumns;
  const rows = new Float32Array(2 * dh * C);
  const tasks: RowTask[] = [];
  for (let e = 0; e < dh; e++) {
    tasks.push({ layer, readHook, pos: t, vector: column("W_Q", e), row: e });
    tasks.push({ layer, readHook, pos: s, vector: column("W_K", e), row: dh + e });
  }
  await ctx.computeRows(tasks, rows, C);
  // Per column: its query part Q_c [dh] and key part K_c [dh].
  const part = (c: number, side: 0 | 1) =>
    Float64Array.from({ length: dh }, (_, e) => rows[(side * dh + e) * C + c]);
  const qc = Float64Array.from(q), kc = Float64Array.from(k); // what no node writes
  const live: number[] = [];
  for (let c = 0; c < C; c++) {
    let any = false;
    for (let e = 0; e < dh && !any; e++) {
      any = rows[e * C + c] !== 0 || rows[(dh + e) * C + c] !== 0;
    }
    if (!any) continue;
    live.push(c);
    for (let e = 0; e < dh; e++) {
      qc[e] -= rows[e * C + c];
      kc[e] -= rows[(dh + e) * C + c];
    }
  }
  const scale = 1 / Math.sqrt(dh);
  const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    let acc = 0;
    for (let e = 0; e < dh; e++) acc += x[e] * y[e];
    return acc * scale;
  };
  const strs = tokenStrings(ctx.tokens);
  const F = ctx.nFeatures;
  const nodeOf = (c: number): QkNode => {
    if (c < 0) return { kind: "constant", layer: -1, pos: -1, label: "const" };
    if (c < F) {
      const [l, p, f] = ctx.activeFeatures.subarray(3 * c, 3 * c + 3);
      return {
        kind: "feature",
        layer: l,
        pos: p,
        feature: f,
        label: `L${l}/${f}@${p} ${JSON.stringify(strs[p])}`,
      };
    }
    if (c < F + L * T) {
      const l = Math.floor((c - F) / T), p = (c - F) % T;
      return { kind: "error", layer: l, pos: p, label: `err L${l}@${p}` };
    }
    const p = c - F - L * T;
    return { kind: "token", layer: -1, pos: p, label: `tok@${p} ${JSON.stringify(strs[p])}` };
  };
  const columnOf = (n: QkNode): number => {
    if (n.kind === "constant") return -1;
    if (n.kind === "token") return ctx.tokenColumn(n.pos);
    if (n.kind === "error") return ctx.errorColumn(n.layer, n.pos);
    const c = ctx.activeAt[n.layer]?.[n.pos]?.find((i) =>
      ctx.activeFeatures[3 * i + 2] === n.feature
    );
    if (c === undefined) {
      throw new RangeError(
        `feature ${n.feature} is not active at layer ${n.layer}, position ${n.pos}`,
      );
    }
    return c;
  };
  const qOf = (c: number) => (c < 0 ? qc : part(c, 0)),
    kOf = (c: number) => (c < 0 ? kc : part(c, 1));
  const byMagnitude = (x: { value: number }, y: { value: number }) =>
    Math.abs(y.value) - Math.abs(x.value);
  const all = [-1, ...live];
  const qTerms = all.map((c) => ({ c, value: dot(qOf(c), k) })).sort(byMagnitude);
  const kTerms = all.map((c) => ({ c, value: dot(q, kOf(c)) })).sort(byMagnitude);
  const pairs: QkPair[] = [];
  for (const qi of qTerms.slice(0, candidates)) {
    const Qi = qOf(qi.c);
    for (const kj of kTerms.slice(0, candidates)) {
      pairs.push({ query: nodeOf(qi.c), key: nodeOf(kj.c), value: dot(Qi, kOf(kj.c)) });
    }
  }
  pairs.sort(byMagnitude);
  return {
    layer,
    head,
    queryPos: t,
    keyPos: s,
    score,
    pattern,
    queryTerms: qTerms.slice(0, topK).map(({ c, value }) => ({ node: nodeOf(c), value })),
    keyTerms: kTerms.slice(0, topK).map(({ c, value }) => ({ node: nodeOf(c), value })),
    pairs: pairs.slice(0, topK),
    scoreWithout(node: QkNode): number {
      const c = columnOf(node);
      const Qi = qOf(c), Ki = kOf(c);
      return dot(q.map((x, e) => x - Qi[e]), k.map((x, e) => x - Ki[e]));
    },
  };
}

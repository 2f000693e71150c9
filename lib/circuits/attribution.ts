/**
 * Linear attributions of a feature vector to everything upstream, from one cached pass with
 * attention patterns fixed and LayerNorms linearised (the reference's `circuit_analysis.py`):
 *
 * 1. A transcoder feature j of an earlier layer l at the same token contributes
 *    `z_j (W_dec[j] . v)` (input-times-gradient: the pullback `W_dec v` times the activation).
 *    With `meanFreeDecoders` (default) the decoder row is first projected onto the mean-free
 *    subspace, which the next LayerNorm keeps anyway: this makes the edge exact.
 * 2. Head h of layer l contributes from source token s: `pattern[h, t, s] (v_s W_O[h]) . v`,
 *    with `v_s` the cached value vector (b_O is not attributed).
 * 3. The embedding contributes `(W_E[token] + W_pos[t]) . v`.
 * 4. Children propagate upstream: a transcoder child's vector is `W_enc[:, j] (W_dec[j] . v)`
 *    times its LN2 constant at (l, t); an attention child's vector is `W_V[h] (W_O[h] v)` times
 *    the pattern entry times the LN1 constant at (l, s).
 *
 * @module
 */
import { dot } from "../tensor/ops.ts";
import type { CircuitContext } from "./context.ts";
import type { Component, ContribType, FeatureVector } from "./feature_vector.ts";
import { type FeatureFilter, matchesFilter } from "./filters.ts";
import { decoderProducts, encoderColumn, headOvVector } from "./weight_products.ts";

/**
 * The decoder pullback `W_dec v` `[d_sae]` of a layer's transcoder (mean-free rows by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { CircuitContext } from "./context.ts";
 * import { decoderPullback } from "./attribution.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
 * const tcs = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const ctx = await CircuitContext.create(model, tcs, [1, 2, 3, 4]);
 * const pulled = decoderPullback(ctx, 1, [1, 0, 0, 0, 0, 0, 0, 0]);
 * pulled.length; // 16 (d_sae)
 * // Mean-free rows: a constant direction, which LayerNorm removes anyway, pulls back to zero.
 * assert.ok(decoderPullback(ctx, 1, new Float64Array(8).fill(0.5)).every((x) => x === 0));
 * ```
 */
export function decoderPullback(
  ctx: CircuitContext,
  layer: number,
  v: ArrayLike<number>,
): Float64Array {
  return decoderProducts(ctx.transcoder(layer), v, { meanFree: ctx.meanFreeDecoders });
}

/**
 * Input-times-gradient of every feature of a layer's transcoder at a token on a downstream
 * vector: `(W_dec v) * z` `[d_sae]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { CircuitContext } from "./context.ts";
 * import { decoderPullback, transcoderIxG } from "./attribution.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
 * const tcs = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const ctx = await CircuitContext.create(model, tcs, [1, 2, 3, 4]);
 * const v = [1, 0, 0, 0, 0, 0, 0, 0];
 * const ixg = transcoderIxG(ctx, 1, -1, v); // [d_sae]: zero for features inactive at the last token
 * const z = ctx.featureActs(1, -1);
 * assert.deepEqual(ixg, decoderPullback(ctx, 1, v).map((p, j) => p * z[j]));
 * ```
 */
export function transcoderIxG(
  ctx: CircuitContext,
  layer: number,
  token: number,
  v: ArrayLike<number>,
): Float64Array {
  const pulled = decoderPullback(ctx, layer, v);
  const z = ctx.featureActs(layer, token);
  for (let j = 0; j < pulled.length; j++) pulled[j] *= z[j];
  return pulled;
}

/** `W_O[h] v` `[d_head]` for each head of a layer (`W_O: [n_heads, d_head, d_model]`). */
function wOPullback(ctx: CircuitContext, layer: number, v: ArrayLike<number>): Float64Array[] {
  const { n_heads: nh, d_head: dh, d_model: d } = ctx.model.cfg;
  const WO = ctx.weight(`blocks.${layer}.attn.W_O`);
  return Array.from({ length: nh }, (_, h) => {
    const u = new Float64Array(dh);
    for (let e = 0; e < dh; e++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += WO[(h * dh + e) * d + k] * v[k];
      u[e] = s;
    }
    return u;
  });
}

/**
 * Contributions of every head of a layer from every source token to a vector at token t:
 * `[n_heads][pos]` (zero for sources after t).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { CircuitContext } from "./context.ts";
 * import { attnHeadContribs } from "./attribution.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
 * const tcs = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const ctx = await CircuitContext.create(model, tcs, [1, 2, 3, 4]);
 * const heads = attnHeadContribs(ctx, 1, 1, [1, 0, 0, 0, 0, 0, 0, 0]); // read at token 1
 * [heads.length, heads[0].length]; // [2, 4]: n_heads, prompt length
 * assert.deepEqual([...heads[0].subarray(2)], [0, 0]); // tokens 2 and 3 come after token 1
 * ```
 */
export function attnHeadContribs(
  ctx: CircuitContext,
  layer: number,
  token: number,
  v: ArrayLike<number>,
): Float64Array[] {
  const { n_heads: nh, d_head: dh } = ctx.model.cfg;
  const t = ctx.pos(token), p = ctx.length;
  const u = wOPullback(ctx, layer, v);
  const vals = ctx.cache.get(`blocks.${layer}.attn.hook_v`).data; // [1, p, h, dh]
  const pattern = ctx.cache.get(`blocks.${layer}.attn.hook_pattern`).data; // [1, h, p, p]
  return Array.from({ length: nh }, (_, h) => {
    const out = new Float64Array(p);
    for (let s = 0; s <= t; s++) {
      let dot = 0;
      for (let e = 0; e < dh; e++) dot += vals[(s * nh + h) * dh + e] * u[h][e];
      out[s] = pattern[(h * p + t) * p + s] * dot;
    }
    return out;
  });
}

/**
 * The embedding's contribution `(W_E[token] + W_pos[t]) . v`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { CircuitContext } from "./context.ts";
 * import { embedContrib } from "./attribution.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
 * const tcs = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const ctx = await CircuitContext.create(model, tcs, [1, 2, 3, 4]);
 * const c = embedContrib(ctx, 2, [1, 0, 0, 0, 0, 0, 0, 0]);
 * assert.equal(c, ctx.resid(0, "resid_pre", 2)[0]); // the first coordinate of token 2's embedding
 * ```
 */
export function embedContrib(ctx: CircuitContext, token: number, v: ArrayLike<number>): number {
  const x = ctx.resid(0, "resid_pre", token);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * v[i];
  return s;
}

/** Which transcoder feature a child vector is for (`transcoderChildVector`). */
export interface TranscoderChild {
  layer: number;
  /** The feature index in the layer's transcoder. */
  feature: number;
  /** The token position it is read at (negative counts from the end). */
  token: number;
  /** Its scale: the feature's activation, or 1. */
  scale: number;
}

/** Which attention edge a child vector is for (`attnChildVector`). */
export interface AttnChild {
  layer: number;
  head: number;
  /** The source position the head reads from. */
  source: number;
  /** The destination position the head writes to. */
  token: number;
}

/**
 * A transcoder feature's child vector: `W_enc[:, j] * scale` times its LN2 constant at (l, t).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { CircuitContext } from "./context.ts";
 * import { dot } from "../tensor/ops.ts";
 * import { transcoderChildVector } from "./attribution.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
 * const tcs = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const ctx = await CircuitContext.create(model, tcs, [1, 2, 3, 4]);
 * const child = transcoderChildVector(ctx, { layer: 1, feature: 3, token: -1, scale: 0.5 }); // at the last token
 * child.length; // 8 (d_model)
 * // Read on the residual stream (resid_mid) it gives what W_enc[:, 3] * 0.5 reads after LN2.
 * const wEnc = Array.from({ length: 8 }, (_, i) => tcs[1].W_enc.data[i * 16 + 3] * 0.5);
 * const viaLn = dot(wEnc, ctx.row("blocks.1.ln2.hook_normalized", -1));
 * assert.ok(Math.abs(dot(child, ctx.resid(1, "resid_mid", -1)) - viaLn) < 1e-9);
 * ```
 */
export function transcoderChildVector(
  ctx: CircuitContext,
  { layer, feature, token, scale }: TranscoderChild,
): Float64Array {
  const out = encoderColumn(ctx.transcoder(layer), feature);
  for (let i = 0; i < out.length; i++) out[i] *= scale;
  const c = ctx.lnConstant(out, layer, token, "ln2");
  for (let i = 0; i < out.length; i++) out[i] *= c;
  return out;
}

/**
 * An attention child's vector: `OV[l, h] v * pattern[h, t, s]` times the LN1 constant at (l, s).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { CircuitContext } from "./context.ts";
 * import { dot } from "../tensor/ops.ts";
 * import { attnChildVector, attnHeadContribs } from "./attribution.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
 * const tcs = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const ctx = await CircuitContext.create(model, tcs, [1, 2, 3, 4]);
 * const v = [1, 0, 0, 0, 0, 0, 0, 0];
 * const child = attnChildVector(ctx, { layer: 1, head: 0, source: 1, token: 3 }, v); // head 1.0, token 1 -> 3
 * child.length; // 8 (d_model)
 * // Read on the source's residual stream it gives the head's contribution from that source.
 * const edge = attnHeadContribs(ctx, 1, 3, v)[0][1];
 * assert.ok(Math.abs(dot(child, ctx.resid(1, "resid_pre", 1)) - edge) < 1e-5);
 * ```
 */
export function attnChildVector(
  ctx: CircuitContext,
  { layer, head, source, token }: AttnChild,
  v: ArrayLike<number>,
): Float64Array {
  const p = ctx.length, t = ctx.pos(token), s = ctx.pos(source);
  const pattern = ctx.cache.get(`blocks.${layer}.attn.hook_pattern`).data[(head * p + t) * p + s];
  const out = headOvVector(ctx.model, { layer, head }, v);
  for (let i = 0; i < out.length; i++) out[i] *= pattern;
  const c = ctx.lnConstant(out, layer, s, "ln1");
  for (let i = 0; i < out.length; i++) out[i] *= c;
  return out;
}

/**
 * The layers whose transcoders write to a feature vector's residual stream, `[first, last]`:
 * those before its layer, up to and including it for `resid_post`, only it for `mlp_out`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transcoderSourceLayers } from "./attribution.ts";
 * import type { FeatureVector, Sublayer } from "./feature_vector.ts";
 * const at = (sublayer: Sublayer): FeatureVector =>
 *   ({ componentPath: [], vector: new Float64Array(0), layer: 3, sublayer, token: -1, error: 0 });
 * transcoderSourceLayers(at("resid_mid")); // [0, 2]
 * assert.deepEqual(transcoderSourceLayers(at("resid_post")), [0, 3]);
 * assert.deepEqual(transcoderSourceLayers(at("mlp_out")), [3, 3]);
 * ```
 */
export function transcoderSourceLayers(fv: FeatureVector): [number, number] {
  const L = fv.layer;
  if (fv.sublayer === "mlp_out") return [L, L];
  return [0, fv.sublayer === "resid_post" ? L : L - 1];
}

/** A candidate source of a feature vector, before its child vector is built. */
interface Candidate {
  component: Component;
  contrib: number;
  layer: number;
  sublayer: FeatureVector["sublayer"];
  token: number;
  vector: () => Float64Array;
}

/** Options of `topContribs`. */
export interface TopContribsOptions {
  /** Skip the first token (BOS) as an attention source (default true). */
  ignoreBos?: boolean;
  /** Clip contributions above this value to it and mark them `zero_ablation`. */
  cap?: number;
  /** Keep only sources matching this filter. */
  filter?: FeatureFilter;
}

/**
 * The top-k sources of a feature vector, as child feature vectors (each with its contribution).
 * Sources: transcoder features of layers before the vector's (up to and including it for
 * `resid_post`; the same layer for `mlp_out`), attention heads of layers before it (up to and
 * including it for `resid_mid` and `resid_post`) from every source token (BOS skipped), and the
 * embedding. The top k are kept per transcoder layer and the top min(k, n_heads) per attention
 * layer, then the global top k, as the reference does, with one deliberate difference: sources
 * that contribute exactly 0 by construction (transcoder features inactive at the token, attention
 * from source tokens after the destination) are not candidates at all, whereas the reference's
 * top-k keeps them and so ranks them above sources with negative contributions. Here a node may
 * get fewer than k children, and those it gets all have non-zero contributions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * import { featureVectorString } from "./feature_vector.ts";
 * import { rootFeatureVector, transcoderFeatureVector } from "./paths.ts";
 * import { topContribs } from "./attribution.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const root = rootFeatureVector(ctx, transcoderFeatureVector(transcoders[3]!, 1477));
 * const children = topContribs(ctx, root, 3);
 * children.map((c) => featureVectorString(c, { showFull: false }));
 * // ["mlp0tc[1372]@7: 0.41", "mlp0tc[753]@7: 0.35", "mlp0tc[220]@7: 0.2"]
 * assert.equal(children.length, 3);
 * assert.ok(children[0].contrib! >= children[1].contrib! && children[1].contrib! >= children[2].contrib!);
 * ```
 */
export function topContribs(
  ctx: CircuitContext,
  fv: FeatureVector,
  k = 5,
  { ignoreBos = true, cap, filter }: TopContribsOptions = {},
): FeatureVector[] {
  const L = fv.layer, t = ctx.pos(fv.token), v = fv.vector;
  const nLayers = ctx.model.cfg.n_layers;
  if (!Number.isInteger(L) || L < 0 || L >= nLayers) {
    throw new RangeError(
      `feature vector at layer ${L}, but the model has layers 0..${nLayers - 1}`,
    );
  }
  const [tcMin, tcMax] = transcoderSourceLayers(fv);
  const attnMax = fv.sublayer === "resid_pre" ? L - 1 : fv.sublayer === "mlp_out" ? -1 : L;
  const candidates: Candidate[] = [];
  const keep = (cs: Candidate[], n: number) => {
    const ok = filter
      ? cs.filter((c) => matchesFilter(filter, toFeatureVector(c, new Float64Array(0))))
      : cs;
    return ok.sort((a, b) => b.contrib - a.contrib).slice(0, n);
  };
  const toFeatureVector = (c: Candidate, vector: Float64Array): FeatureVector => ({
    componentPath: [...fv.componentPath, c.component],
    vector,
    layer: c.layer,
    sublayer: c.sublayer,
    token: c.token,
    contrib: c.contrib,
    error: 0,
  });
  for (let l = tcMin; l <= tcMax; l++) {
    if (!ctx.transcoders[l]) continue;
    const pulled = decoderPullback(ctx, l, v);
    const z = ctx.featureActs(l, t);
    const layerCands: Candidate[] = [];
    for (let j = 0; j < pulled.length; j++) {
      if (z[j] === 0) continue;
      const scale = pulled[j];
      layerCands.push({
        component: { layer: l, type: "mlp", token: t, featureType: "tc", featureIndex: j },
        contrib: scale * z[j],
        layer: l,
        sublayer: "resid_mid",
        token: t,
        vector: () => transcoderChildVector(ctx, { layer: l, feature: j, token: t, scale }),
      });
    }
    candidates.push(...keep(layerCands, k));
  }
  for (let l = 0; l <= attnMax; l++) {
    const heads = attnHeadContribs(ctx, l, t, v);
    const layerCands: Candidate[] = [];
    heads.forEach((row, h) => {
      for (let s = ignoreBos ? 1 : 0; s <= t; s++) {
        layerCands.push({
          component: { layer: l, type: "attn", head: h, token: s },
          contrib: row[s],
          layer: l,
          sublayer: "resid_pre",
          token: s,
          vector: () => attnChildVector(ctx, { layer: l, head: h, source: s, token: t }, v),
        });
      }
    });
    candidates.push(...keep(layerCands, Math.min(k, ctx.model.cfg.n_heads)));
  }
  if (fv.sublayer !== "mlp_out") {
    candidates.push(...keep([{
      component: { layer: 0, type: "embed", token: t },
      contrib: embedContrib(ctx, t, v),
      layer: 0,
      sublayer: "resid_pre",
      token: t,
      vector: () => Float64Array.from(v),
    }], 1));
  }
  const capped = candidates.map((c) => ({
    c,
    contrib: cap !== undefined && c.contrib > cap ? cap : c.contrib,
    clipped: cap !== undefined && c.contrib > cap,
  }));
  capped.sort((a, b) => b.contrib - a.contrib);
  return capped.slice(0, k).map(({ c, contrib, clipped }): FeatureVector => ({
    ...toFeatureVector(c, c.vector()),
    contrib,
    contribType: (clipped ? "zero_ablation" : "raw") as ContribType,
    error: c.component.type === "mlp" ? transcoderRelativeError(ctx, c.component.layer, t, v) : 0,
  }));
}

/**
 * The transcoder's relative error on a vector at (layer, token):
 * `v . (mlp_out - tc_out) / v . mlp_out` (0 when `v . mlp_out` is 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { CircuitContext } from "./context.ts";
 * import { transcoderRelativeError } from "./attribution.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
 * const tcs = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const ctx = await CircuitContext.create(model, tcs, [1, 2, 3, 4]);
 * const mlpOut = ctx.row("blocks.1.hook_mlp_out", -1);
 * const err = transcoderRelativeError(ctx, 1, -1, mlpOut); // along the MLP's own output
 * assert.ok(Number.isFinite(err));
 * transcoderRelativeError(ctx, 1, -1, new Float64Array(8)); // 0 (v . mlp_out is 0)
 * ```
 */
export function transcoderRelativeError(
  ctx: CircuitContext,
  layer: number,
  token: number,
  v: ArrayLike<number>,
): number {
  const mlp = ctx.row(`blocks.${layer}.hook_mlp_out`, token);
  const den = dot(v, mlp);
  return den === 0 ? 0 : dot(v, ctx.transcoderError(layer, token)) / den;
}

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

/** The decoder pullback `W_dec v` `[d_sae]` of a layer's transcoder (mean-free rows by default). */
export function decoderPullback(
  ctx: CircuitContext,
  layer: number,
  v: ArrayLike<number>,
): Float64Array {
  const tc = ctx.transcoder(layer);
  const { d_sae: ds, d_out: d } = tc.cfg;
  const W = tc.W_dec.data;
  let mean = 0;
  if (ctx.meanFreeDecoders) {
    for (let k = 0; k < d; k++) mean += v[k];
    mean /= d;
  }
  const out = new Float64Array(ds);
  for (let j = 0; j < ds; j++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += W[j * d + k] * (v[k] - mean);
    out[j] = s;
  }
  return out;
}

/**
 * Input-times-gradient of every feature of a layer's transcoder at a token on a downstream
 * vector: `(W_dec v) * z` `[d_sae]`.
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

/** `OV[l, h] v = W_V[h] (W_O[h] v)` `[d_model]`. */
export function ovPullback(
  ctx: CircuitContext,
  layer: number,
  head: number,
  v: ArrayLike<number>,
): Float64Array {
  const { d_head: dh, d_model: d } = ctx.model.cfg;
  const u = wOPullback(ctx, layer, v)[head];
  const WV = ctx.weight(`blocks.${layer}.attn.W_V`); // [h, d, dh]
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let e = 0; e < dh; e++) s += WV[(head * d + i) * dh + e] * u[e];
    out[i] = s;
  }
  return out;
}

/** The embedding's contribution `(W_E[token] + W_pos[t]) . v`. */
export function embedContrib(ctx: CircuitContext, token: number, v: ArrayLike<number>): number {
  const x = ctx.resid(0, "resid_pre", token);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * v[i];
  return s;
}

/** A transcoder feature's child vector: `W_enc[:, j] * scale` times its LN2 constant at (l, t). */
export function transcoderChildVector(
  ctx: CircuitContext,
  layer: number,
  feature: number,
  token: number,
  scale: number,
): Float64Array {
  const tc = ctx.transcoder(layer);
  const { d_in: d, d_sae: ds } = tc.cfg;
  const W = tc.W_enc.data;
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) out[i] = W[i * ds + feature] * scale;
  const c = ctx.lnConstant(out, layer, token, "ln2");
  for (let i = 0; i < d; i++) out[i] *= c;
  return out;
}

/** An attention child's vector: `OV[l, h] v * pattern[h, t, s]` times the LN1 constant at (l, s). */
export function attnChildVector(
  ctx: CircuitContext,
  layer: number,
  head: number,
  source: number,
  token: number,
  v: ArrayLike<number>,
): Float64Array {
  const p = ctx.length, t = ctx.pos(token), s = ctx.pos(source);
  const pattern = ctx.cache.get(`blocks.${layer}.attn.hook_pattern`).data[(head * p + t) * p + s];
  const out = ovPullback(ctx, layer, head, v);
  for (let i = 0; i < out.length; i++) out[i] *= pattern;
  const c = ctx.lnConstant(out, layer, s, "ln1");
  for (let i = 0; i < out.length; i++) out[i] *= c;
  return out;
}

/**
 * The layers whose transcoders write to a feature vector's residual stream, `[first, last]`:
 * those before its layer, up to and including it for `resid_post`, only it for `mlp_out`.
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
 * layer, then the global top k (as the reference does).
 *
 * @example
 * ```ts ignore
 * const children = topContribs(ctx, featureVector, 5);
 * children.map((c) => featureVectorString(c));
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
        vector: () => transcoderChildVector(ctx, l, j, t, scale),
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
          vector: () => attnChildVector(ctx, l, h, s, t, v),
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

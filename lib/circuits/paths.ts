/**
 * Feature vectors to start from, and greedy beam search for the paths that contribute most to
 * one (the reference's `make_sae_feature_vector` and `greedy_get_top_paths`):
 *
 * 1. The root: a transcoder feature's encoder column at `resid_mid` (scaled by its LN2 constant,
 *    its contribution the feature's activation), or any direction (e.g. a logit difference).
 * 2. Each iteration expands every current path by the top `numBranches` sources of its last
 *    node (`topContribs`), then keeps the `numBranches` paths with the largest last contribution.
 * 3. Unless `rawAttribution`, a contribution is capped at the contribution of the last
 *    transcoder feature on its path (an approximation of zero-ablation attribution).
 *
 * @module
 */
import { checkFeatureIndex, type Transcoder } from "../transcoder/transcoder.ts";
import { topContribs } from "./attribution.ts";
import type { CircuitContext } from "./context.ts";
import type { Component, FeatureVector, Sublayer } from "./feature_vector.ts";
import type { FeatureFilter } from "./filters.ts";

/**
 * The feature vector of a transcoder feature: its encoder column `W_enc[:, i]` read at
 * `resid_mid` of its layer (or, with `useEncoder: false`, its decoder row at `mlp_out`).
 *
 * @example
 * ```ts ignore
 * const fv = transcoderFeatureVector(transcoders[8], 89); // prints as mlp8tc[89]@-1
 * ```
 */
export function transcoderFeatureVector(
  tc: Transcoder,
  feature: number,
  { useEncoder = true, token = -1 } = {},
): FeatureVector {
  const { d_in, d_sae, d_out } = tc.cfg;
  checkFeatureIndex(feature, d_sae);
  const vector = useEncoder ? new Float64Array(d_in) : new Float64Array(d_out);
  if (useEncoder) { for (let i = 0; i < d_in; i++) vector[i] = tc.W_enc.data[i * d_sae + feature]; }
  else for (let k = 0; k < d_out; k++) vector[k] = tc.W_dec.data[feature * d_out + k];
  return {
    componentPath: [{
      layer: tc.layer,
      type: "mlp",
      token,
      featureType: "tc",
      featureIndex: feature,
    }],
    vector,
    layer: tc.layer,
    sublayer: useEncoder ? "resid_mid" : "mlp_out",
    token,
    error: 0,
  };
}

/**
 * A feature vector for any direction, e.g. a logit difference `W_U[:, a] - W_U[:, b]` at the
 * last `resid_post` (then give `lnFinal: true` to scale it by ln_final's constant when used as a
 * root through `greedyTopPaths`).
 */
export function directionFeatureVector(
  vector: ArrayLike<number>,
  { layer, sublayer, token = -1, component }: {
    layer: number;
    sublayer: Sublayer;
    token?: number;
    component?: Component;
  },
): FeatureVector {
  return {
    componentPath: [component ?? { layer, type: sublayer === "mlp_out" ? "mlp" : "attn", token }],
    vector: Float64Array.from(vector),
    layer,
    sublayer,
    token,
    error: 0,
  };
}

/** The logit-difference direction `W_U[:, a] - W_U[:, b]` `[d_model]`. */
export function logitDifference(ctx: CircuitContext, a: number, b: number): Float64Array {
  const WU = ctx.weight("unembed.W_U"), V = ctx.model.cfg.d_vocab, d = ctx.model.cfg.d_model;
  for (const [name, x] of [["a", a], ["b", b]] as const) {
    if (!Number.isInteger(x) || x < 0 || x >= V) {
      throw new RangeError(`token ${name} = ${x} is outside the vocabulary [0, ${V})`);
    }
  }
  return Float64Array.from({ length: d }, (_, i) => WU[i * V + a] - WU[i * V + b]);
}

/**
 * The root as greedy search uses it: a transcoder feature at `resid_mid` is scaled by its LN2
 * constant and gets its activation as contribution.
 */
export function rootFeatureVector(ctx: CircuitContext, fv: FeatureVector): FeatureVector {
  const last = fv.componentPath[fv.componentPath.length - 1];
  const t = ctx.pos(fv.token);
  if (
    fv.sublayer === "resid_mid" && last?.featureType === "tc" && last.featureIndex !== undefined &&
    ctx.transcoders[fv.layer]
  ) {
    const c = ctx.lnConstant(fv.vector, fv.layer, t, "ln2");
    return {
      ...fv,
      vector: fv.vector.map((x) => x * c),
      contrib: ctx.featureActs(fv.layer, t)[last.featureIndex],
    };
  }
  if (fv.contrib === undefined) {
    const x = ctx.resid(fv.layer, fv.sublayer, t);
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * fv.vector[i];
    return { ...fv, contrib: s };
  }
  return fv;
}

/** Options of `greedyTopPaths`. */
export interface GreedyOptions {
  /** Iterations: paths get up to numIters + 1 nodes (default 2). */
  numIters?: number;
  /** Beam width and branching factor (default 5). */
  numBranches?: number;
  /** Skip BOS as an attention source (default true). */
  ignoreBos?: boolean;
  /** No capping (default false: capped at the last transcoder feature's contribution). */
  rawAttribution?: boolean;
  filter?: FeatureFilter;
}

/**
 * Greedy beam search of the paths that contribute most to a feature vector. Returns, per
 * iteration, the kept paths (root first).
 *
 * @example
 * ```ts ignore
 * const paths = greedyTopPaths(ctx, transcoderFeatureVector(transcoders[3], 12), { numIters: 3, numBranches: 15 });
 * paths[0].map((p) => pathString(p));
 * ```
 */
export function greedyTopPaths(
  ctx: CircuitContext,
  fv: FeatureVector,
  { numIters = 2, numBranches = 5, ignoreBos = true, rawAttribution = false, filter }:
    GreedyOptions = {},
): FeatureVector[][][] {
  if (!Number.isInteger(numIters) || numIters < 1) {
    throw new RangeError(`numIters must be a positive integer, got ${numIters}`);
  }
  if (!Number.isInteger(numBranches) || numBranches < 1) {
    throw new RangeError(`numBranches must be a positive integer, got ${numBranches}`);
  }
  const root = rootFeatureVector(ctx, fv);
  let current: FeatureVector[][] = [[root]];
  const all: FeatureVector[][][] = [];
  for (let it = 0; it < numIters; it++) {
    const next: FeatureVector[][] = [];
    for (const path of current) {
      const last = path[path.length - 1];
      if (last.componentPath[last.componentPath.length - 1]?.type === "embed") continue;
      let cap: number | undefined;
      if (!rawAttribution) {
        for (let i = path.length - 1; i >= 0; i--) {
          const c = path[i].componentPath[path[i].componentPath.length - 1];
          if (c?.featureType === "tc") {
            cap = path[i].contrib;
            break;
          }
        }
      }
      for (const child of topContribs(ctx, last, numBranches, { ignoreBos, cap, filter })) {
        next.push([...path, child]);
      }
    }
    next.sort((a, b) => b[b.length - 1].contrib! - a[a.length - 1].contrib!);
    current = next.slice(0, numBranches);
    all.push(current);
  }
  return all;
}

/**
 * Feature vectors to start from, and greedy beam search for the paths that contribute most to
 * one (the reference's `make_sae_feature_vector` and `greedy_get_top_paths`):
 *
 * 1. The root: a transcoder feature's encoder column at `resid_mid` (scaled by its LN2 constant,
 *    its contribution the feature's activation), or any direction (e.g. a logit difference).
 * 2. Each iteration expands every current path by the top `numBranches` sources of its last
 *    node (`topContribs`), then keeps the `numBranches` paths with the largest last contribution.
 *    As in the reference, a path whose last node is at layer 0, `resid_pre` (an embedding, or an
 *    attention head of layer 0, whose only source is the embedding with the same value) is not
 *    extended: it stays in the beam only through the iteration that found it.
 * 3. Unless `rawAttribution`, a contribution is capped at the contribution of the last
 *    transcoder feature on its path (an approximation of zero-ablation attribution).
 *
 * @module
 */
import { checkFeatureIndex, type Transcoder } from "../transcoder/transcoder.ts";
import { topContribs } from "./attribution.ts";
import type { CircuitContext } from "./context.ts";
import {
  type Component,
  type FeatureVector,
  featureVectorString,
  type Sublayer,
} from "./feature_vector.ts";
import type { FeatureFilter } from "./filters.ts";

/**
 * The feature vector of a transcoder feature: its encoder column `W_enc[:, i]` read at
 * `resid_mid` of its layer (or, with `useEncoder: false`, its decoder row at `mlp_out`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import { featureVectorString } from "./feature_vector.ts";
 * import { transcoderFeatureVector } from "./paths.ts";
 * const tc = Transcoder.random(mlpTranscoderConfig(8, { d_in: 16, d_sae: 100 }), 0);
 * const fv = transcoderFeatureVector(tc, 89);
 * featureVectorString(fv); // "mlp8tc[89]@-1"
 * [fv.layer, fv.sublayer, fv.vector.length]; // [8, "resid_mid", 16]
 * assert.equal(fv.vector[2], tc.W_enc.data[2 * 100 + 89]); // the encoder column W_enc[:, 89]
 * assert.equal(transcoderFeatureVector(tc, 89, { useEncoder: false }).sublayer, "mlp_out");
 * assert.throws(() => transcoderFeatureVector(tc, 100), RangeError);
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
 * last `resid_post`. As in the reference, the direction is read on the residual stream itself (no
 * ln_final scaling), and without a `component` the node is an MLP component of that layer with no
 * feature, printed `mlp{layer}@{token}` (the reference's greater-than target prints `mlp11@-1`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { directionFeatureVector } from "./paths.ts";
 * const fv = directionFeatureVector([1, 0, -1], { layer: 3, sublayer: "resid_post" });
 * [fv.layer, fv.sublayer, fv.token]; // [3, "resid_post", -1]
 * fv.vector; // Float64Array [1, 0, -1]
 * assert.equal(fv.componentPath.length, 1);
 * ```
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
    componentPath: [component ?? { layer, type: "mlp", token }],
    vector: Float64Array.from(vector),
    layer,
    sublayer,
    token,
    error: 0,
  };
}

/**
 * The logit-difference direction `W_U[:, a] - W_U[:, b]` `[d_model]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * import { directionFeatureVector, logitDifference, rootFeatureVector } from "./paths.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const cat = model.toSingleToken(" cat"), dog = model.toSingleToken(" dog");
 * const d = logitDifference(ctx, cat, dog);
 * d.length; // 96 (d_model)
 * // As a root at the last resid_post: its contribution is the residual stream's reading of it.
 * const root = rootFeatureVector(ctx, directionFeatureVector(d, { layer: 3, sublayer: "resid_post" }));
 * root.contrib; // 5.1458...
 * assert.throws(() => logitDifference(ctx, cat, 50257), RangeError); // outside the vocabulary
 * ```
 */
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
 * constant and gets its activation as contribution; any other vector gets its projection on the
 * residual stream as contribution. A vector that already has a contribution (a root made here, or
 * a child found by a search) is returned unchanged, so applying this twice scales once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * import { featureVectorString } from "./feature_vector.ts";
 * import { rootFeatureVector, transcoderFeatureVector } from "./paths.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const root = rootFeatureVector(ctx, transcoderFeatureVector(transcoders[3]!, 1477));
 * featureVectorString(root); // "mlp3tc[1477]@-1: 0.93"
 * assert.equal(root.contrib, ctx.featureActs(3, -1)[1477]); // the feature's activation
 * ```
 */
export function rootFeatureVector(ctx: CircuitContext, fv: FeatureVector): FeatureVector {
  const last = fv.componentPath[fv.componentPath.length - 1];
  const t = ctx.pos(fv.token);
  if (
    fv.contrib === undefined && fv.sublayer === "resid_mid" && last?.featureType === "tc" &&
    last.featureIndex !== undefined && ctx.transcoders[fv.layer]
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
  /**
   * Told when the search cannot find anything (the root feature does not fire at its position,
   * so every contribution is 0); default `console.warn`.
   */
  warn?: (message: string) => void;
}

/**
 * Greedy beam search of the paths that contribute most to a feature vector. Returns, per
 * iteration, the kept paths (root first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * import { pathString } from "./feature_vector.ts";
 * import { greedyTopPaths, transcoderFeatureVector } from "./paths.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const paths = greedyTopPaths(ctx, transcoderFeatureVector(transcoders[3]!, 1477), { numIters: 2, numBranches: 3 });
 * paths.length; // 2 (one list per iteration)
 * paths[0].map((p) => pathString(p));
 * // ["mlp3tc[1477]@-1: 0.93 <- mlp0tc[1372]@7: 0.41", "mlp3tc[1477]@-1: 0.93 <- mlp0tc[753]@7: 0.35", ...]
 * assert.ok(paths[1].every((p) => p.length === 3));
 * ```
 */
export function greedyTopPaths(
  ctx: CircuitContext,
  fv: FeatureVector,
  {
    numIters = 2,
    numBranches = 5,
    ignoreBos = true,
    rawAttribution = false,
    filter,
    warn = console.warn,
  }: GreedyOptions = {},
): FeatureVector[][][] {
  if (!Number.isInteger(numIters) || numIters < 1) {
    throw new RangeError(`numIters must be a positive integer, got ${numIters}`);
  }
  if (!Number.isInteger(numBranches) || numBranches < 1) {
    throw new RangeError(`numBranches must be a positive integer, got ${numBranches}`);
  }
  const root = rootFeatureVector(ctx, fv);
  if (root.contrib === 0 && root.componentPath.at(-1)?.featureType === "tc") {
    const t = ctx.pos(root.token);
    warn(
      `greedyTopPaths: ${
        featureVectorString(root, { showContrib: false })
      } does not fire at position ${t} (activation 0), so every path contributes 0; start from a position where it fires (ctx.featureActs(${root.layer}, t))`,
    );
  }
  let current: FeatureVector[][] = [[root]];
  const all: FeatureVector[][][] = [];
  for (let it = 0; it < numIters; it++) {
    const next: FeatureVector[][] = [];
    for (const path of current) {
      const last = path[path.length - 1];
      if (last.layer === 0 && last.sublayer === "resid_pre") continue;
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

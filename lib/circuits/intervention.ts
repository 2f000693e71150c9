/**
 * Checking attributions against interventions: the model is rerun with every MLP spliced to its
 * transcoder plus its error (so the output is unchanged), with attention patterns, LayerNorm
 * scales, attention outputs and all transcoder activations frozen to the clean pass, and with
 * one source removed (a feature's activation zeroed, one head's term from one source token
 * subtracted from its layer's attention output, or one token's embeddings zeroed). The change in
 * the parent node's reading of its LayerNorm output is the source's measured direct effect,
 * which the linear attribution should equal.
 *
 * @module
 */
import type { Patches } from "../model/hooked_model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { CircuitContext } from "./context.ts";
import type { FeatureVector } from "./feature_vector.ts";

/** The attribution of a path's last edge next to its measured effect. */
export interface EdgeCheck {
  attribution: number;
  measured: number;
  /** `|attribution - measured| / max(|measured|, 1e-12)`. */
  relativeError: number;
}

function clonePatch(t: Tensor<"float32">): Tensor<"float32"> {
  return { dtype: "float32", shape: [...t.shape], data: t.data.slice() };
}

/** The frozen replacement run's MLP replacements and patches (without any removal). */
function frozenRun(
  ctx: CircuitContext,
): {
  replacements: Map<
    number,
    ReturnType<NonNullable<CircuitContext["transcoders"][number]>["asReplacement"]>
  >;
  patches: Record<string, Tensor<"float32"> | { mode: "add"; value: Tensor<"float32"> }>;
} {
  const { n_layers: L, d_model: d } = ctx.model.cfg;
  const p = ctx.length;
  const patches: Record<string, Tensor<"float32"> | { mode: "add"; value: Tensor<"float32"> }> = {};
  const replacements = new Map();
  for (let l = 0; l < L; l++) {
    for (const ln of ["ln1", "ln2"]) {
      patches[`blocks.${l}.${ln}.hook_scale`] = ctx.cache.get(`blocks.${l}.${ln}.hook_scale`);
    }
    patches[`blocks.${l}.attn.hook_pattern`] = ctx.cache.get(`blocks.${l}.attn.hook_pattern`);
    patches[`blocks.${l}.hook_attn_out`] = ctx.cache.get(`blocks.${l}.hook_attn_out`);
    const tc = ctx.transcoders[l];
    if (tc) {
      replacements.set(l, tc.asReplacement());
      patches[`blocks.${l}.transcoder.hook_acts`] = {
        dtype: "float32",
        shape: [1, p, tc.cfg.d_sae],
        data: ctx.acts[l]!,
      };
      const mlp = ctx.cache.get(`blocks.${l}.hook_mlp_out`).data, out = ctx.tcOut[l]!;
      patches[`blocks.${l}.hook_mlp_out`] = {
        mode: "add",
        value: { dtype: "float32", shape: [1, p, d], data: mlp.map((x, i) => x - out[i]) },
      };
    } else {
      patches[`blocks.${l}.hook_mlp_out`] = ctx.cache.get(`blocks.${l}.hook_mlp_out`);
    }
  }
  patches["ln_final.hook_scale"] = ctx.cache.get("ln_final.hook_scale");
  return { replacements, patches };
}

/** Where a node reads its input, and the LayerNorm it reads through. */
function readout(
  fv: FeatureVector,
): { hook: string; token: number; ln?: "ln1" | "ln2" } {
  const last = fv.componentPath[fv.componentPath.length - 1];
  if (fv.sublayer === "resid_mid" && last?.featureType === "tc") {
    return { hook: `blocks.${fv.layer}.ln2.hook_normalized`, token: fv.token, ln: "ln2" };
  }
  if (fv.sublayer === "resid_pre" && last?.type === "attn") {
    return { hook: `blocks.${fv.layer}.ln1.hook_normalized`, token: fv.token, ln: "ln1" };
  }
  const hook = fv.sublayer === "resid_pre"
    ? `blocks.${fv.layer}.hook_resid_pre`
    : fv.sublayer === "resid_mid"
    ? `blocks.${fv.layer}.hook_resid_mid`
    : fv.sublayer === "resid_post"
    ? `blocks.${fv.layer}.hook_resid_post`
    : `blocks.${fv.layer}.hook_mlp_out`;
  return { hook, token: fv.token };
}

/** Patches that remove a child source (on top of the frozen run's patches). */
function removal(
  ctx: CircuitContext,
  parent: FeatureVector,
  child: FeatureVector,
  base: Patches,
): Patches {
  const c = child.componentPath[child.componentPath.length - 1];
  const p = ctx.length, d = ctx.model.cfg.d_model;
  const patches: Record<string, unknown> = { ...base };
  if (c.type === "mlp" && c.featureType === "tc" && c.featureIndex !== undefined) {
    const ds = ctx.transcoder(c.layer).cfg.d_sae;
    const acts = clonePatch(base[`blocks.${c.layer}.transcoder.hook_acts`] as Tensor<"float32">);
    acts.data[ctx.pos(c.token!) * ds + c.featureIndex] = 0;
    patches[`blocks.${c.layer}.transcoder.hook_acts`] = acts;
  } else if (c.type === "attn") {
    const { n_heads: nh, d_head: dh } = ctx.model.cfg;
    const t = ctx.pos(parent.token), s = ctx.pos(c.token!), h = c.head!;
    const attn = clonePatch(base[`blocks.${c.layer}.hook_attn_out`] as Tensor<"float32">);
    const pattern = ctx.cache.get(`blocks.${c.layer}.attn.hook_pattern`).data[(h * p + t) * p + s];
    const v = ctx.cache.get(`blocks.${c.layer}.attn.hook_v`).data;
    const WO = ctx.weight(`blocks.${c.layer}.attn.W_O`);
    for (let k = 0; k < d; k++) {
      let term = 0;
      for (let e = 0; e < dh; e++) term += v[(s * nh + h) * dh + e] * WO[(h * dh + e) * d + k];
      attn.data[t * d + k] -= pattern * term;
    }
    patches[`blocks.${c.layer}.hook_attn_out`] = attn;
  } else if (c.type === "embed") {
    const t = ctx.pos(c.token!);
    for (const hook of ["hook_embed", "hook_pos_embed"]) {
      const x = clonePatch(ctx.cache.get(hook));
      x.data.fill(0, t * d, (t + 1) * d);
      patches[hook] = x;
    }
  } else {
    throw new RangeError(`cannot remove a "${c.type}" component`);
  }
  return patches as Patches;
}

/**
 * Measures the direct effect of `child` on `parent` by intervention (see the module doc) and
 * returns it next to the child's attribution (`child.contrib`, which must be raw, not capped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * import { greedyTopPaths, transcoderFeatureVector } from "./paths.ts";
 * import { checkEdge } from "./intervention.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const fv = transcoderFeatureVector(transcoders[3]!, 1477);
 * const paths = greedyTopPaths(ctx, fv, { numIters: 2, numBranches: 3, rawAttribution: true });
 * const path = paths[1][0];
 * const check = await checkEdge(ctx, path[path.length - 2], path[path.length - 1]);
 * // path: mlp3tc[1477]@-1 <- mlp0tc[1372]@7 <- embed0@7
 * // check: { attribution: 0.5939964537..., measured: 0.5939964523..., relativeError: 2.4e-9 }
 * assert.ok(check.relativeError < 1e-3);
 * ```
 */
export async function checkEdge(
  ctx: CircuitContext,
  parent: FeatureVector,
  child: FeatureVector,
): Promise<EdgeCheck> {
  const { replacements, patches } = frozenRun(ctx);
  const r = readout(parent);
  const run = async (ps: Patches) => {
    const { cache } = await ctx.model.runWithCache(ctx.tokens, {
      names: [r.hook],
      patches: ps,
      mlpReplacements: replacements,
      returnLogits: false,
    });
    const t = cache.get(r.hook), d = t.shape[t.shape.length - 1], pos = ctx.pos(r.token);
    return t.data.subarray(pos * d, (pos + 1) * d);
  };
  const before = await run(patches), after = await run(removal(ctx, parent, child, patches));
  const c = r.ln ? ctx.lnConstant(parent.vector, parent.layer, parent.token, r.ln) : 1;
  let measured = 0;
  for (let i = 0; i < before.length; i++) measured += parent.vector[i] * (before[i] - after[i]);
  measured /= c;
  const attribution = child.contrib ?? NaN;
  return {
    attribution,
    measured,
    relativeError: Math.abs(attribution - measured) / Math.max(Math.abs(measured), 1e-12),
  };
}

/**
 * Checks the last edge of a path (root first): the path's attribution next to its measured effect.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * import { greedyTopPaths, transcoderFeatureVector } from "./paths.ts";
 * import { checkPath } from "./intervention.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * const fv = transcoderFeatureVector(transcoders[3]!, 1477);
 * const [firstHop] = greedyTopPaths(ctx, fv, { numIters: 1, numBranches: 3, rawAttribution: true });
 * const { attribution, measured, relativeError } = await checkPath(ctx, firstHop[0]);
 * [attribution, measured]; // [0.40745560..., 0.40745565...]: mlp0tc[1372]@7's effect on the root
 * assert.ok(relativeError < 1e-3);
 * await assert.rejects(checkPath(ctx, [fv]), RangeError); // a path needs two nodes
 * ```
 */
export async function checkPath(
  ctx: CircuitContext,
  path: readonly FeatureVector[],
): Promise<EdgeCheck> {
  if (path.length < 2) throw new RangeError("a path needs at least two nodes to check");
  return await checkEdge(ctx, path[path.length - 2], path[path.length - 1]);
}

/**
 * Hook functions, as TransformerLens's `run_with_hooks`: a host (TypeScript) function reads a
 * hook's value and returns the value the model goes on with; and one-line ablations built on it.
 *
 * The compiled graph cannot call back into TypeScript, so the run is split at the hooks, in
 * execution order: for each hook, the model runs up to that hook's layer (`stopAtLayer`) with the
 * earlier hooks' returned values patched in, the hook function sees the value, and a last full
 * pass runs with every returned value patched in. **Cost**: one partial pass per hook plus one
 * full pass (k hooks at layers l1..lk cost about `1 + sum((li + 1) / n_layers)` forward passes);
 * each distinct request shape compiles once and is cached like any other.
 *
 * @module
 */
import { shapeStr, type Tensor } from "../tensor/tensor.ts";
import { BLOCK_HOOKS, hookLayer } from "./hook_names.ts";
import type { ForwardRequest, ForwardResult, HookedModel, Patches } from "./hooked_model.ts";
import type { TokensLike } from "./tokens.ts";

/** What a hook function is told besides the value. */
export interface HookContext {
  /** The hook's name, e.g. `blocks.3.attn.hook_z`. */
  name: string;
  /** Its layer, when it is inside a block. */
  layer?: number;
}

/**
 * A host function on a hook: returns the value the model continues with (same shape), or
 * nothing to leave the value as it is.
 */
export type HookFunction = (
  value: Tensor<"float32">,
  ctx: HookContext,
) => Tensor<"float32"> | void | Promise<Tensor<"float32"> | void>;

/** Options of {@linkcode runWithHooks}: a forward request plus the hook functions. */
export interface RunWithHooksOptions extends ForwardRequest {
  hooks: Readonly<Record<string, HookFunction>>;
}

/** Where a hook runs in a pass: (layer, position in the block); the MLP slot for replacements. */
function executionOrder(name: string, nLayers: number): [number, number] {
  const layer = hookLayer(name);
  if (layer === undefined) return name.startsWith("ln_final.") ? [nLayers, 0] : [-1, 0];
  const local = name.replace(/^blocks\.\d+\./, "");
  const i = (BLOCK_HOOKS as readonly string[]).indexOf(local);
  return [layer, i >= 0 ? i : BLOCK_HOOKS.indexOf("mlp.hook_pre")];
}

/**
 * Runs the model with host functions on hooks (see the module doc for how and at what cost).
 * The result is `forward`'s for the request, with every function's returned value in place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "./load.ts";
 * import { runWithHooks } from "./hook_functions.ts";
 * const model = await loadModel("tiny");
 * const tokens = model.toTokens("The cat sat on the mat.");
 * const clean = await model.forward(tokens, { loss: "mean" });
 * let seen: readonly number[] = [];
 * const res = await runWithHooks(model, tokens, {
 *   loss: "mean",
 *   hooks: {
 *     "blocks.1.hook_mlp_out": (v) => { seen = v.shape; }, // read only
 *     "blocks.2.hook_mlp_out": (v) => ({ ...v, data: new Float32Array(v.data.length) }), // zeroed
 *   },
 * });
 * seen; // [1, 8, 96]
 * const zeroed = await model.forward(tokens, { loss: "mean", mlpReplacements: new Map([[2, "zero"]]) });
 * assert.ok(Math.abs(res.loss! - zeroed.loss!) < 1e-5); // as zero-ablating MLP 2
 * assert.notEqual(res.loss, clean.loss);
 * ```
 */
export async function runWithHooks(
  model: HookedModel,
  tokens: TokensLike,
  { hooks, ...request }: RunWithHooksOptions,
): Promise<ForwardResult> {
  const nLayers = model.cfg.n_layers;
  const names = Object.keys(hooks).sort((a, b) => {
    const [la, ia] = executionOrder(a, nLayers), [lb, ib] = executionOrder(b, nLayers);
    return la - lb || ia - ib;
  });
  const patches: Record<string, Tensor<"float32">> = {};
  for (const name of names) {
    if (request.patches?.[name]) {
      throw new RangeError(`hook "${name}" has both a patch and a hook function: give one`);
    }
    const layer = hookLayer(name);
    const stop = name.startsWith("ln_final.") || layer === undefined
      ? undefined
      : Math.min(layer + 1, nLayers);
    const { cache } = await model.forward(tokens, {
      names: [name],
      patches: { ...request.patches, ...patches },
      mlpReplacements: request.mlpReplacements,
      ...(stop !== undefined && stop < nLayers ? { stopAtLayer: stop } : {}),
    });
    const value = cache.get(name);
    const out = await hooks[name](value, { name, layer });
    if (out === undefined) continue;
    if (out.shape.length !== value.shape.length || out.shape.some((d, i) => d !== value.shape[i])) {
      throw new RangeError(
        `the hook function on "${name}" returned shape ${shapeStr(out.shape)}, expected ${
          shapeStr(value.shape)
        }`,
      );
    }
    patches[name] = out;
  }
  return await model.forward(tokens, {
    ...request,
    patches: { ...request.patches, ...patches } as Patches,
  });
}

/** How an ablation replaces values: by zeros, or by their mean over the batch's positions. */
export type AblationMode = "zero" | "mean";

/** The axis a hook keeps heads on, and positions on. */
function axes(name: string): { head?: number; pos: number } {
  if (/attn\.hook_(q|k|v|z)$/.test(name)) return { head: 2, pos: 1 };
  if (/attn\.hook_(pattern|attn_scores)$/.test(name)) return { head: 1, pos: 2 };
  return { pos: 1 };
}

/**
 * Replaces the slices `t[..., i, ...]` (index `i` on `axis`) by zeros or by their mean over the
 * axes before `axis` (with `acrossAxis`, over every index of `axis` too): a new tensor.
 */
function ablateSlice(
  t: Tensor<"float32">,
  axis: number,
  index: number,
  { mode, what, acrossAxis = false }: { mode: AblationMode; what: string; acrossAxis?: boolean },
): Tensor<"float32"> {
  const n = t.shape[axis];
  const k = index < 0 ? index + n : index;
  if (axis >= t.shape.length || !Number.isInteger(k) || k < 0 || k >= n) {
    throw new RangeError(`${what} ${index} is out of range for shape ${shapeStr(t.shape)}`);
  }
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = t.data.length / (n * inner);
  const data = t.data.slice();
  const fill = new Float32Array(inner);
  if (mode === "mean") {
    const over = acrossAxis ? [...Array(n).keys()] : [k];
    for (let o = 0; o < outer; o++) {
      for (const j of over) {
        const base = (o * n + j) * inner;
        for (let x = 0; x < inner; x++) fill[x] += t.data[base + x] / (outer * over.length);
      }
    }
  }
  for (let o = 0; o < outer; o++) data.set(fill, (o * n + k) * inner);
  return { dtype: "float32", shape: [...t.shape], data };
}

/**
 * A hook function that ablates one attention head: on `attn.hook_z` (or `hook_q`, `hook_k`,
 * `hook_v`, `hook_pattern`, `hook_attn_scores`) the head's values become zeros, or their mean
 * over the batch and positions.
 *
 * @example
 * ```ts
 * import { loadModel } from "./load.ts";
 * import { ablateHead, runWithHooks } from "./hook_functions.ts";
 * const model = await loadModel("tiny");
 * const tokens = model.toTokens("The cat sat on the mat.");
 * const res = await runWithHooks(model, tokens, {
 *   loss: "mean",
 *   hooks: { "blocks.0.attn.hook_z": ablateHead(3) }, // zero-ablate head 0.3
 * });
 * res.loss; // the loss without head 0.3
 * ```
 */
export function ablateHead(
  head: number,
  { mode = "zero" }: { mode?: AblationMode } = {},
): HookFunction {
  return (v: Tensor<"float32">, { name }: HookContext): Tensor<"float32"> => {
    const { head: axis } = axes(name);
    if (axis === undefined) {
      throw new RangeError(`ablateHead needs an attention hook with a head axis, not "${name}"`);
    }
    return ablateSlice(v, axis, head, { mode, what: "head" });
  };
}

/**
 * A hook function that ablates one token position (negative counts from the end) on any hook
 * with a position axis: zeros, or the mean over the batch and every position.
 *
 * @example
 * ```ts
 * import { loadModel } from "./load.ts";
 * import { ablatePosition, runWithHooks } from "./hook_functions.ts";
 * const model = await loadModel("tiny");
 * const tokens = model.toTokens("The cat sat on the mat.");
 * await runWithHooks(model, tokens, {
 *   logits: "last",
 *   hooks: { "blocks.1.hook_attn_out": ablatePosition(-2, { mode: "mean" }) },
 * });
 * ```
 */
export function ablatePosition(
  pos: number,
  { mode = "zero" }: { mode?: AblationMode } = {},
): HookFunction {
  return (v: Tensor<"float32">, { name }: HookContext): Tensor<"float32"> =>
    ablateSlice(v, axes(name).pos, pos, { mode, what: "position", acrossAxis: true });
}

/**
 * A hook function that ablates one transcoder feature on `blocks.{l}.transcoder.hook_acts`
 * (the activations of a spliced transcoder, `[batch, pos, d_sae]`; `blocks.{l}.sae.hook_acts`
 * for a spliced SAE): zeros, or its mean over the batch's positions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { ablateFeature, runWithHooks } from "./hook_functions.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const tokens = model.toTokens("The cat sat on the mat.");
 * const mlpReplacements = new Map([[3, transcoders[3]!.asReplacement()]]);
 * const res = await runWithHooks(model, tokens, {
 *   loss: "mean",
 *   mlpReplacements,
 *   names: ["blocks.3.transcoder.hook_acts"],
 *   hooks: { "blocks.3.transcoder.hook_acts": ablateFeature(1477) },
 * });
 * const acts = res.cache.get("blocks.3.transcoder.hook_acts"); // [1, 8, 2048]
 * assert.ok(acts.data.every((x, i) => i % 2048 !== 1477 || x === 0)); // feature 1477 is off
 * ```
 */
export function ablateFeature(
  feature: number,
  { mode = "zero" }: { mode?: AblationMode } = {},
): HookFunction {
  return (v: Tensor<"float32">, { name }: HookContext): Tensor<"float32"> => {
    if (!/\.(transcoder|sae)\.hook_acts$/.test(name)) {
      throw new RangeError(
        `ablateFeature needs a transcoder.hook_acts or sae.hook_acts hook, not "${name}"`,
      );
    }
    // The feature axis is the last: treat [b, p, d_sae] as [b * p, d_sae] rows.
    const rows = { ...v, shape: [v.data.length / v.shape.at(-1)!, v.shape.at(-1)!, 1] };
    const out = ablateSlice(rows, 1, feature, { mode, what: "feature" });
    return { ...out, shape: [...v.shape] };
  };
}

/**
 * The TransformerLens hook names of a GPT-2 model, in execution order, with their shapes.
 *
 * @module
 */
import { nearestNames } from "../graph/hooks.ts";
import type { GPT2Config } from "./config.ts";

/**
 * Hook names inside each block, relative to `blocks.{l}.`, in execution order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BLOCK_HOOKS } from "./hook_names.ts";
 * BLOCK_HOOKS.length; // 17
 * assert.equal(BLOCK_HOOKS[0], "hook_resid_pre");
 * assert.equal(BLOCK_HOOKS.at(-1), "hook_resid_post");
 * ```
 */
export const BLOCK_HOOKS = [
  "hook_resid_pre",
  "ln1.hook_scale",
  "ln1.hook_normalized",
  "attn.hook_q",
  "attn.hook_k",
  "attn.hook_v",
  "attn.hook_attn_scores",
  "attn.hook_pattern",
  "attn.hook_z",
  "hook_attn_out",
  "hook_resid_mid",
  "ln2.hook_scale",
  "ln2.hook_normalized",
  "mlp.hook_pre",
  "mlp.hook_post",
  "hook_mlp_out",
  "hook_resid_post",
] as const;

/**
 * Raised for a hook name the model does not have; lists the nearest valid names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHookName, UnknownHookError } from "./hook_names.ts";
 * const valid = new Set(["hook_embed"]);
 * assert.throws(() => checkHookName("hook_embd", valid), UnknownHookError);
 * assert.throws(() => checkHookName("hook_embd", valid), RangeError); // a subclass
 * ```
 */
export class UnknownHookError extends RangeError {
  override name = "UnknownHookError";
}

/**
 * Every hook name of a GPT-2 model, in execution order.
 *
 * @example
 * ```ts
 * import { hookNames } from "./hook_names.ts";
 * import { gpt2Config } from "./config.ts";
 * hookNames(gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2 })).length; // 2 + 17 + 2 = 21
 * ```
 */
export function hookNames(cfg: Pick<GPT2Config, "n_layers">): string[] {
  const names = ["hook_embed", "hook_pos_embed"];
  for (let l = 0; l < cfg.n_layers; l++) {
    for (const h of BLOCK_HOOKS) names.push(`blocks.${l}.${h}`);
  }
  names.push("ln_final.hook_scale", "ln_final.hook_normalized");
  return names;
}

/**
 * The layer of a `blocks.{l}.` hook name, or undefined for hooks outside the blocks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hookLayer } from "./hook_names.ts";
 * hookLayer("blocks.3.hook_mlp_out"); // 3
 * assert.equal(hookLayer("blocks.11.attn.hook_pattern"), 11);
 * assert.equal(hookLayer("hook_embed"), undefined);
 * ```
 */
export function hookLayer(name: string): number | undefined {
  const m = /^blocks\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The TransformerLens shape of a hook's value for a batch of `batch` sequences of `pos` tokens.
 *
 * @example
 * ```ts
 * import { hookShape } from "./hook_names.ts";
 * import { GPT2_SMALL } from "./config.ts";
 * hookShape(GPT2_SMALL, "blocks.3.attn.hook_pattern", 1, 10); // [1, 12, 10, 10]
 * ```
 */
export function hookShape(cfg: GPT2Config, name: string, batch: number, pos: number): number[] {
  const local = name.replace(/^blocks\.\d+\./, "");
  const d = cfg.d_model;
  switch (local) {
    case "ln1.hook_scale":
    case "ln2.hook_scale":
    case "ln_final.hook_scale":
      return [batch, pos, 1];
    case "attn.hook_q":
    case "attn.hook_k":
    case "attn.hook_v":
    case "attn.hook_z":
      return [batch, pos, cfg.n_heads, cfg.d_head];
    case "attn.hook_attn_scores":
    case "attn.hook_pattern":
      return [batch, cfg.n_heads, pos, pos];
    case "mlp.hook_pre":
    case "mlp.hook_post":
      return [batch, pos, cfg.d_mlp];
    default:
      return [batch, pos, d];
  }
}

/**
 * Throws an UnknownHookError unless `name` is in `valid`, suggesting the nearest names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHookName, hookNames } from "./hook_names.ts";
 * import { gpt2Config } from "./config.ts";
 * const valid = new Set(hookNames(gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2 })));
 * checkHookName("blocks.1.hook_mlp_out", valid); // passes
 * assert.throws(() => checkHookName("blocks.1.hook_mlp_ot", valid), {
 *   name: "UnknownHookError",
 *   message: /unknown hook "blocks.1.hook_mlp_ot"; nearest valid names: "blocks.1.hook_mlp_out"/,
 * });
 * ```
 */
export function checkHookName(name: string, valid: ReadonlySet<string>): void {
  if (valid.has(name)) return;
  const near = nearestNames(name, valid, 3).map((n) => `"${n}"`).join(", ");
  throw new UnknownHookError(`unknown hook "${name}"; nearest valid names: ${near}`);
}

/** TransformerLens's short names of hooks inside a block, as `get_act_name` knows them. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  resid_pre: "hook_resid_pre",
  resid_mid: "hook_resid_mid",
  resid_post: "hook_resid_post",
  attn_out: "hook_attn_out",
  mlp_out: "hook_mlp_out",
  q: "attn.hook_q",
  k: "attn.hook_k",
  v: "attn.hook_v",
  z: "attn.hook_z",
  attn_scores: "attn.hook_attn_scores",
  scores: "attn.hook_attn_scores",
  attn: "attn.hook_pattern",
  pattern: "attn.hook_pattern",
  pre: "mlp.hook_pre",
  post: "mlp.hook_post",
  mlp_pre: "mlp.hook_pre",
  mlp_post: "mlp.hook_post",
};

/**
 * A hook's full name from its short name, as TransformerLens's `get_act_name`: `("mlp_out", 3)`
 * → `blocks.3.hook_mlp_out`; LayerNorm hooks take the LayerNorm (`("scale", 2, "ln2")`), and
 * without a layer `normalized`/`scale` are ln_final's; `embed` and `pos_embed` take no layer. A
 * full name is returned as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { actName } from "./hook_names.ts";
 * actName("mlp_out", 3); // "blocks.3.hook_mlp_out"
 * actName("pattern", 0); // "blocks.0.attn.hook_pattern"
 * actName("normalized", 8, "ln2"); // "blocks.8.ln2.hook_normalized"
 * actName("scale"); // "ln_final.hook_scale"
 * actName("embed"); // "hook_embed"
 * assert.throws(() => actName("mlp_ot", 3), /unknown hook short name "mlp_ot"; nearest: "mlp_out"/);
 * ```
 */
export function actName(name: string, layer?: number, layerType?: "ln1" | "ln2"): string {
  if (name.includes(".") || name.startsWith("hook_")) return name;
  if (name === "embed" || name === "pos_embed") return `hook_${name}`;
  if (layer !== undefined && (!Number.isInteger(layer) || layer < 0)) {
    throw new RangeError(`layer must be an integer >= 0, got ${layer}`);
  }
  if (name === "scale" || name === "normalized") {
    if (layer === undefined) return `ln_final.hook_${name}`;
    if (layerType === undefined) {
      throw new RangeError(`actName("${name}", ${layer}) needs the LayerNorm: "ln1" or "ln2"`);
    }
    return `blocks.${layer}.${layerType}.hook_${name}`;
  }
  const local = SHORT_NAMES[name];
  if (!local) {
    const near = nearestNames(
      name,
      [...Object.keys(SHORT_NAMES), "scale", "normalized", "embed"],
      3,
    )
      .map((n) => `"${n}"`).join(", ");
    throw new UnknownHookError(`unknown hook short name "${name}"; nearest: ${near}`);
  }
  if (layer === undefined) throw new RangeError(`actName("${name}") needs a layer`);
  return `blocks.${layer}.${local}`;
}

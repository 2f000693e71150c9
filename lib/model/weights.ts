/**
 * GPT-2 weights in TransformerLens names and shapes, and their conversion from a Hugging Face
 * GPT-2 state dict (Conv1D layout) and back.
 *
 * TransformerLens state-dict names (shapes):
 * - `embed.W_E` `[d_vocab, d_model]`, `pos_embed.W_pos` `[n_ctx, d_model]`
 * - `blocks.{l}.ln1.w|b` `[d_model]` (absent once folded), likewise `ln2`
 * - `blocks.{l}.attn.W_Q|W_K|W_V` `[n_heads, d_model, d_head]`, `b_Q|b_K|b_V` `[n_heads, d_head]`
 * - `blocks.{l}.attn.W_O` `[n_heads, d_head, d_model]`, `b_O` `[d_model]`
 * - `blocks.{l}.mlp.W_in` `[d_model, d_mlp]`, `b_in` `[d_mlp]`, `W_out` `[d_mlp, d_model]`, `b_out` `[d_model]`
 * - `ln_final.w|b` `[d_model]` (absent once folded), `unembed.W_U` `[d_model, d_vocab]`, `unembed.b_U` `[d_vocab]`
 *
 * @module
 */
import { shapeStr, sizeOf, type Tensor, transpose } from "../tensor/tensor.ts";
import type { GPT2Config } from "./config.ts";

/** A state dict: TransformerLens parameter names to float32 host tensors. */
export type StateDict = Map<string, Tensor<"float32">>;

/**
 * Raised when weights are missing or have the wrong shape; names the tensor and both shapes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * import { validateStateDict, WeightsError } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = randomStateDict(cfg, 0);
 * sd.delete("unembed.b_U");
 * assert.throws(() => validateStateDict(sd, cfg, true, "my.safetensors"), WeightsError);
 * ```
 */
export class WeightsError extends Error {
  override name = "WeightsError";
}

/** Which of TransformerLens's load-time weight transformations have been applied. */
export interface Processing {
  fold_ln: boolean;
  center_writing_weights: boolean;
  center_unembed: boolean;
  fold_value_biases: boolean;
}

/**
 * No processing (the raw Hugging Face weights).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { modelFromStateDict } from "./load.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * import { NO_PROCESSING } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0), { processing: false });
 * model.processing.fold_ln; // false
 * assert.deepEqual(model.processing, NO_PROCESSING);
 * assert.ok(model.weights.has("blocks.0.ln1.w")); // LayerNorm weights kept
 * ```
 */
export const NO_PROCESSING: Processing = {
  fold_ln: false,
  center_writing_weights: false,
  center_unembed: false,
  fold_value_biases: false,
};

/**
 * TransformerLens's `from_pretrained` defaults: every transformation on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { processWeights } from "./process_weights.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * import { DEFAULT_PROCESSING } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * DEFAULT_PROCESSING.fold_ln; // true
 * assert.deepEqual(processWeights(randomStateDict(cfg, 0), cfg), DEFAULT_PROCESSING);
 * ```
 */
export const DEFAULT_PROCESSING: Processing = {
  fold_ln: true,
  center_writing_weights: true,
  center_unembed: true,
  fold_value_biases: true,
};

/**
 * The expected shape of every parameter of a config, in state-dict order.
 * `withLn` says whether LayerNorm weights are present (false after fold_ln).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { expectedShapes } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * expectedShapes(cfg).get("blocks.0.attn.W_Q"); // [2, 8, 4]: [n_heads, d_model, d_head]
 * assert.deepEqual(expectedShapes(cfg).get("unembed.W_U"), [8, 10]);
 * assert.equal(expectedShapes(cfg).size, 22);
 * assert.equal(expectedShapes(cfg, false).size, 16); // without the 6 LayerNorm tensors
 * ```
 */
export function expectedShapes(cfg: GPT2Config, withLn = true): Map<string, number[]> {
  const { d_model: d, n_heads: h, d_head: dh, d_mlp: m, d_vocab: v, n_ctx } = cfg;
  const s = new Map<string, number[]>();
  s.set("embed.W_E", [v, d]);
  s.set("pos_embed.W_pos", [n_ctx, d]);
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}`;
    if (withLn) {
      s.set(`${p}.ln1.w`, [d]);
      s.set(`${p}.ln1.b`, [d]);
    }
    for (const x of ["Q", "K", "V"]) {
      s.set(`${p}.attn.W_${x}`, [h, d, dh]);
      s.set(`${p}.attn.b_${x}`, [h, dh]);
    }
    s.set(`${p}.attn.W_O`, [h, dh, d]);
    s.set(`${p}.attn.b_O`, [d]);
    if (withLn) {
      s.set(`${p}.ln2.w`, [d]);
      s.set(`${p}.ln2.b`, [d]);
    }
    s.set(`${p}.mlp.W_in`, [d, m]);
    s.set(`${p}.mlp.b_in`, [m]);
    s.set(`${p}.mlp.W_out`, [m, d]);
    s.set(`${p}.mlp.b_out`, [d]);
  }
  if (withLn) {
    s.set("ln_final.w", [d]);
    s.set("ln_final.b", [d]);
  }
  s.set("unembed.W_U", [d, v]);
  s.set("unembed.b_U", [v]);
  return s;
}

/**
 * Checks that a state dict has every parameter of the config with the right shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zeros } from "../tensor/tensor.ts";
 * import { gpt2Config } from "./config.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * import { validateStateDict } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = randomStateDict(cfg, 0);
 * validateStateDict(sd, cfg, true, "random"); // passes
 * sd.set("embed.W_E", zeros([10, 7]));
 * assert.throws(() => validateStateDict(sd, cfg, true, "random"), {
 *   name: "WeightsError",
 *   message: 'random: tensor "embed.W_E" has shape [10, 7], expected [10, 8]',
 * });
 * ```
 */
export function validateStateDict(
  sd: StateDict,
  cfg: GPT2Config,
  withLn: boolean,
  source: string,
): void {
  for (const [name, shape] of expectedShapes(cfg, withLn)) {
    const t = sd.get(name);
    if (!t) throw new WeightsError(`${source}: missing tensor "${name}" ${shapeStr(shape)}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new WeightsError(
        `${source}: tensor "${name}" has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)}`,
      );
    }
    if (t.dtype !== "float32") {
      throw new WeightsError(`${source}: tensor "${name}" is ${t.dtype}, expected float32`);
    }
  }
}

function reshaped(t: Tensor<"float32">, shape: number[]): Tensor<"float32"> {
  if (sizeOf(shape) !== t.data.length) {
    throw new WeightsError(`cannot view ${shapeStr(t.shape)} as ${shapeStr(shape)}`);
  }
  return { dtype: "float32", shape, data: t.data };
}

function columns(t: Tensor<"float32">, start: number, count: number): Tensor<"float32"> {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r++) {
    out.set(t.data.subarray(r * cols + start, r * cols + start + count), r * count);
  }
  return { dtype: "float32", shape: [rows, count], data: out };
}

/**
 * Converts a Hugging Face GPT-2 state dict (`wte`, `wpe`, `h.{l}.attn.c_attn` in Conv1D layout
 * `[d_model, 3 d_model]`, ..., `ln_f`; with or without the `transformer.` prefix) to
 * TransformerLens names and shapes. Buffers (`attn.bias`, `attn.masked_bias`) are ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * import { fromHfStateDict, toHfStateDict } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const sd = randomStateDict(cfg, 0);
 * const back = fromHfStateDict(toHfStateDict(sd, cfg), cfg);
 * back.get("blocks.0.attn.W_Q")?.shape; // [2, 8, 4]
 * for (const [name, t] of sd) assert.deepEqual(back.get(name)?.data, t.data, name);
 * ```
 */
export function fromHfStateDict(
  hf: Map<string, Tensor>,
  cfg: GPT2Config,
  source = "model.safetensors",
): StateDict {
  const { d_model: d, n_heads: h, d_head: dh } = cfg;
  const check = (key: string, t: Tensor, shape: number[]): Tensor<"float32"> => {
    if (t.dtype !== "float32") {
      throw new WeightsError(`${source}: tensor "${key}" has integer dtype ${t.dtype}`);
    }
    if (t.shape.length !== shape.length || t.shape.some((x, i) => x !== shape[i])) {
      throw new WeightsError(
        `${source}: tensor "${key}" has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)}`,
      );
    }
    return t as Tensor<"float32">;
  };
  const get = (key: string, shape: number[]): Tensor<"float32"> => {
    const t = hf.get(key) ?? hf.get(`transformer.${key}`);
    if (!t) {
      throw new WeightsError(
        `${source}: missing tensor "${key}" ${
          shapeStr(shape)
        } (also looked for "transformer.${key}")`,
      );
    }
    return check(key, t, shape);
  };
  const sd: StateDict = new Map();
  const wte = get("wte.weight", [cfg.d_vocab, d]);
  sd.set("embed.W_E", wte);
  sd.set("pos_embed.W_pos", get("wpe.weight", [cfg.n_ctx, d]));
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `h.${l}`, q = `blocks.${l}`;
    sd.set(`${q}.ln1.w`, get(`${p}.ln_1.weight`, [d]));
    sd.set(`${q}.ln1.b`, get(`${p}.ln_1.bias`, [d]));
    const cAttn = get(`${p}.attn.c_attn.weight`, [d, 3 * d]);
    const cAttnB = get(`${p}.attn.c_attn.bias`, [3 * d]);
    ["Q", "K", "V"].forEach((x, i) => {
      // [d_model, n_heads * d_head] -> [n_heads, d_model, d_head]
      const w = reshaped(columns(cAttn, i * d, d), [d, h, dh]);
      sd.set(`${q}.attn.W_${x}`, transpose(w, [1, 0, 2]));
      sd.set(`${q}.attn.b_${x}`, {
        dtype: "float32",
        shape: [h, dh],
        data: cAttnB.data.slice(i * d, (i + 1) * d),
      });
    });
    sd.set(`${q}.attn.W_O`, reshaped(get(`${p}.attn.c_proj.weight`, [d, d]), [h, dh, d]));
    sd.set(`${q}.attn.b_O`, get(`${p}.attn.c_proj.bias`, [d]));
    sd.set(`${q}.ln2.w`, get(`${p}.ln_2.weight`, [d]));
    sd.set(`${q}.ln2.b`, get(`${p}.ln_2.bias`, [d]));
    sd.set(`${q}.mlp.W_in`, get(`${p}.mlp.c_fc.weight`, [d, cfg.d_mlp]));
    sd.set(`${q}.mlp.b_in`, get(`${p}.mlp.c_fc.bias`, [cfg.d_mlp]));
    sd.set(`${q}.mlp.W_out`, get(`${p}.mlp.c_proj.weight`, [cfg.d_mlp, d]));
    sd.set(`${q}.mlp.b_out`, get(`${p}.mlp.c_proj.bias`, [d]));
  }
  sd.set("ln_final.w", get("ln_f.weight", [d]));
  sd.set("ln_final.b", get("ln_f.bias", [d]));
  const head = hf.get("lm_head.weight");
  const unembed = head ? check("lm_head.weight", head, [cfg.d_vocab, d]) : wte;
  sd.set("unembed.W_U", transpose(unembed, [1, 0]));
  sd.set("unembed.b_U", {
    dtype: "float32",
    shape: [cfg.d_vocab],
    data: new Float32Array(cfg.d_vocab),
  });
  return sd;
}

/**
 * Converts an unprocessed TransformerLens state dict back to Hugging Face GPT-2 names and
 * Conv1D layout (the unembedding is tied to `wte`, as in GPT-2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * import { toHfStateDict } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const hf = toHfStateDict(randomStateDict(cfg, 0), cfg);
 * hf.get("h.0.attn.c_attn.weight")?.shape; // [8, 24]: Q, K and V side by side
 * assert.deepEqual(hf.get("h.0.mlp.c_fc.weight")?.shape, [8, 32]);
 * assert.equal(hf.has("lm_head.weight"), false); // tied to wte
 * ```
 */
export function toHfStateDict(sd: StateDict, cfg: GPT2Config): Map<string, Tensor<"float32">> {
  const { d_model: d } = cfg;
  const out = new Map<string, Tensor<"float32">>();
  const g = (k: string) => {
    const t = sd.get(k);
    if (!t) {
      throw new WeightsError(
        `missing tensor "${k}": only unprocessed weights convert to Hugging Face layout`,
      );
    }
    return t;
  };
  out.set("wte.weight", g("embed.W_E"));
  out.set("wpe.weight", g("pos_embed.W_pos"));
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `h.${l}`, q = `blocks.${l}`;
    out.set(`${p}.ln_1.weight`, g(`${q}.ln1.w`));
    out.set(`${p}.ln_1.bias`, g(`${q}.ln1.b`));
    const w = new Float32Array(d * 3 * d), b = new Float32Array(3 * d);
    ["Q", "K", "V"].forEach((x, i) => {
      const wx = transpose(g(`${q}.attn.W_${x}`), [1, 0, 2]).data; // [d, h, dh]
      for (let r = 0; r < d; r++) w.set(wx.subarray(r * d, (r + 1) * d), r * 3 * d + i * d);
      b.set(g(`${q}.attn.b_${x}`).data, i * d);
    });
    out.set(`${p}.attn.c_attn.weight`, { dtype: "float32", shape: [d, 3 * d], data: w });
    out.set(`${p}.attn.c_attn.bias`, { dtype: "float32", shape: [3 * d], data: b });
    out.set(`${p}.attn.c_proj.weight`, reshaped(g(`${q}.attn.W_O`), [d, d]));
    out.set(`${p}.attn.c_proj.bias`, g(`${q}.attn.b_O`));
    out.set(`${p}.ln_2.weight`, g(`${q}.ln2.w`));
    out.set(`${p}.ln_2.bias`, g(`${q}.ln2.b`));
    out.set(`${p}.mlp.c_fc.weight`, g(`${q}.mlp.W_in`));
    out.set(`${p}.mlp.c_fc.bias`, g(`${q}.mlp.b_in`));
    out.set(`${p}.mlp.c_proj.weight`, g(`${q}.mlp.W_out`));
    out.set(`${p}.mlp.c_proj.bias`, g(`${q}.mlp.b_out`));
  }
  out.set("ln_f.weight", g("ln_final.w"));
  out.set("ln_f.bias", g("ln_final.b"));
  return out;
}

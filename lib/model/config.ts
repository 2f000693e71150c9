/**
 * The configuration of a GPT-2-shaped model, in TransformerLens names, and its conversion from
 * and to a Hugging Face `config.json`.
 *
 * @module
 */

import { brief } from "../formats/_input_file.ts";

/** Hyperparameters of a GPT-2-architecture transformer (TransformerLens names). */
export interface GPT2Config {
  n_layers: number;
  d_model: number;
  n_heads: number;
  d_head: number;
  d_mlp: number;
  d_vocab: number;
  n_ctx: number;
  layer_norm_eps: number;
  /** GPT-2 uses the tanh approximation of GELU (`gelu_new`). */
  act_fn: "gelu_new";
}

/**
 * Raised for a configuration that is inconsistent or not GPT-2-shaped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, gpt2Config } from "./config.ts";
 * // 10 is not divisible by 3 heads, so d_head would be 3.33...
 * assert.throws(() => gpt2Config({ n_layers: 1, d_model: 10, n_heads: 3 }), ConfigError);
 * ```
 */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Largest size a config may give any dimension (2^31 - 1, the most a typed array index reaches). */
const MAX_DIMENSION = 2 ** 31 - 1;

/**
 * Checks a config and returns it; throws a ConfigError naming the bad field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT2_SMALL, validateConfig } from "./config.ts";
 * validateConfig(GPT2_SMALL).d_model; // 768
 * assert.throws(() => validateConfig({ ...GPT2_SMALL, d_head: 32 }), {
 *   name: "ConfigError",
 *   message: "config: n_heads (12) x d_head (32) must equal d_model (768)",
 * });
 * ```
 */
export function validateConfig(cfg: GPT2Config): GPT2Config {
  const positive = [
    "n_layers",
    "d_model",
    "n_heads",
    "d_head",
    "d_mlp",
    "d_vocab",
    "n_ctx",
  ] as const;
  for (const k of positive) {
    if (!Number.isInteger(cfg[k]) || cfg[k] <= 0 || cfg[k] > MAX_DIMENSION) {
      throw new ConfigError(
        `config.${k} is ${cfg[k]}, expected a positive integer up to ${MAX_DIMENSION}`,
      );
    }
  }
  if (cfg.n_heads * cfg.d_head !== cfg.d_model) {
    throw new ConfigError(
      `config: n_heads (${cfg.n_heads}) x d_head (${cfg.d_head}) must equal d_model (${cfg.d_model})`,
    );
  }
  if (!(cfg.layer_norm_eps > 0 && cfg.layer_norm_eps < 1)) {
    throw new ConfigError(
      `config.layer_norm_eps is ${cfg.layer_norm_eps}, expected a number in (0, 1)`,
    );
  }
  if (cfg.act_fn !== "gelu_new") {
    throw new ConfigError(`config.act_fn is "${cfg.act_fn}", only "gelu_new" is supported`);
  }
  return cfg;
}

/**
 * A config from named sizes; `d_head` and `d_mlp` default to GPT-2's ratios.
 *
 * @example
 * ```ts
 * import { gpt2Config } from "./config.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, d_vocab: 50257, n_ctx: 32 });
 * cfg.d_mlp; // 64
 * ```
 */
export function gpt2Config(
  c: Partial<GPT2Config> & Pick<GPT2Config, "n_layers" | "d_model" | "n_heads">,
): GPT2Config {
  if (c.d_head === undefined && !Number.isInteger(c.d_model / c.n_heads)) {
    throw new ConfigError(
      `config: d_model (${c.d_model}) is not divisible by n_heads (${c.n_heads}); pass d_head`,
    );
  }
  return validateConfig({
    d_head: c.d_model / c.n_heads,
    d_mlp: 4 * c.d_model,
    d_vocab: 50257,
    n_ctx: 1024,
    layer_norm_eps: 1e-5,
    act_fn: "gelu_new",
    ...c,
  });
}

/**
 * GPT-2 small (124M).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT2_SMALL } from "./config.ts";
 * GPT2_SMALL.d_head; // 64
 * assert.equal(GPT2_SMALL.d_mlp, 3072);
 * assert.equal(GPT2_SMALL.d_vocab, 50257);
 * ```
 */
export const GPT2_SMALL: GPT2Config = gpt2Config({ n_layers: 12, d_model: 768, n_heads: 12 });

/**
 * Reads a Hugging Face GPT-2 `config.json` object.
 *
 * @example
 * ```ts
 * import { configFromHf } from "./config.ts";
 * configFromHf({ n_layer: 12, n_embd: 768, n_head: 12, vocab_size: 50257, n_positions: 1024 }).d_mlp; // 3072
 * ```
 */
export function configFromHf(json: Record<string, unknown>, source = "config.json"): GPT2Config {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(
      `${source}: expected a JSON object, got ${brief(json, 40)}`,
    );
  }
  const num = (key: string, fallback?: unknown): number => {
    const v = json[key] === undefined ? fallback : json[key];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      const got = v === undefined ? "missing" : `is ${brief(v)}`;
      throw new ConfigError(`${source}: field "${key}" ${got}, expected a number`);
    }
    return v;
  };
  const act = json.activation_function ?? "gelu_new";
  if (act !== "gelu_new") {
    throw new ConfigError(
      `${source}: activation_function "${act}" is not supported (expected "gelu_new")`,
    );
  }
  const d_model = num("n_embd");
  const n_heads = num("n_head");
  if (!Number.isInteger(d_model / n_heads)) {
    throw new ConfigError(`${source}: n_embd (${d_model}) is not divisible by n_head (${n_heads})`);
  }
  const inner = json.n_inner ?? null;
  try {
    return validateConfig({
      n_layers: num("n_layer"),
      d_model,
      n_heads,
      d_head: d_model / n_heads,
      d_mlp: inner === null ? 4 * d_model : num("n_inner"),
      d_vocab: num("vocab_size"),
      n_ctx: num("n_positions", json.n_ctx),
      layer_norm_eps: num("layer_norm_epsilon", 1e-5),
      act_fn: "gelu_new",
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${source}: ${e.message}`);
    throw e;
  }
}

/**
 * A Hugging Face GPT-2 `config.json` object for a config.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configFromHf, configToHf, GPT2_SMALL } from "./config.ts";
 * const json = configToHf(GPT2_SMALL);
 * json.n_embd; // 768
 * assert.equal(json.n_inner, null); // the default 4 d_model
 * assert.deepEqual(configFromHf(json), GPT2_SMALL); // round trip
 * ```
 */
export function configToHf(cfg: GPT2Config): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    activation_function: cfg.act_fn,
    n_layer: cfg.n_layers,
    n_embd: cfg.d_model,
    n_head: cfg.n_heads,
    n_inner: cfg.d_mlp === 4 * cfg.d_model ? null : cfg.d_mlp,
    vocab_size: cfg.d_vocab,
    n_positions: cfg.n_ctx,
    n_ctx: cfg.n_ctx,
    layer_norm_epsilon: cfg.layer_norm_eps,
    bos_token_id: 50256,
    eos_token_id: 50256,
  };
}

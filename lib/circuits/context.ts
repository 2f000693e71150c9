/**
 * One prompt's cached forward pass with everything circuit attribution needs: residual streams,
 * LayerNorm inputs and outputs, attention values and patterns, MLP outputs, and each
 * transcoder's feature activations and outputs on the clean MLP inputs (as the reference
 * computes them: `transcoder(cache[hook_point])`).
 *
 * Attribution treats this pass as fixed: attention patterns are constants and each LayerNorm is
 * linearised at its input by the scalar `(v . y) / (v . x)` (the reference's `get_ln_constant`).
 *
 * @module
 */
import { type HookedModel, singleSequence } from "../model/hooked_model.ts";
import type { TokenBatch } from "../model/tokens.ts";
import type { ActivationCache } from "../model/activation_cache.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import type { Sublayer } from "./feature_vector.ts";

/** Options of a circuit context. */
export interface CircuitContextOptions {
  /**
   * Attribute through transcoder decoders with each decoder row projected onto the mean-free
   * subspace (default true). A LayerNorm removes the mean of its input even with its scale
   * frozen, so this is what makes edges out of transcoder features exact; `false` reproduces
   * the reference's formula (and its published numbers).
   */
  meanFreeDecoders?: boolean;
}

/**
 * Hook names a context caches for a model with `n` layers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contextHookNames } from "./context.ts";
 * const names = contextHookNames(2);
 * names.length; // 26: 4 global hooks and 11 per layer
 * names[4]; // "blocks.0.hook_resid_pre"
 * assert.equal(names.length, 4 + 2 * 11);
 * assert.ok(names.includes("blocks.1.attn.hook_pattern"));
 * ```
 */
export function contextHookNames(nLayers: number): string[] {
  const names = ["hook_embed", "hook_pos_embed", "ln_final.hook_scale", "ln_final.hook_normalized"];
  for (let l = 0; l < nLayers; l++) {
    for (
      const h of [
        "hook_resid_pre",
        "ln1.hook_scale",
        "ln1.hook_normalized",
        "attn.hook_v",
        "attn.hook_pattern",
        "hook_attn_out",
        "hook_resid_mid",
        "ln2.hook_scale",
        "ln2.hook_normalized",
        "hook_mlp_out",
        "hook_resid_post",
      ]
    ) {
      names.push(`blocks.${l}.${h}`);
    }
  }
  return names;
}

/**
 * The cached pass of one prompt (a batch of one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { CircuitContext } from "./context.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
 * ctx.length; // 8 (BOS first)
 * ctx.pos(-1); // 7
 * ctx.featureActs(3, -1).length; // 2048 (d_sae of layer 3's transcoder)
 * ctx.resid(2, "resid_mid", -1).length; // 96 (d_model)
 * assert.equal(ctx.tokens[0], 50256);
 * assert.equal(ctx.transcoderError(3, -1).length, 96);
 * ```
 */
export class CircuitContext {
  readonly model: HookedModel;
  /** Transcoders by layer (a layer without one has `undefined`). */
  readonly transcoders: (Transcoder | undefined)[];
  readonly tokens: Int32Array;
  readonly cache: ActivationCache;
  /** Per layer: feature activations `[pos, d_sae]` of the transcoder on the clean MLP input. */
  readonly acts: (Float32Array | undefined)[];
  /** Per layer: the transcoder's output `[pos, d_model]` on the clean MLP input. */
  readonly tcOut: (Float32Array | undefined)[];
  readonly meanFreeDecoders: boolean;
  readonly #hostWeights = new Map<string, Float32Array>();

  private constructor(
    model: HookedModel,
    transcoders: (Transcoder | undefined)[],
    tokens: Int32Array,
    cache: ActivationCache,
    acts: (Float32Array | undefined)[],
    tcOut: (Float32Array | undefined)[],
    meanFree: boolean,
  ) {
    this.model = model;
    this.transcoders = transcoders;
    this.tokens = tokens;
    this.cache = cache;
    this.acts = acts;
    this.tcOut = tcOut;
    this.meanFreeDecoders = meanFree;
  }

  /**
   * Runs the model on a prompt (text gets BOS first) and caches what attribution needs.
   * `transcoders` may be a list indexed by layer or any list of transcoders (placed by their
   * `hook_layer`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { gpt2Config } from "../model/config.ts";
   * import { modelFromStateDict } from "../model/load.ts";
   * import { randomStateDict } from "../model/random_weights.ts";
   * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
   * import { CircuitContext } from "./context.ts";
   * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 8 });
   * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
   * const tc1 = Transcoder.random(mlpTranscoderConfig(1, { d_in: 8, d_sae: 16 }), 1);
   * // Token ids are used as given; the one transcoder is placed by its hook_layer.
   * const ctx = await CircuitContext.create(model, [tc1], [1, 2, 3, 4]);
   * ctx.transcoders.map((tc) => tc?.layer); // [undefined, 1]
   * ctx.featureActs(1, -1).length; // 16
   * assert.throws(() => ctx.featureActs(0, -1), RangeError); // no transcoder for layer 0
   * ```
   */
  static async create(
    model: HookedModel,
    transcoders: readonly (Transcoder | undefined)[],
    prompt: string | ArrayLike<number> | TokenBatch,
    { meanFreeDecoders = true }: CircuitContextOptions = {},
  ): Promise<CircuitContext> {
    const tokens = Int32Array.from(
      typeof prompt === "string" ? model.toTokens(prompt).data : singleSequence(prompt),
    );
    const byLayer: (Transcoder | undefined)[] = new Array(model.cfg.n_layers).fill(undefined);
    for (const tc of transcoders) {
      if (!tc) continue;
      if (tc.layer < 0 || tc.layer >= model.cfg.n_layers) {
        throw new RangeError(
          `transcoder for layer ${tc.layer}, but the model has layers 0..${model.cfg.n_layers - 1}`,
        );
      }
      if (tc.cfg.d_in !== model.cfg.d_model) {
        throw new RangeError(
          `transcoder for layer ${tc.layer} has d_in ${tc.cfg.d_in}; the model's d_model is ${model.cfg.d_model}`,
        );
      }
      if (tc.kind !== "transcoder") {
        throw new RangeError(
          `circuits need transcoders; the dictionary for layer ${tc.layer} is an SAE on ${tc.cfg.hook_name}`,
        );
      }
      byLayer[tc.layer] = tc;
    }
    const { cache } = await model.runWithCache(tokens, {
      names: contextHookNames(model.cfg.n_layers),
      returnLogits: false,
    });
    const p = tokens.length, d = model.cfg.d_model;
    const acts: (Float32Array | undefined)[] = [], tcOut: (Float32Array | undefined)[] = [];
    for (let l = 0; l < model.cfg.n_layers; l++) {
      const tc = byLayer[l];
      if (!tc) {
        acts.push(undefined);
        tcOut.push(undefined);
        continue;
      }
      const x: Tensor<"float32"> = {
        dtype: "float32",
        shape: [p, d],
        data: cache.get(`blocks.${l}.ln2.hook_normalized`).data,
      };
      const z = await tc.encode(x);
      acts.push(z.data);
      tcOut.push((await tc.decode(z)).data);
    }
    return new CircuitContext(model, byLayer, tokens, cache, acts, tcOut, meanFreeDecoders);
  }

  /** Number of tokens of the prompt. */
  get length(): number {
    return this.tokens.length;
  }

  /** A position with negative values counted from the end; throws for one outside the prompt. */
  pos(token: number): number {
    const t = token < 0 ? token + this.tokens.length : token;
    if (!Number.isInteger(t) || t < 0 || t >= this.tokens.length) {
      throw new RangeError(
        `token position ${token} is outside the prompt of ${this.tokens.length} tokens`,
      );
    }
    return t;
  }

  /** The transcoder of a layer; throws if there is none. */
  transcoder(layer: number): Transcoder {
    const tc = this.transcoders[layer];
    if (!tc) throw new RangeError(`no transcoder for layer ${layer}`);
    return tc;
  }

  /** A row `[d]` of a cached `[1, pos, d]` hook at a position. */
  row(hook: string, token: number): Float32Array {
    const t = this.cache.get(hook);
    const d = t.shape[t.shape.length - 1];
    const p = this.pos(token);
    return t.data.subarray(p * d, (p + 1) * d);
  }

  /** The residual stream feeding a sublayer at (layer, token). */
  resid(layer: number, sublayer: Sublayer, token: number): Float32Array {
    switch (sublayer) {
      case "resid_pre":
        return this.row(`blocks.${layer}.hook_resid_pre`, token);
      case "resid_mid":
        return this.row(`blocks.${layer}.hook_resid_mid`, token);
      case "resid_post":
        return this.row(`blocks.${layer}.hook_resid_post`, token);
      case "mlp_out":
        return this.row(`blocks.${layer}.hook_mlp_out`, token);
    }
  }

  /**
   * The LayerNorm constant `(v . y) / (v . x)` at (layer, token): x is the LayerNorm's input
   * (resid_pre for ln1, resid_mid for ln2, the last resid_post for ln_final), y its output;
   * 0 when `v . x` is 0.
   */
  lnConstant(
    v: ArrayLike<number>,
    layer: number,
    token: number,
    ln: "ln1" | "ln2" | "ln_final",
  ): number {
    const x = ln === "ln_final"
      ? this.resid(this.model.cfg.n_layers - 1, "resid_post", token)
      : this.resid(layer, ln === "ln1" ? "resid_pre" : "resid_mid", token);
    const y = this.row(
      ln === "ln_final" ? "ln_final.hook_normalized" : `blocks.${layer}.${ln}.hook_normalized`,
      token,
    );
    let vx = 0, vy = 0;
    for (let i = 0; i < x.length; i++) {
      vx += v[i] * x[i];
      vy += v[i] * y[i];
    }
    return vx === 0 ? 0 : vy / vx;
  }

  /** A model parameter as a host array (cached). */
  weight(name: string): Float32Array {
    let w = this.#hostWeights.get(name);
    if (!w) {
      w = this.model.param(name).data;
      this.#hostWeights.set(name, w);
    }
    return w;
  }

  /** The transcoder's error at (layer, token): `mlp_out - tc_out` `[d_model]`. */
  transcoderError(layer: number, token: number): Float64Array {
    const out = this.tcOut[layer];
    if (!out) throw new RangeError(`no transcoder for layer ${layer}`);
    const mlp = this.row(`blocks.${layer}.hook_mlp_out`, token);
    const d = mlp.length, p = this.pos(token);
    return Float64Array.from(mlp, (m, i) => m - out[p * d + i]);
  }

  /** Feature activations of a layer's transcoder at a position `[d_sae]`. */
  featureActs(layer: number, token: number): Float32Array {
    const a = this.acts[layer];
    if (!a) throw new RangeError(`no transcoder for layer ${layer}`);
    const ds = this.transcoder(layer).cfg.d_sae, p = this.pos(token);
    return a.subarray(p * ds, (p + 1) * ds);
  }
}

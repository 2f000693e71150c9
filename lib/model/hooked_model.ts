/**
 * `HookedModel`: a GPT-2-shaped transformer whose every TransformerLens hook can be read,
 * cached and patched, run by onnxruntime. Each distinct request (hooks read, hooks patched,
 * stop layer, MLP replacements, outputs wanted, token shape) compiles one graph, cached for
 * reuse; the weights are graph inputs, so all compiled graphs share one copy of them.
 *
 * @module
 */
import { Graph } from "../graph/builder.ts";
import { HookPoints, patchInputName, type PatchMode, type PatchSpec } from "../graph/hooks.ts";
import type { ElemType, Value } from "../graph/ir.ts";
import { type CompiledGraph, Runtime, type RuntimeOptions } from "../graph/session.ts";
import { shapeStr, type Tensor } from "../tensor/tensor.ts";
import { Rng } from "../tensor/random.ts";
import { topk } from "../tensor/ops.ts";
import {
  BOS_TOKEN_ID,
  decodeTokens,
  encodeText,
  singleToken,
  tokenStrings,
} from "../tokenizer/gpt2_tokenizer.ts";
import { ActivationCache } from "./activation_cache.ts";
import type { GPT2Config } from "./config.ts";
import { gpt2Forward, type MlpReplacement, nextTokenLoss, WeightInputs } from "./gpt2_graph.ts";
import { checkHookName, hookLayer, hookNames, UnknownHookError } from "./hook_names.ts";
import { type TokenBatch, type TokensLike, toTokenBatch } from "./tokens.ts";
import { expectedShapes, type Processing, type StateDict, validateStateDict } from "./weights.ts";

/** A patch: a tensor that replaces a hook's value, or `{ mode: "add", value }` to add a delta. */
export type Patch = Tensor<"float32"> | { mode: PatchMode; value: Tensor<"float32"> };

/** Patches keyed by hook name. */
export type Patches = Readonly<Record<string, Patch>>;

/**
 * Something that replaces a layer's MLP inside the graph (a transcoder, for example). Its
 * parameters are graph inputs; `key` identifies the graph structure it builds (shapes, kind),
 * so replacements of the same structure share a compiled graph.
 */
export interface MlpReplacementProvider {
  readonly key: string;
  /** Hook names it adds for layer l (they become readable and patchable). */
  hookNames(layer: number): string[];
  /** Builds the replacement output `[b, p, d_model]` from the MLP input x `[b, p, d_model]`. */
  build(
    g: Graph,
    x: Value,
    layer: number,
    hooks: HookPoints,
    param: (name: string, shape: readonly number[]) => Value,
  ): Value;
  /** Parameter tensors by the names passed to `param`. */
  params(): ReadonlyMap<string, Tensor<"float32">>;
}

/** Per-layer MLP replacement: zero ablation or a provider. */
export type MlpReplacements = ReadonlyMap<number, "zero" | MlpReplacementProvider>;

/**
 * Extra computations appended to a forward pass's graph, reading hook values, e.g. a reduction
 * so that only a summary of a large activation leaves onnxruntime. Its outputs come back in
 * `ForwardResult.extra`.
 */
export interface GraphExtension {
  /** Identifies the structure `build` appends (part of the compiled graph's cache key). */
  key: string;
  /**
   * Appends nodes; `hook` gives a computed hook's value, `input` declares a graph input fed from
   * `feeds`; outputs are declared with `g.output(name, value)`.
   */
  build(
    g: Graph,
    ctx: {
      hook(name: string): Value;
      input(name: string, dtype: ElemType, shape: readonly number[]): Value;
    },
  ): void;
  /** Tensors for the inputs `build` declares, by name. */
  feeds?: Readonly<Record<string, Tensor>>;
}

/** Everything one forward pass may be asked for. */
export interface ForwardRequest {
  /** Hook names whose values to return. */
  names?: readonly string[];
  patches?: Patches;
  /** Run blocks `0..stopAtLayer-1` only (no logits, no loss). */
  stopAtLayer?: number;
  /**
   * Which logits leave the graph: all positions, the last one, one position per sequence given
   * by `logitPositions` (`[b, d_vocab]`), or none (default none).
   */
  logits?: "all" | "last" | "at" | "none";
  /** For `logits: "at"`: the position to read in each sequence. */
  logitPositions?: Int32Array;
  /** Next-token loss: mean (a scalar), per token (`[b, p-1]`), or none (default none). */
  loss?: "mean" | "perToken" | "none";
  /** MLP replacements per layer. */
  mlpReplacements?: MlpReplacements;
  /**
   * Also run the model with these MLP replacements (instead of `mlpReplacements`) in the same
   * graph, and return its mean loss and the mean KL divergence from this pass's next-token
   * distribution to its own (`compareLoss`, `kl`).
   */
  compareWith?: MlpReplacements;
  /** Extra computations on hook values (see `GraphExtension`). */
  extension?: GraphExtension;
}

/** The outputs of a forward pass. */
export interface ForwardResult {
  /** `[b, p, d_vocab]`, or `[b, d_vocab]` for `logits: "last"` and `"at"`. */
  logits?: Tensor<"float32">;
  /** Mean next-token loss. */
  loss?: number;
  /** Per-token loss `[b, p-1]`. */
  lossPerToken?: Tensor<"float32">;
  /** With `compareWith`: the compared pass's mean loss. */
  compareLoss?: number;
  /** With `compareWith`: mean over positions of KL(this pass || compared pass), in nats. */
  kl?: number;
  /** The outputs of `extension`, by the names it declared. */
  extra?: Record<string, Tensor>;
  cache: ActivationCache;
}

/** Options of `runWithCache`. */
export interface RunWithCacheOptions {
  /** Hook names to record, or a filter over all names (default: every hook computed). */
  names?: readonly string[] | ((name: string) => boolean);
  stopAtLayer?: number;
  patches?: Patches;
  /** Return the logits too (default true unless stopAtLayer is set). */
  returnLogits?: boolean;
  mlpReplacements?: MlpReplacements;
}

interface Compiled {
  compiled: CompiledGraph;
  paramNames: string[];
  /** Graph inputs of replacement parameters: which set (primary or compared), layer and name. */
  providerParams: Map<string, { compare: boolean; layer: number; name: string }>;
  /** Output names declared by the request's extension. */
  extensionOutputs: string[];
}

const GRAPH_LOSS = "loss:mean", GRAPH_LOSS_TOKENS = "loss:per_token", GRAPH_LOGITS = "logits";
const GRAPH_LOGIT_POSITIONS = "logit_positions";
const GRAPH_KL = "compare:kl", GRAPH_COMPARE_LOSS = "compare:loss";
/** Extension inputs are prefixed so that they never clash with weights or patches. */
const EXTENSION_PREFIX = "extension:";

/**
 * A hooked GPT-2 model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * const { model } = await loadPretrained("tiny"); // the committed 4-layer model, d_model 96
 * const tokens = model.toTokens("Hello world"); // Int32Array [50256, 15496, 995], BOS first
 * const { logits, cache } = await model.runWithCache(tokens, { names: ["blocks.0.hook_mlp_out"] });
 * cache.get("blocks.0.hook_mlp_out").shape; // [1, 3, 96]: [batch, pos, d_model]
 * assert.deepEqual(cache.get("blocks.0.hook_mlp_out").shape, [1, 3, 96]);
 * assert.deepEqual(logits?.shape, [1, 3, 50257]);
 * ```
 */
export class HookedModel {
  readonly cfg: GPT2Config;
  /** Parameters in TransformerLens names (processed as `processing` says). */
  readonly weights: StateDict;
  readonly processing: Processing;
  readonly runtime: Runtime;
  readonly #compiled = new Map<string, Promise<Compiled>>();
  readonly #allHooks: Set<string>;

  constructor(
    cfg: GPT2Config,
    weights: StateDict,
    processing: Processing,
    runtime: Runtime | RuntimeOptions = {},
  ) {
    validateStateDict(weights, cfg, !processing.fold_ln, "HookedModel");
    this.cfg = cfg;
    this.weights = weights;
    this.processing = processing;
    this.runtime = runtime instanceof Runtime ? runtime : new Runtime(runtime);
    this.#allHooks = new Set(hookNames(cfg));
  }

  // ---- tokenizer -------------------------------------------------------------------------

  /**
   * Tokenizes text (BOS first unless `prependBos: false`). A list of texts gives a
   * `[batch, pos]` tensor and needs texts of equal token length.
   */
  toTokens(text: string, options?: { prependBos?: boolean }): Int32Array;
  toTokens(texts: readonly string[], options?: { prependBos?: boolean }): TokenBatch;
  toTokens(
    text: string | readonly string[],
    options: { prependBos?: boolean } = {},
  ): Int32Array | TokenBatch {
    if (typeof text === "string") return encodeText(text, options);
    return toTokenBatch(text.map((t) => encodeText(t, options)), this.cfg.d_vocab, Infinity);
  }

  /** The text of each token of a text or of a token sequence. */
  toStrTokens(input: string | ArrayLike<number>, options: { prependBos?: boolean } = {}): string[] {
    return tokenStrings(typeof input === "string" ? encodeText(input, options) : input);
  }

  /** Decodes tokens to text. */
  toString(tokens: ArrayLike<number>): string {
    return decodeTokens(tokens);
  }

  /** The id of a string that is exactly one token. */
  toSingleToken(text: string): number {
    return singleToken(text);
  }

  // ---- weights ---------------------------------------------------------------------------

  /** A parameter by TransformerLens name (e.g. `blocks.0.attn.W_Q`). */
  param(name: string): Tensor<"float32"> {
    const t = this.weights.get(name);
    if (!t) checkHookName(name, new Set(this.weights.keys()));
    return t!;
  }
  /** Token embedding `[d_vocab, d_model]`. */
  get W_E(): Tensor<"float32"> {
    return this.param("embed.W_E");
  }
  /** Positional embedding `[n_ctx, d_model]`. */
  get W_pos(): Tensor<"float32"> {
    return this.param("pos_embed.W_pos");
  }
  /** Unembedding `[d_model, d_vocab]`. */
  get W_U(): Tensor<"float32"> {
    return this.param("unembed.W_U");
  }

  /** Every hook name of this model, in execution order. */
  hookNames(): string[] {
    return [...this.#allHooks];
  }

  // ---- running ---------------------------------------------------------------------------

  /**
   * Runs the model and records the hooks asked for (all hooks by default).
   * Returns the logits `[batch, pos, d_vocab]` (unless stopped early) and the cache.
   */
  async runWithCache(
    tokens: TokensLike,
    options: RunWithCacheOptions = {},
  ): Promise<{ logits?: Tensor<"float32">; cache: ActivationCache }> {
    const stop = options.stopAtLayer;
    const available = this.#hooksUpTo(stop, options.mlpReplacements);
    let names: readonly string[];
    if (typeof options.names === "function") names = [...available].filter(options.names);
    else names = options.names ?? [...available];
    const returnLogits = options.returnLogits ?? stop === undefined;
    const res = await this.forward(tokens, {
      names,
      patches: options.patches,
      stopAtLayer: stop,
      logits: returnLogits ? "all" : "none",
      mlpReplacements: options.mlpReplacements,
    });
    return { logits: res.logits, cache: res.cache };
  }

  /** Runs the model with patches and returns the logits `[batch, pos, d_vocab]`. */
  async run(
    tokens: TokensLike,
    options: { patches?: Patches; mlpReplacements?: MlpReplacements } = {},
  ): Promise<Tensor<"float32">> {
    return (await this.forward(tokens, { ...options, logits: "all" })).logits!;
  }

  /** Mean next-token cross-entropy loss (nats) over all positions and sequences. */
  loss(
    tokens: TokensLike,
    options?: { perToken?: false; patches?: Patches; mlpReplacements?: MlpReplacements },
  ): Promise<number>;
  /** Per-token next-token loss `[batch, pos - 1]`. */
  loss(
    tokens: TokensLike,
    options: { perToken: true; patches?: Patches; mlpReplacements?: MlpReplacements },
  ): Promise<Tensor<"float32">>;
  async loss(
    tokens: TokensLike,
    options: { perToken?: boolean; patches?: Patches; mlpReplacements?: MlpReplacements } = {},
  ): Promise<number | Tensor<"float32">> {
    const res = await this.forward(tokens, {
      patches: options.patches,
      mlpReplacements: options.mlpReplacements,
      loss: options.perToken ? "perToken" : "mean",
    });
    return options.perToken ? res.lossPerToken! : res.loss!;
  }

  /**
   * Continues a prompt (text gets BOS first) by `maxNewTokens` tokens, greedily or by sampling
   * from the top-k tokens at a temperature (seeded). Returns the new text only. The window of
   * the last `n_ctx` tokens is run at a fixed length, so one compiled graph serves every step.
   */
  async generate(
    prompt: string | ArrayLike<number>,
    { maxNewTokens = 20, greedy = false, topK = 40, temperature = 1, seed = 0, stopAtEos = false }:
      {
        maxNewTokens?: number;
        greedy?: boolean;
        topK?: number;
        temperature?: number;
        seed?: number;
        stopAtEos?: boolean;
      } = {},
  ): Promise<string> {
    const ids = typeof prompt === "string" ? Array.from(this.toTokens(prompt)) : Array.from(prompt);
    if (ids.length === 0) throw new RangeError("generate needs a non-empty prompt");
    if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
    const start = ids.length;
    const width = Math.min(this.cfg.n_ctx, start + maxNewTokens);
    const rng = new Rng(seed);
    for (let i = 0; i < maxNewTokens; i++) {
      const window = ids.slice(-width);
      const padded = new Int32Array(width);
      padded.set(window);
      const { logits } = await this.forward(padded, {
        logits: "at",
        logitPositions: Int32Array.of(window.length - 1),
      });
      const row = logits!.data as Float32Array;
      let next: number;
      if (greedy) next = topk(row, 1)[0].index;
      else {
        const top = topk(row, Math.max(1, topK));
        const w = top.map((t) => Math.exp((t.value - top[0].value) / temperature));
        let u = rng.uniform() * w.reduce((a, x) => a + x, 0);
        next = top[top.length - 1].index;
        for (let j = 0; j < top.length; j++) {
          u -= w[j];
          if (u <= 0) {
            next = top[j].index;
            break;
          }
        }
      }
      ids.push(next);
      if (stopAtEos && next === BOS_TOKEN_ID) break;
    }
    return this.toString(ids.slice(start));
  }

  /** The general forward pass behind `run`, `runWithCache` and `loss`. */
  async forward(tokens: TokensLike, req: ForwardRequest): Promise<ForwardResult> {
    const batch = toTokenBatch(tokens, this.cfg.d_vocab, this.cfg.n_ctx);
    const [b, p] = batch.shape;
    const stop = req.stopAtLayer;
    if (stop !== undefined && (!Number.isInteger(stop) || stop < 0 || stop > this.cfg.n_layers)) {
      throw new RangeError(`stopAtLayer ${stop} out of range [0, ${this.cfg.n_layers}]`);
    }
    const stopped = stop !== undefined && stop < this.cfg.n_layers;
    const logits = req.logits ?? "none", loss = req.loss ?? "none";
    if (stopped && (logits !== "none" || loss !== "none" || req.compareWith)) {
      throw new RangeError(`stopAtLayer ${stop} < n_layers: no logits or loss are computed`);
    }
    if (loss !== "none" && p < 2) {
      throw new RangeError(`the loss needs at least 2 tokens per sequence, got ${p}`);
    }
    const replacements = req.mlpReplacements ?? new Map();
    for (const l of [...replacements.keys(), ...(req.compareWith?.keys() ?? [])]) {
      if (!Number.isInteger(l) || l < 0 || l >= this.cfg.n_layers) {
        throw new RangeError(
          `MLP replacement for layer ${l}, but the model has layers 0..${this.cfg.n_layers - 1}`,
        );
      }
    }
    if (logits === "at") {
      const lp = req.logitPositions;
      if (!lp || lp.length !== b) {
        throw new RangeError(
          `logits "at" needs logitPositions with one position per sequence (${b})`,
        );
      }
      for (const x of lp) {
        if (!(x >= 0 && x < p)) {
          throw new RangeError(`logit position ${x} out of range [0, ${p})`);
        }
      }
    }
    const names = [...new Set(req.names ?? [])];
    const patches = new Map<string, { mode: PatchMode; value: Tensor<"float32"> }>();
    for (const [name, patch] of Object.entries(req.patches ?? {})) {
      const norm = "mode" in patch && "value" in patch
        ? patch
        : { mode: "replace" as const, value: patch as Tensor<"float32"> };
      if (norm.mode !== "replace" && norm.mode !== "add") {
        throw new RangeError(
          `patch for "${name}" has mode "${norm.mode}", expected "replace" or "add"`,
        );
      }
      if (norm.value.dtype !== "float32") {
        throw new TypeError(`patch for "${name}" is ${norm.value.dtype}, expected float32`);
      }
      patches.set(name, norm);
    }
    const key = JSON.stringify({
      b,
      p,
      names: [...names].sort(),
      patches: [...patches].map(([n, x]) => [n, x.mode, x.value.shape]).sort(),
      stop: stop ?? null,
      logits,
      loss,
      repl: [...replacements].map(([l, r]) => [l, r === "zero" ? "zero" : r.key]).sort(),
      compare: req.compareWith
        ? [...req.compareWith].map(([l, r]) => [l, r === "zero" ? "zero" : r.key]).sort()
        : null,
      extension: req.extension?.key ?? null,
    });
    let entry = this.#compiled.get(key);
    if (!entry) {
      entry = this.#compile(
        b,
        p,
        names,
        patches,
        stop,
        logits,
        loss,
        replacements,
        req.compareWith,
        req.extension,
      );
      this.#compiled.set(key, entry);
      entry.catch(() => this.#compiled.delete(key));
    }
    const { compiled, paramNames, providerParams, extensionOutputs } = await entry;
    const feeds: Record<string, Tensor> = { tokens: batch };
    for (const n of paramNames) feeds[n] = this.weights.get(n)!;
    // The compiled graph is shared by every replacement of the same structure: feed the
    // parameters of the providers of this request.
    for (const [inputName, { compare, layer, name }] of providerParams) {
      const provider = (compare ? req.compareWith : replacements)?.get(
        layer,
      ) as MlpReplacementProvider;
      const t = provider.params().get(name);
      if (!t) throw new RangeError(`MLP replacement "${provider.key}" has no parameter "${name}"`);
      feeds[inputName] = t;
    }
    for (const [name, { value }] of patches) feeds[patchInputName(name)] = value;
    if (logits === "at") {
      feeds[GRAPH_LOGIT_POSITIONS] = { dtype: "int32", shape: [b], data: req.logitPositions! };
    }
    for (const [k, t] of Object.entries(req.extension?.feeds ?? {})) {
      feeds[`${EXTENSION_PREFIX}${k}`] = t;
    }
    const out = await compiled.run(feeds);
    const cache = new Map<string, Tensor<"float32">>();
    for (const n of names) cache.set(n, out[n] as Tensor<"float32">);
    const result: ForwardResult = { cache: new ActivationCache(cache) };
    if (logits !== "none") result.logits = out[GRAPH_LOGITS] as Tensor<"float32">;
    if (loss === "mean") result.loss = (out[GRAPH_LOSS].data as Float32Array)[0];
    if (loss === "perToken") result.lossPerToken = out[GRAPH_LOSS_TOKENS] as Tensor<"float32">;
    if (req.compareWith) {
      result.kl = (out[GRAPH_KL].data as Float32Array)[0];
      result.compareLoss = (out[GRAPH_COMPARE_LOSS].data as Float32Array)[0];
    }
    if (extensionOutputs.length) {
      result.extra = Object.fromEntries(extensionOutputs.map((n) => [n, out[n]]));
    }
    return result;
  }

  /** Hook names computed when running blocks below `stop`, including replacement hooks. */
  #hooksUpTo(stop: number | undefined, replacements?: MlpReplacements): Set<string> {
    const n = stop ?? this.cfg.n_layers;
    const out = new Set<string>();
    const extra = (l: number) => {
      const r = replacements?.get(l);
      return r && r !== "zero" ? r.hookNames(l) : [];
    };
    for (const name of this.#allHooks) {
      const l = hookLayer(name);
      if (
        l === undefined ? (name.startsWith("ln_final") ? n === this.cfg.n_layers : true) : l < n
      ) {
        out.add(name);
        if (l !== undefined && name.endsWith("ln2.hook_normalized")) {
          for (const e of extra(l)) out.add(e);
        }
      }
    }
    return out;
  }

  async #compile(
    b: number,
    p: number,
    names: readonly string[],
    patches: ReadonlyMap<string, { mode: PatchMode; value: Tensor<"float32"> }>,
    stop: number | undefined,
    logits: "all" | "last" | "at" | "none",
    loss: "mean" | "perToken" | "none",
    replacements: MlpReplacements,
    compare: MlpReplacements | undefined,
    extension: GraphExtension | undefined,
  ): Promise<Compiled> {
    // Validate hook names before building: unknown names, and names past stopAtLayer.
    const valid = new Set(this.#allHooks);
    for (let l = 0; l < this.cfg.n_layers; l++) {
      const r = replacements.get(l);
      if (r && r !== "zero") { for (const e of r.hookNames(l)) valid.add(e); }
    }
    const computed = this.#hooksUpTo(stop, replacements);
    for (const [what, list] of [["hook", names], ["patch hook", [...patches.keys()]]] as const) {
      for (const n of list) {
        if (!valid.has(n)) {
          try {
            checkHookName(n, valid);
          } catch (e) {
            throw what === "hook" ? e : new UnknownHookError(`patch for ${(e as Error).message}`);
          }
        }
        if (!computed.has(n)) {
          throw new RangeError(`${what} "${n}" is not computed when stopAtLayer = ${stop}`);
        }
      }
    }
    const g = new Graph();
    const tokens = g.input("tokens", "int32", [b, p]);
    const patchSpecs = new Map<string, PatchSpec>();
    for (const [n, x] of patches) patchSpecs.set(n, { mode: x.mode, shape: x.value.shape });
    const hooks = new HookPoints(g, names, patchSpecs);
    const weights = new WeightInputs(g, expectedShapes(this.cfg, !this.processing.fold_ln));
    const providerParams = new Map<string, { compare: boolean; layer: number; name: string }>();
    const extensionOutputs: string[] = [];
    const buildReplacements = (set: MlpReplacements, prefix: string) => {
      const built = new Map<number, MlpReplacement>();
      for (const [l, r] of set) {
        if (r === "zero") {
          built.set(l, "zero");
          continue;
        }
        built.set(l, (g2, x, layer, h) =>
          r.build(g2, x, layer, h, (name, shape) => {
            const inputName = `${prefix}blocks.${layer}.replacement.${name}`;
            providerParams.set(inputName, { compare: prefix !== "", layer, name });
            return g2.input(inputName, "float32", shape);
          }));
      }
      return built;
    };
    const built = buildReplacements(replacements, "");
    const fwd = gpt2Forward(g, this.cfg, {
      tokens,
      hooks,
      weights,
      stopAtLayer: stop,
      mlpReplacements: built,
    });
    if (compare) {
      // A second forward pass in the same graph, with other MLP replacements: its mean loss and
      // the mean KL(primary || compared) of the next-token distributions over all positions.
      const other = gpt2Forward(g, this.cfg, {
        tokens,
        hooks: new HookPoints(g),
        weights,
        mlpReplacements: buildReplacements(compare, "compare:"),
      });
      const lp1 = g.logSoftmax(fwd.logits!(), -1), otherLogits = other.logits!();
      const lp2 = g.logSoftmax(otherLogits, -1);
      g.output(GRAPH_KL, g.reduceMean(g.reduceSum(g.mul(g.exp(lp1), g.sub(lp1, lp2)), [-1])));
      g.output(GRAPH_COMPARE_LOSS, g.reduceMean(nextTokenLoss(g, otherLogits, tokens)));
    }
    if (logits === "last" || logits === "at") {
      const d = this.cfg.d_model;
      const at = logits === "last"
        ? g.slice(fwd.final!, [p - 1], [p], [1]) // [b, 1, d]
        : g.gatherElements(
          fwd.final!,
          g.expand(g.reshape(g.input(GRAPH_LOGIT_POSITIONS, "int32", [b]), [b, 1, 1]), [b, 1, d]),
          1,
        ); // [b, 1, d]
      const last = g.squeeze(at, [1]); // [b, d]
      g.output(
        GRAPH_LOGITS,
        g.add(g.matmul(last, weights.get("unembed.W_U")), weights.get("unembed.b_U")),
      );
    } else if (logits === "all" || loss !== "none") {
      const lg = fwd.logits!();
      if (logits === "all") g.output(GRAPH_LOGITS, lg);
      if (loss !== "none") {
        const perToken = nextTokenLoss(g, lg, tokens);
        if (loss === "mean") g.output(GRAPH_LOSS, g.reduceMean(perToken));
        else g.output(GRAPH_LOSS_TOKENS, perToken);
      }
    }
    if (extension) {
      const declared = new Set(g.outputs.map((o) => o.name));
      extension.build(g, {
        hook(name) {
          const v = hooks.values.get(name);
          if (!v) {
            throw new RangeError(
              `extension "${extension.key}": hook "${name}" is not computed here`,
            );
          }
          return v;
        },
        input: (name, dtype, shape) => g.input(`${EXTENSION_PREFIX}${name}`, dtype, shape),
      });
      for (const o of g.outputs) if (!declared.has(o.name)) extensionOutputs.push(o.name);
    }
    for (const n of patches.keys()) {
      if (!hooks.values.has(n)) {
        throw new RangeError(`patch hook "${n}" was not reached in the graph`);
      }
    }
    for (const n of names) {
      if (!hooks.values.has(n)) {
        throw new RangeError(`hook "${n}" was not reached in the graph ${shapeStr([b, p])}`);
      }
    }
    const compiled = await this.runtime.compile(g);
    return { compiled, paramNames: weights.used(), providerParams, extensionOutputs };
  }

  /** Number of graphs compiled so far (one per distinct request shape). */
  get compiledGraphCount(): number {
    return this.#compiled.size;
  }
}

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
import { markWeights } from "../graph/_device_weights.ts";
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
import { gpt2Forward, type MlpReplacement, WeightInputs } from "./_gpt2_graph.ts";
import { checkHookName, hookLayer, hookNames, UnknownHookError } from "./hook_names.ts";
import { comparedPass, referencePass, unembeddingChunks } from "./_next_token_stats.ts";
import {
  fusedComparedPass,
  fusedReferencePass,
  vocabularyAttention,
} from "./_vocabulary_attention.ts";
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
  /**
   * Builds the replacement output `[b, p, d_model]` from the MLP input x `[b, p, d_model]`;
   * `mlp` applies the layer's own MLP (with its hooks) to any `[b, p, d_model]` value, for
   * replacements that wrap it (an SAE on the MLP's input or output).
   */
  build(
    g: Graph,
    x: Value,
    layer: number,
    hooks: HookPoints,
    param: (name: string, shape: readonly number[]) => Value,
    mlp: (x: Value) => Value,
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
      /** A hook's value in the primary pass, or in compared pass `comparison` (`compareWith`). */
      hook(name: string, comparison?: number): Value;
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
   * distribution to its own (`compareLoss`, `kl`); a list runs one compared pass per entry
   * (`comparisons`). A compared pass starts from this pass's values at the first MLP that
   * either replaces (unless this pass has patches) and costs the rest of its forward pass and one
   * streaming pass over the vocabulary (on the CPU one flash attention, _vocabulary_attention.ts;
   * elsewhere chunked log-sum-exps, _next_token_stats.ts): no logits or log-softmax are
   * materialised.
   */
  compareWith?: MlpReplacements | readonly MlpReplacements[];
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
  /** With `compareWith`: per compared pass, in order, its mean loss and mean KL. */
  comparisons?: { loss: number; kl: number }[];
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

/** Which logits leave the graph (`ForwardRequest.logits`). */
type LogitsMode = "all" | "last" | "at" | "none";
/** Which loss leaves the graph (`ForwardRequest.loss`). */
type LossMode = "mean" | "perToken" | "none";

/** A validated request: everything that decides a compiled graph's structure and its feeds. */
interface GraphSpec {
  /** The token batch `[b, p]`. */
  batch: TokenBatch;
  names: readonly string[];
  patches: ReadonlyMap<string, { mode: PatchMode; value: Tensor<"float32"> }>;
  stop: number | undefined;
  logits: LogitsMode;
  loss: LossMode;
  replacements: MlpReplacements;
  /** The compared passes' replacements, in order. */
  comparisons: readonly MlpReplacements[];
  extension: GraphExtension | undefined;
}

interface Compiled {
  compiled: CompiledGraph;
  paramNames: string[];
  /**
   * Graph inputs of replacement parameters: which set (-1 the primary pass, k the k-th compared
   * pass), layer and name.
   */
  providerParams: Map<string, { set: number; layer: number; name: string }>;
  /** Output names declared by the request's extension. */
  extensionOutputs: string[];
}

const GRAPH_LOSS = "loss:mean", GRAPH_LOSS_TOKENS = "loss:per_token", GRAPH_LOGITS = "logits";
const GRAPH_LOGIT_POSITIONS = "logit_positions";
const compareKl = (k: number) => `compare:${k}:kl`,
  compareLoss = (k: number) => `compare:${k}:loss`;
const replacementsKey = (set: MlpReplacements) =>
  [...set].map(([l, r]) => [l, r === "zero" ? "zero" : r.key]).sort();
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
 * const tokens = model.toTokens("Hello world"); // [1, 3]: [[50256, 15496, 995]], BOS first
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
    markWeights(weights.values()); // a GPU runtime keeps them on its device
    this.#allHooks = new Set(hookNames(cfg));
  }

  // ---- tokenizer -------------------------------------------------------------------------

  /**
   * Tokenizes text into a `[batch, pos]` int32 tensor, as TransformerLens's `to_tokens`: one text
   * gives `[1, pos]`, a list of texts `[texts, pos]` (they must have the same token length). BOS
   * comes first unless `prependBos: false`. `.data` is the flat token ids.
   */
  toTokens(text: string | readonly string[], options: { prependBos?: boolean } = {}): TokenBatch {
    const texts = typeof text === "string" ? [text] : text;
    return toTokenBatch(texts.map((t) => encodeText(t, options)), this.cfg.d_vocab, Infinity);
  }

  /**
   * The text of each token of a text, of a token sequence, or of a `[1, pos]` batch (what
   * `toTokens` returns for one text).
   */
  toStrTokens(
    input: string | ArrayLike<number> | TokenBatch,
    options: { prependBos?: boolean } = {},
  ): string[] {
    return tokenStrings(
      typeof input === "string" ? encodeText(input, options) : singleSequence(input),
    );
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
    prompt: string | ArrayLike<number> | TokenBatch,
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
    const ids = typeof prompt === "string"
      ? Array.from(encodeText(prompt))
      : Array.from(singleSequence(prompt));
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
    const spec = this.#graphSpec(tokens, req);
    const entry = await this.#compiledFor(spec);
    const out = await entry.compiled.run(this.#feeds(spec, entry, req));
    return this.#unpack(spec, entry, out);
  }

  /** Validates a request and normalises its patches and comparisons. */
  #graphSpec(tokens: TokensLike, req: ForwardRequest): GraphSpec {
    const batch = toTokenBatch(tokens, this.cfg.d_vocab, this.cfg.n_ctx);
    const [b, p] = batch.shape;
    const stop = req.stopAtLayer;
    if (stop !== undefined && (!Number.isInteger(stop) || stop < 0 || stop > this.cfg.n_layers)) {
      throw new RangeError(`stopAtLayer ${stop} out of range [0, ${this.cfg.n_layers}]`);
    }
    const stopped = stop !== undefined && stop < this.cfg.n_layers;
    const logits = req.logits ?? "none", loss = req.loss ?? "none";
    const comparisons = req.compareWith === undefined
      ? []
      : req.compareWith instanceof Map
      ? [req.compareWith as MlpReplacements]
      : [...req.compareWith as readonly MlpReplacements[]];
    if (stopped && (logits !== "none" || loss !== "none" || comparisons.length > 0)) {
      throw new RangeError(`stopAtLayer ${stop} < n_layers: no logits or loss are computed`);
    }
    if ((loss !== "none" || comparisons.length > 0) && p < 2) {
      throw new RangeError(`the loss needs at least 2 tokens per sequence, got ${p}`);
    }
    const replacements = req.mlpReplacements ?? new Map();
    for (const set of [replacements, ...comparisons]) {
      for (const l of set.keys()) {
        if (!Number.isInteger(l) || l < 0 || l >= this.cfg.n_layers) {
          throw new RangeError(
            `MLP replacement for layer ${l}, but the model has layers 0..${this.cfg.n_layers - 1}`,
          );
        }
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
    return {
      batch,
      names: [...new Set(req.names ?? [])],
      patches: normalisePatches(req.patches),
      stop,
      logits,
      loss,
      replacements,
      comparisons,
      extension: req.extension,
    };
  }

  /** The compiled graph of a spec's structure, compiled on first use. */
  #compiledFor(spec: GraphSpec): Promise<Compiled> {
    const key = JSON.stringify({
      shape: spec.batch.shape,
      names: [...spec.names].sort(),
      patches: [...spec.patches].map(([n, x]) => [n, x.mode, x.value.shape]).sort(),
      stop: spec.stop ?? null,
      logits: spec.logits,
      loss: spec.loss,
      repl: replacementsKey(spec.replacements),
      compare: spec.comparisons.map(replacementsKey),
      extension: spec.extension?.key ?? null,
    });
    let entry = this.#compiled.get(key);
    if (!entry) {
      entry = this.#compile(spec);
      this.#compiled.set(key, entry);
      entry.catch(() => this.#compiled.delete(key));
    }
    return entry;
  }

  /** The graph's inputs: tokens, weights, the replacements' parameters, patches, extension feeds. */
  #feeds(spec: GraphSpec, entry: Compiled, req: ForwardRequest): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = { tokens: spec.batch };
    for (const n of entry.paramNames) feeds[n] = this.weights.get(n)!;
    // The compiled graph is shared by every replacement of the same structure: feed the
    // parameters of the providers of this request.
    for (const [inputName, { set, layer, name }] of entry.providerParams) {
      const provider = (set < 0 ? spec.replacements : spec.comparisons[set]).get(
        layer,
      ) as MlpReplacementProvider;
      const t = provider.params().get(name);
      if (!t) throw new RangeError(`MLP replacement "${provider.key}" has no parameter "${name}"`);
      feeds[inputName] = t;
    }
    for (const [name, { value }] of spec.patches) feeds[patchInputName(name)] = value;
    if (spec.logits === "at") {
      feeds[GRAPH_LOGIT_POSITIONS] = {
        dtype: "int32",
        shape: [spec.batch.shape[0]],
        data: req.logitPositions!,
      };
    }
    for (const [k, t] of Object.entries(spec.extension?.feeds ?? {})) {
      feeds[`${EXTENSION_PREFIX}${k}`] = t;
    }
    return feeds;
  }

  /** The result of a run from the graph's outputs. */
  #unpack(spec: GraphSpec, entry: Compiled, out: Record<string, Tensor>): ForwardResult {
    const cache = new Map<string, Tensor<"float32">>();
    for (const n of spec.names) cache.set(n, out[n] as Tensor<"float32">);
    const result: ForwardResult = { cache: new ActivationCache(cache) };
    const scalar = (name: string) => (out[name].data as Float32Array)[0];
    if (spec.logits !== "none") result.logits = out[GRAPH_LOGITS] as Tensor<"float32">;
    if (spec.loss === "mean") result.loss = scalar(GRAPH_LOSS);
    if (spec.loss === "perToken") {
      result.lossPerToken = out[GRAPH_LOSS_TOKENS] as Tensor<"float32">;
    }
    if (spec.comparisons.length > 0) {
      result.comparisons = spec.comparisons.map((_, k) => ({
        loss: scalar(compareLoss(k)),
        kl: scalar(compareKl(k)),
      }));
      result.compareLoss = result.comparisons[0].loss;
      result.kl = result.comparisons[0].kl;
    }
    if (entry.extensionOutputs.length) {
      result.extra = Object.fromEntries(entry.extensionOutputs.map((n) => [n, out[n]]));
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

  async #compile(spec: GraphSpec): Promise<Compiled> {
    const { names, patches, stop, logits, loss, replacements, comparisons, extension } = spec;
    const [b, p] = spec.batch.shape;
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
    const providerParams = new Map<string, { set: number; layer: number; name: string }>();
    const extensionOutputs: string[] = [];
    const buildReplacements = (set: MlpReplacements, index: number) => {
      const prefix = index < 0 ? "" : `compare:${index}:`;
      const built = new Map<number, MlpReplacement>();
      for (const [l, r] of set) {
        if (r === "zero") {
          built.set(l, "zero");
          continue;
        }
        built.set(l, (g2, x, layer, h, mlp) =>
          r.build(g2, x, layer, h, (name, shape) => {
            const inputName = `${prefix}blocks.${layer}.replacement.${name}`;
            providerParams.set(inputName, { set: index, layer, name });
            return g2.input(inputName, "float32", shape);
          }, mlp));
      }
      return built;
    };
    const built = buildReplacements(replacements, -1);
    const compareHooks = comparisons.map(() => new HookPoints(g));
    const fwd = gpt2Forward(g, this.cfg, {
      tokens,
      hooks,
      weights,
      stopAtLayer: stop,
      mlpReplacements: built,
    });
    if (loss !== "none" || comparisons.length > 0) {
      // Losses and KLs without logits (_next_token_stats.ts); each compared pass is a further
      // forward pass in the same graph with its own MLP replacements. On the CPU, comparisons
      // take one flash attention per pass over the vocabulary (_vocabulary_attention.ts).
      const u = unembeddingChunks(g, weights.get("unembed.W_U"), weights.get("unembed.b_U"));
      const attention = comparisons.length > 0 && this.runtime.provider === "cpu"
        ? vocabularyAttention(g, u)
        : undefined;
      const expected = comparisons.length > 0;
      const primary = attention
        ? fusedReferencePass(g, fwd.final!, u, tokens, attention, { expected })
        : referencePass(g, fwd.final!, u, tokens, { expected });
      if (loss === "mean") g.output(GRAPH_LOSS, g.reduceMean(primary.losses));
      if (loss === "perToken") g.output(GRAPH_LOSS_TOKENS, primary.losses);
      comparisons.forEach((set, k) => {
        // The layers before the first MLP that either pass replaces are the same clean model in
        // both (unless patches change the primary pass): start from the primary pass's values.
        const at = patches.size ? undefined : sharedPrefixLayer(this.cfg, replacements, set);
        const x = gpt2Forward(g, this.cfg, {
          tokens,
          hooks: compareHooks[k],
          weights,
          mlpReplacements: buildReplacements(set, k),
          resumeAt: at === undefined ? undefined : {
            layer: at,
            residMid: hooks.values.get(`blocks.${at}.hook_resid_mid`)!,
            mlpIn: hooks.values.get(`blocks.${at}.ln2.hook_normalized`)!,
          },
        }).final!;
        const { losses, kl } = attention
          ? fusedComparedPass(g, primary, x, u, tokens, attention)
          : comparedPass(g, primary, x, u, tokens);
        g.output(compareLoss(k), g.reduceMean(losses));
        g.output(compareKl(k), g.reduceMean(kl));
      });
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
    } else if (logits === "all") {
      g.output(GRAPH_LOGITS, fwd.logits!());
    }
    if (extension) {
      const declared = new Set(g.outputs.map((o) => o.name));
      extension.build(g, {
        hook(name, comparison) {
          if (comparison !== undefined && !compareHooks[comparison]) {
            throw new RangeError(
              `extension "${extension.key}": no compared pass ${comparison} (${compareHooks.length} compared)`,
            );
          }
          // A compared pass's hooks before its shared prefix are the primary pass's.
          const v =
            (comparison === undefined ? undefined : compareHooks[comparison].values.get(name)) ??
              hooks.values.get(name);
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

/**
 * The layer at whose MLP a compared pass (replacements `other`) departs from an unpatched primary
 * pass (replacements `primary`): the first layer that either replaces (the last layer when
 * neither replaces any). Both passes compute the same values before that MLP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "./config.ts";
 * import { sharedPrefixLayer } from "./hooked_model.ts";
 * const cfg = gpt2Config({ n_layers: 4, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * sharedPrefixLayer(cfg, new Map(), new Map([[2, "zero"], [3, "zero"]])); // 2
 * assert.equal(sharedPrefixLayer(cfg, new Map([[1, "zero"]]), new Map([[2, "zero"]])), 1);
 * assert.equal(sharedPrefixLayer(cfg, new Map(), new Map()), 3);
 * ```
 */
export function sharedPrefixLayer(
  cfg: GPT2Config,
  primary: MlpReplacements,
  other: MlpReplacements,
): number {
  return Math.min(cfg.n_layers - 1, ...primary.keys(), ...other.keys());
}

/** Patches by hook name as `{ mode, value }`, checked. */
function normalisePatches(
  patches: Patches | undefined,
): Map<string, { mode: PatchMode; value: Tensor<"float32"> }> {
  const out = new Map<string, { mode: PatchMode; value: Tensor<"float32"> }>();
  for (const [name, patch] of Object.entries(patches ?? {})) {
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
    out.set(name, norm);
  }
  return out;
}

/** The token ids of one sequence: a list of ids, or a `[1, pos]` batch. */
export function singleSequence(tokens: ArrayLike<number> | TokenBatch): ArrayLike<number> {
  if (!("shape" in tokens && "data" in tokens)) return tokens as ArrayLike<number>;
  const t = tokens as TokenBatch;
  if (t.shape.length === 2 && t.shape[0] !== 1) {
    throw new RangeError(`expected one sequence, got a batch of ${t.shape[0]} [${t.shape}]`);
  }
  return t.data;
}

/**
 * GPT-2 as a graph, with every TransformerLens hook point. One function per sublayer, read
 * top-down; shapes in comments (b = batch, p = pos, h = heads). Weights are graph inputs named
 * by their TransformerLens state-dict names, declared only when used, so a request that stops
 * early does not take the later layers' weights.
 *
 * @module
 */
import type { Graph } from "../graph/builder.ts";
import type { Value } from "../graph/ir.ts";
import type { HookPoints } from "../graph/hooks.ts";
import type { GPT2Config } from "./config.ts";

/**
 * Declares weight inputs on first use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import { gpt2Config } from "./config.ts";
 * import { WeightInputs } from "./_gpt2_graph.ts";
 * import { expectedShapes } from "./weights.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const g = new Graph();
 * const w = new WeightInputs(g, expectedShapes(cfg, true));
 * const WE = w.get("embed.W_E"); // declares graph input "embed.W_E" [10, 8]
 * WE.shape; // [10, 8]
 * assert.equal(w.get("embed.W_E"), WE); // declared once
 * assert.deepEqual(w.used(), ["embed.W_E"]);
 * assert.deepEqual(g.inputs.map((i) => i.name), ["embed.W_E"]);
 * assert.ok(w.has("ln_final.w"));
 * assert.throws(() => w.get("embed.W_X"), RangeError);
 * ```
 */
export class WeightInputs {
  readonly #g: Graph;
  readonly #shapes: Map<string, number[]>;
  readonly #values = new Map<string, Value>();
  readonly #derived: ReadonlyMap<string, (w: WeightInputs) => Value>;
  readonly #cachedDerived = new Map<string, Value>();

  /**
   * `derived` computes some parameters from others instead of taking them as inputs (for
   * example a tied unembedding `W_U = W_E^T` while training).
   */
  constructor(
    g: Graph,
    shapes: Map<string, number[]>,
    derived: ReadonlyMap<string, (w: WeightInputs) => Value> = new Map(),
  ) {
    this.#g = g;
    this.#shapes = shapes;
    this.#derived = derived;
  }

  /** The graph value of a parameter, declaring it as an input the first time. */
  get(name: string): Value {
    const derive = this.#derived.get(name);
    if (derive) {
      let d = this.#cachedDerived.get(name);
      if (!d) this.#cachedDerived.set(name, d = derive(this));
      return d;
    }
    let v = this.#values.get(name);
    if (!v) {
      const shape = this.#shapes.get(name);
      if (!shape) throw new RangeError(`the graph has no parameter "${name}"`);
      v = this.#g.input(name, "float32", shape);
      this.#values.set(name, v);
    }
    return v;
  }

  /** The input values of the parameters used so far, by name. */
  inputs(): Map<string, Value> {
    return new Map(this.#values);
  }

  /** Whether a parameter exists (e.g. LayerNorm weights before folding). */
  has(name: string): boolean {
    return this.#shapes.has(name);
  }

  /** Names of the parameters the graph uses. */
  used(): string[] {
    return [...this.#values.keys()];
  }
}

/**
 * What replaces a layer's MLP: `zero` ablates it (output zero); a function builds a replacement
 * from the MLP input x, and may call `mlp` (the layer's own MLP, with its hooks) on any input.
 */
export type MlpReplacement =
  | "zero"
  | ((g: Graph, x: Value, layer: number, h: HookPoints, mlp: (x: Value) => Value) => Value);

/** Everything the GPT-2 graph builder needs besides the config. */
export interface Gpt2GraphOptions {
  tokens: Value; // int32 [b, p]
  hooks: HookPoints;
  weights: WeightInputs;
  /** Run blocks `0..stopAtLayer-1` only and return the residual stream before block stopAtLayer. */
  stopAtLayer?: number;
  /** Per-layer MLP replacements. */
  mlpReplacements?: ReadonlyMap<number, MlpReplacement>;
  /**
   * Start at this layer's MLP from another pass's values instead of from the embedding: a pass
   * that differs from that one only from this MLP on shares everything before it (its hooks
   * before the MLP are not declared again).
   */
  resumeAt?: ResumePoint;
}

/** Another pass's values at the input of layer `layer`'s MLP. */
export interface ResumePoint {
  layer: number;
  /** `blocks.{layer}.hook_resid_mid` `[b, p, d]`. */
  residMid: Value;
  /** `blocks.{layer}.ln2.hook_normalized` `[b, p, d]`, the MLP's input. */
  mlpIn: Value;
}

/**
 * LayerNorm with TransformerLens hooks: centre, scale by `sqrt(mean(x^2) + eps)` (hook_scale
 * `[b, p, 1]`), then multiply by w and add b when the weights are not folded (hook_normalized).
 */
function layerNorm(
  g: Graph,
  x: Value,
  cfg: GPT2Config,
  w: WeightInputs,
  h: HookPoints,
  prefix: string,
): Value {
  const x0 = g.sub(x, g.reduceMean(x, [-1], true));
  const scale = h.hook(
    `${prefix}.hook_scale`,
    g.sqrt(g.add(g.reduceMean(g.mul(x0, x0), [-1], true), g.scalar(cfg.layer_norm_eps))),
  );
  let y = g.div(x0, scale);
  if (w.has(`${prefix}.w`)) y = g.add(g.mul(y, w.get(`${prefix}.w`)), w.get(`${prefix}.b`));
  return h.hook(`${prefix}.hook_normalized`, y);
}

/** Projects `[b, p, d]` through a per-head weight `[h, d, e]` + bias `[h, e]` to `[b, p, h, e]`. */
function perHead(g: Graph, x: Value, W: Value, bias: Value, cfg: GPT2Config): Value {
  const [b, p] = x.shape;
  const { n_heads: nh, d_head: dh, d_model: d } = cfg;
  const W2 = g.reshape(g.transpose(W, [1, 0, 2]), [d, nh * dh]); // [d, h*e]
  const y = g.add(g.matmul(x, W2), g.reshape(bias, [nh * dh])); // [b, p, h*e]
  return g.reshape(y, [b, p, nh, dh]);
}

/** Causal multi-head attention with hooks q, k, v, attn_scores, pattern, z. */
function attention(
  g: Graph,
  x: Value,
  cfg: GPT2Config,
  w: WeightInputs,
  h: HookPoints,
  l: number,
): Value {
  const a = `blocks.${l}.attn`;
  const [b, p] = x.shape;
  const q = h.hook(`${a}.hook_q`, perHead(g, x, w.get(`${a}.W_Q`), w.get(`${a}.b_Q`), cfg)); // [b, p, h, e]
  const k = h.hook(`${a}.hook_k`, perHead(g, x, w.get(`${a}.W_K`), w.get(`${a}.b_K`), cfg));
  const v = h.hook(`${a}.hook_v`, perHead(g, x, w.get(`${a}.W_V`), w.get(`${a}.b_V`), cfg));
  const raw = g.mul(
    g.matmul(g.transpose(q, [0, 2, 1, 3]), g.transpose(k, [0, 2, 3, 1])), // [b, h, q, k]
    g.scalar(1 / Math.sqrt(cfg.d_head)),
  );
  const scores = h.hook(
    `${a}.hook_attn_scores`,
    g.where(g.causalMask(p, p), raw, g.scalar(-Infinity)),
  );
  const pattern = h.hook(`${a}.hook_pattern`, g.softmax(scores, -1)); // [b, h, q, k]
  const z = h.hook(
    `${a}.hook_z`,
    g.transpose(g.matmul(pattern, g.transpose(v, [0, 2, 1, 3])), [0, 2, 1, 3]), // [b, p, h, e]
  );
  const WO = g.reshape(w.get(`${a}.W_O`), [cfg.n_heads * cfg.d_head, cfg.d_model]);
  return g.add(g.matmul(g.reshape(z, [b, p, cfg.n_heads * cfg.d_head]), WO), w.get(`${a}.b_O`)); // [b, p, d]
}

/** The MLP: `gelu_new(x W_in + b_in) W_out + b_out`, with hooks pre and post. */
function mlp(g: Graph, x: Value, w: WeightInputs, h: HookPoints, l: number): Value {
  const m = `blocks.${l}.mlp`;
  const pre = h.hook(`${m}.hook_pre`, g.add(g.matmul(x, w.get(`${m}.W_in`)), w.get(`${m}.b_in`)));
  const post = h.hook(`${m}.hook_post`, g.gelu(pre, "tanh"));
  return g.add(g.matmul(post, w.get(`${m}.W_out`)), w.get(`${m}.b_out`)); // [b, p, d]
}

/** One transformer block. */
function block(g: Graph, resid: Value, cfg: GPT2Config, o: Gpt2GraphOptions, l: number): Value {
  const { hooks: h, weights: w } = o;
  const name = (s: string) => `blocks.${l}.${s}`;
  resid = h.hook(name("hook_resid_pre"), resid); // [b, p, d]
  const x1 = layerNorm(g, resid, cfg, w, h, name("ln1"));
  const attnOut = h.hook(name("hook_attn_out"), attention(g, x1, cfg, w, h, l));
  resid = h.hook(name("hook_resid_mid"), g.add(resid, attnOut));
  return mlpHalf(g, {
    layer: l,
    residMid: resid,
    mlpIn: layerNorm(g, resid, cfg, w, h, name("ln2")),
  }, o);
}

/** The second half of a block from its MLP input: the MLP (or its replacement) and the residual. */
function mlpHalf(g: Graph, at: ResumePoint, o: Gpt2GraphOptions): Value {
  const { hooks: h, weights: w } = o;
  const l = at.layer, x2 = at.mlpIn, resid = at.residMid;
  const name = (s: string) => `blocks.${l}.${s}`;
  const replacement = o.mlpReplacements?.get(l);
  const mlpOut = replacement === "zero"
    ? g.expand(g.scalar(0), x2.shape) // zero ablation: [b, p, d] of zeros
    : replacement
    ? replacement(g, x2, l, h, (x) => mlp(g, x, w, h, l))
    : mlp(g, x2, w, h, l);
  const out = h.hook(name("hook_mlp_out"), mlpOut);
  return h.hook(name("hook_resid_post"), g.add(resid, out));
}

/** Token plus position embeddings `[b, p, d]`, with hooks embed and pos_embed. */
function embedding(g: Graph, cfg: GPT2Config, o: Gpt2GraphOptions): Value {
  const { hooks: h, weights: w, tokens } = o;
  const [b, p] = tokens.shape;
  const embed = h.hook("hook_embed", g.gather(w.get("embed.W_E"), tokens, 0)); // [b, p, d]
  const posRows = g.slice(w.get("pos_embed.W_pos"), [0], [p], [0]); // [p, d]
  const posEmbed = h.hook("hook_pos_embed", g.expand(posRows, [b, p, cfg.d_model]));
  return g.add(embed, posEmbed);
}

/**
 * Builds the forward pass up to the final LayerNorm and returns the residual stream at the end
 * (`[b, p, d]`: after ln_final when all blocks run, else the input of block stopAtLayer) and,
 * when all blocks run, the logits `[b, p, d_vocab]` as a lazily built value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import { HookPoints } from "../graph/hooks.ts";
 * import { Runtime } from "../graph/session.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { gpt2Config } from "./config.ts";
 * import { gpt2Forward, WeightInputs } from "./_gpt2_graph.ts";
 * import { expectedShapes } from "./weights.ts";
 * import { randomStateDict } from "./random_weights.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const g = new Graph();
 * const tokens = g.input("tokens", "int32", [1, 3]);
 * const hooks = new HookPoints(g, ["blocks.0.hook_mlp_out"]); // read one hook
 * const weights = new WeightInputs(g, expectedShapes(cfg, true));
 * const { logits } = gpt2Forward(g, cfg, { tokens, hooks, weights });
 * g.output("logits", logits!());
 * const sd = randomStateDict(cfg, 0);
 * const feeds = Object.fromEntries(weights.used().map((n) => [n, sd.get(n)!]));
 * const compiled = await new Runtime().compile(g);
 * const out = await compiled.run({ ...feeds, tokens: tensor(new Int32Array([1, 2, 3]), [1, 3]) });
 * out.logits.shape; // [1, 3, 10]
 * assert.deepEqual(out["blocks.0.hook_mlp_out"].shape, [1, 3, 8]);
 * // Stopping early gives the residual stream before block 1, and no logits.
 * const g2 = new Graph();
 * const early = gpt2Forward(g2, cfg, {
 *   tokens: g2.input("tokens", "int32", [1, 3]),
 *   hooks: new HookPoints(g2),
 *   weights: new WeightInputs(g2, expectedShapes(cfg, true)),
 *   stopAtLayer: 1,
 * });
 * assert.deepEqual(early.resid.shape, [1, 3, 8]);
 * assert.equal(early.logits, undefined);
 * ```
 */
export function gpt2Forward(
  g: Graph,
  cfg: GPT2Config,
  o: Gpt2GraphOptions,
): { resid: Value; logits?: () => Value; final?: Value } {
  const { hooks: h, weights: w, resumeAt } = o;
  const stop = o.stopAtLayer ?? cfg.n_layers;
  if (resumeAt && resumeAt.layer >= stop) {
    throw new RangeError(`resumeAt layer ${resumeAt.layer} is not below ${stop}`);
  }
  let resid = resumeAt ? mlpHalf(g, resumeAt, o) : embedding(g, cfg, o);
  for (let l = resumeAt ? resumeAt.layer + 1 : 0; l < stop; l++) resid = block(g, resid, cfg, o, l);
  if (stop < cfg.n_layers) return { resid };
  const final = layerNorm(g, resid, cfg, w, h, "ln_final");
  return {
    resid,
    final,
    logits: () => g.add(g.matmul(final, w.get("unembed.W_U")), w.get("unembed.b_U")),
  };
}

/**
 * Mean next-token cross-entropy from logits `[b, p, V]` and tokens `[b, p]`:
 * returns the per-token loss `[b, p-1]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import { Runtime } from "../graph/session.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { nextTokenLoss } from "./_gpt2_graph.ts";
 * const g = new Graph();
 * const logits = g.input("logits", "float32", [1, 3, 4]); // [b, p, V]
 * const tokens = g.input("tokens", "int32", [1, 3]);
 * const loss = nextTokenLoss(g, logits, tokens);
 * loss.shape; // [1, 2]: positions 0 and 1 predict tokens 1 and 2
 * g.output("loss", loss);
 * const compiled = await new Runtime().compile(g);
 * const out = await compiled.run({
 *   logits: tensor(new Float32Array(12), [1, 3, 4]), // uniform over 4 tokens
 *   tokens: tensor(new Int32Array([0, 1, 2]), [1, 3]),
 * });
 * out.loss.data; // Float32Array [1.386..., 1.386...]: ln 4 each
 * for (const x of out.loss.data as Float32Array) assert.ok(Math.abs(x - Math.log(4)) < 1e-6);
 * ```
 */
export function nextTokenLoss(g: Graph, logits: Value, tokens: Value): Value {
  const p = logits.shape[1];
  const lp = g.logSoftmax(g.slice(logits, [0], [p - 1], [1]), -1); // [b, p-1, V]
  const targets = g.unsqueeze(g.slice(tokens, [1], [p], [1]), [2]); // [b, p-1, 1]
  return g.squeeze(g.neg(g.gatherElements(lp, targets, 2)), [2]); // [b, p-1]
}

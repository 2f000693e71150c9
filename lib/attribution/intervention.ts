/**
 * Feature interventions, as circuit-tracer's `feature_intervention` and
 * `feature_intervention_generate`: set transcoder features to chosen values while the real
 * model runs, and see what the logits (and every transcoder's features) do.
 *
 * The real MLPs keep running; the transcoders are a side computation. A feature of layer l is
 * read from the layer's MLP input (the transcoder's `cfg.hook_name`, normally
 * `blocks.{l}.ln2.hook_normalized`), with position 0 (BOS) forced to 0. Setting feature f at
 * position p to `value` adds `(value - a) * W_dec[f]` to `blocks.{l}.hook_mlp_out` at p, where a
 * is its current activation: value 0 ablates the feature, 2a doubles it, a changes nothing.
 *
 * - **Live** (default): the current activations of each intervened layer are those of the
 *   patched run so far, so an edit upstream changes what a downstream intervention subtracts.
 * - **`constrainedLayers`**: in those layers the current activations are the clean ones, and the
 *   MLP outputs are frozen to their clean values plus the deltas, so their MLPs do not react to
 *   upstream edits. When every layer is constrained the LayerNorm scales
 *   (`ln1/ln2/ln_final.hook_scale`) are frozen to their clean values too.
 * - **`freezeAttention`** (default true): the attention patterns are the clean pass's.
 *
 * With all layers constrained and attention frozen the model is affine in the interventions:
 * the change of the logits (and of every feature's pre-activation, read with
 * `activations: "input"`) is the direct effect an attribution graph's edges predict.
 *
 * **How it runs and what it costs.** A patch is a tensor fed to the compiled graph, so a live
 * intervention that depends on the run's own activations is done layer by layer: one clean
 * pass (recording the hooks to freeze and every transcoder's input), then, in increasing layer
 * order, one partial pass through blocks `0..l` (`stopAtLayer`) for each intervened live layer l
 * other than the lowest intervened layer (which sees the clean run), with the deltas found so
 * far patched in, then one full patched pass. So interventions in one layer, or only in
 * constrained layers, cost 2 forward passes, and k intervened live layers above the lowest
 * cost at most k more partial ones; each pass that reads activations is followed by a
 * transcoder encode per layer read. Generation ({@linkcode featureInterventionGenerate}) costs
 * that for the prompt, then per generated token one full pass plus one partial pass per
 * intervened layer whose interventions reach generated positions, and one last full pass for
 * the returned logits and activations. There is no KV cache: every step reruns the whole
 * sequence, at the fixed width prompt + maxNewTokens so that one compiled graph serves every
 * step.
 *
 * @module
 */
import { Graph } from "../graph/builder.ts";
import type { CompiledGraph } from "../graph/session.ts";
import { BLOCK_HOOKS, hookLayer } from "../model/hook_names.ts";
import type { HookedModel, Patch } from "../model/hooked_model.ts";
import { type TokensLike, toTokenBatch } from "../model/tokens.ts";
import { topk } from "../tensor/ops.ts";
import { Rng } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { BOS_TOKEN_ID } from "../tokenizer/gpt2_tokenizer.ts";
import { type Transcoder, transcoderEncode } from "../transcoder/transcoder.ts";

/**
 * One feature set to a value: feature `feature` of the transcoder of `layer`, at one position or
 * at the positions `[start, end)` (`end` omitted: to the end of the sequence, and in
 * {@linkcode featureInterventionGenerate} on every generated token too). A negative position
 * (or start, or end) counts from the end of the prompt, as Python's indexing.
 *
 * @example
 * ```ts
 * import type { FeatureIntervention } from "./intervention.ts";
 * const ablate: FeatureIntervention = { layer: 2, pos: -1, feature: 815, value: 0 }; // last token
 * const set: FeatureIntervention = { layer: 1, pos: { start: 3, end: 6 }, feature: 7, value: 4.2 };
 * // Positions 5.. of the prompt, and every generated token:
 * const steer: FeatureIntervention = { layer: 0, pos: { start: 5 }, feature: 9, value: 3 };
 * [ablate, set, steer].length; // 3
 * ```
 */
export interface FeatureIntervention {
  layer: number;
  pos: number | { start: number; end?: number };
  feature: number;
  /** The activation the feature is given (0 ablates it). */
  value: number;
}

/** Options of {@linkcode featureIntervention}. */
export interface FeatureInterventionOptions {
  /** Replay the clean pass's attention patterns (default true). */
  freezeAttention?: boolean;
  /**
   * Layers whose MLP outputs are frozen to their clean values plus the deltas, the deltas taken
   * against the clean activations (default none: every layer is live). All layers: LayerNorm
   * scales are frozen too.
   */
  constrainedLayers?: readonly number[];
  /** Return ReLU outputs (default true) or pre-activations `(x - b_dec) W_enc + b_enc`. */
  applyActivationFunction?: boolean;
  /**
   * Which activations to return:
   * - `"applied"` (default): those the intervened model runs on. Live layers: the transcoder's
   *   encoding of the layer's MLP input in the patched run; constrained layers: the clean
   *   activations (their MLPs are frozen); in both, the intervened entries hold their values.
   * - `"input"`: the transcoder's encoding of every layer's MLP input in the patched run,
   *   constrained layers included and intervened entries not overwritten (circuit-tracer's
   *   activation cache). With all layers constrained, the change of a feature's pre-activation is
   *   the direct effect of the intervention on it.
   */
  activations?: "applied" | "input";
}

/** The result of {@linkcode featureIntervention}. */
export interface FeatureInterventionResult {
  /** `[1, T, d_vocab]`. */
  logits: Tensor<"float32">;
  /** Per layer `[T, d_sae]` (see `activations` in the options); undefined without a transcoder. */
  activations: (Tensor<"float32"> | undefined)[];
}

/** Options of {@linkcode featureInterventionGenerate}. */
export interface FeatureInterventionGenerateOptions extends FeatureInterventionOptions {
  /** Tokens to generate (default 20); prompt plus these must fit in n_ctx. */
  maxNewTokens?: number;
  /** 0 (default): greedy; else sampling from the top-k tokens at this temperature. */
  temperature?: number;
  /** Tokens sampled from when temperature > 0 (default 40). */
  topK?: number;
  /** Seed of the sampling (default 0); the same draws as `HookedModel.generate`. */
  seed?: number;
  /** Stop after generating `<|endoftext|>` (default false). */
  stopAtEos?: boolean;
}

/** The result of {@linkcode featureInterventionGenerate}. */
export interface FeatureInterventionGenerateResult {
  /** The generated text only (as `HookedModel.generate`). */
  text: string;
  /** Prompt and generated token ids: `[T_total]`. */
  tokens: Int32Array;
  /** `[T_total, d_vocab]` (2-D, as circuit-tracer): the logits at every position. */
  logits: Tensor<"float32">;
  /** Per layer `[T_total, d_sae]`; undefined without a transcoder. */
  activations: (Tensor<"float32"> | undefined)[];
}

/** An intervention with its positions resolved to `[start, end)` (end Infinity: open). */
interface Resolved {
  layer: number;
  start: number;
  end: number;
  feature: number;
  value: number;
}

/** What every pass of one call shares. */
interface Plan {
  model: HookedModel;
  transcoders: readonly (Transcoder | undefined)[];
  /** Layers with a transcoder. */
  tcLayers: number[];
  byLayer: Map<number, Resolved[]>;
  constrained: Set<number>;
  freezeAttention: boolean;
  freezeLn: boolean;
  applyActivationFunction: boolean;
  mode: "applied" | "input";
}

const f32 = (shape: readonly number[], data: Float32Array): Tensor<"float32"> => ({
  dtype: "float32",
  shape: [...shape],
  data,
});
const mlpOut = (l: number) => `blocks.${l}.hook_mlp_out`;
const LN_SCALES = (L: number) => [
  ...Array.from(
    { length: L },
    (_, l) => [`blocks.${l}.ln1.hook_scale`, `blocks.${l}.ln2.hook_scale`],
  )
    .flat(),
  "ln_final.hook_scale",
];

/**
 * Runs the model with features set to values (see the module doc for the semantics and the
 * cost): circuit-tracer's `feature_intervention`. Returns the logits `[1, T, d_vocab]` and per
 * layer the activations `[T, d_sae]`. A later intervention on the same (layer, position,
 * feature) overrides an earlier one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { featureIntervention } from "./intervention.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const prompt = "The cat sat on the mat."; // 8 tokens, BOS first
 * const clean = await featureIntervention(model, transcoders, prompt, []);
 * clean.logits.shape; // [1, 8, 50257]
 * clean.activations[1]!.shape; // [8, 2048]
 * // The strongest feature of layer 1 at the last position, ablated there:
 * const row = clean.activations[1]!.data.subarray(7 * 2048, 8 * 2048);
 * const f = row.indexOf(Math.max(...row));
 * const ablated = await featureIntervention(model, transcoders, prompt, [
 *   { layer: 1, pos: 7, feature: f, value: 0 },
 * ]);
 * assert.equal(ablated.activations[1]!.data[7 * 2048 + f], 0); // as applied
 * assert.notDeepEqual(ablated.logits.data, clean.logits.data);
 * // Setting it to its own activation changes nothing:
 * const same = await featureIntervention(model, transcoders, prompt, [
 *   { layer: 1, pos: 7, feature: f, value: row[f] },
 * ]);
 * assert.ok(same.logits.data.every((x, i) => Math.abs(x - clean.logits.data[i]) < 1e-4));
 * await assert.rejects(
 *   featureIntervention(model, [transcoders[0]], prompt, [
 *     { layer: 2, pos: 1, feature: 0, value: 0 },
 *   ]),
 *   /layer 2 has no transcoder \(transcoders at layers 0\)/,
 * );
 * ```
 */
export async function featureIntervention(
  model: HookedModel,
  transcoders: readonly (Transcoder | undefined)[],
  tokens: string | TokensLike,
  interventions: readonly FeatureIntervention[],
  options: FeatureInterventionOptions = {},
): Promise<FeatureInterventionResult> {
  const ids = promptIds(model, tokens);
  const plan = makePlan(model, transcoders, interventions, options, ids.length, ids.length);
  const run = await promptRun(plan, ids, false);
  return { logits: run.logits, activations: run.activations };
}

/**
 * Generates with features set to values: circuit-tracer's `feature_intervention_generate`.
 * The prompt is run as {@linkcode featureIntervention} runs it; then each new token is chosen
 * (greedily, or sampled as `HookedModel.generate` samples) from the last logits of a pass over
 * the whole sequence so far. Interventions with an open range (`{ start }`) apply to every
 * generated token too, with live current activations there, also in constrained layers (a
 * generated position has no clean value, so the activations returned there are live too).
 *
 * Freezing is what circuit-tracer's KV cache gives: with `freezeAttention` the prompt's block of
 * every pattern (its query rows) keeps its clean values while generated positions attend live;
 * in constrained layers the prompt's MLP outputs (and, all layers constrained, its LayerNorm
 * scales) stay frozen while generated positions run live plus the deltas. The prompt's block is
 * held by corrections added to `hook_attn_scores` (`log(clean pattern) - live scores`),
 * `hook_scale` and `hook_mlp_out`, measured on the prompt's run, so the prompt's logits equal
 * {@linkcode featureIntervention}'s to float rounding.
 *
 * Returns the new text, every token id, the logits `[T_total, d_vocab]` and per layer the
 * activations `[T_total, d_sae]` of the final sequence. Cost: see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { featureInterventionGenerate } from "./intervention.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const prompt = "Once upon a time"; // 5 tokens, BOS first
 * const plain = await featureInterventionGenerate(model, transcoders, prompt, [], {
 *   maxNewTokens: 4,
 * });
 * assert.equal(plain.text, await model.generate(prompt, { maxNewTokens: 4, greedy: true }));
 * plain.tokens.length; // 9
 * plain.logits.shape; // [9, 50257]
 * // Ablate layer 2's strongest feature at the prompt's last token and every generated one:
 * const row = plain.activations[2]!.data.subarray(4 * 2048, 5 * 2048);
 * const f = row.indexOf(Math.max(...row));
 * const steered = await featureInterventionGenerate(model, transcoders, prompt, [
 *   { layer: 2, pos: { start: 4 }, feature: f, value: 0 },
 * ], { maxNewTokens: 4 });
 * const acts = steered.activations[2]!; // [9, 2048]
 * assert.ok([4, 5, 6, 7, 8].every((p) => acts.data[p * 2048 + f] === 0));
 * ```
 */
export async function featureInterventionGenerate(
  model: HookedModel,
  transcoders: readonly (Transcoder | undefined)[],
  prompt: string | TokensLike,
  interventions: readonly FeatureIntervention[],
  options: FeatureInterventionGenerateOptions = {},
): Promise<FeatureInterventionGenerateResult> {
  const { maxNewTokens = 20, temperature = 0, topK = 40, seed = 0, stopAtEos = false } = options;
  const ids = promptIds(model, prompt);
  const P = ids.length;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new RangeError(`maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  }
  if (P + maxNewTokens > model.cfg.n_ctx) {
    throw new RangeError(
      `a prompt of ${P} tokens plus maxNewTokens ${maxNewTokens} exceeds n_ctx = ${model.cfg.n_ctx}`,
    );
  }
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature must be >= 0 (0: greedy), got ${temperature}`);
  }
  const plan = makePlan(model, transcoders, interventions, options, P, P + maxNewTokens);
  const first = await promptRun(plan, ids, maxNewTokens > 0);
  const V = model.cfg.d_vocab;
  if (maxNewTokens === 0) {
    return {
      text: "",
      tokens: ids,
      logits: f32([P, V], first.logits.data as Float32Array),
      activations: first.activations,
    };
  }
  const rng = new Rng(seed);
  const pick = (row: Float32Array) => sample(row, temperature, topK, rng);
  const seq = [...ids];
  const lastRow = (first.logits.data as Float32Array).subarray((P - 1) * V, P * V);
  seq.push(pick(lastRow));
  const stepper = new Stepper(plan, first, P + maxNewTokens);
  while (seq.length < P + maxNewTokens && !(stopAtEos && seq.at(-1) === BOS_TOKEN_ID)) {
    seq.push(pick(await stepper.nextLogits(seq)));
  }
  const final = await stepper.finalPass(seq);
  const all = Int32Array.from(seq);
  return {
    text: model.toString(all.subarray(P)),
    tokens: all,
    logits: final.logits,
    activations: final.activations,
  };
}

// ---- validation --------------------------------------------------------------------------

/** The prompt's ids (text: BOS first), one sequence of at most n_ctx tokens. */
function promptIds(model: HookedModel, tokens: string | TokensLike): Int32Array {
  const batch = typeof tokens === "string"
    ? model.toTokens(tokens)
    : toTokenBatch(tokens, model.cfg.d_vocab, Infinity);
  if (batch.shape[0] !== 1) {
    throw new RangeError(
      `interventions take one sequence, got a batch of ${batch.shape[0]} [${batch.shape}]`,
    );
  }
  if (batch.shape[1] > model.cfg.n_ctx) {
    throw new RangeError(
      `the prompt has ${batch.shape[1]} tokens, more than the model's n_ctx = ${model.cfg.n_ctx}`,
    );
  }
  return Int32Array.from(batch.data);
}

/** Validates the transcoders, interventions and options; `P` prompt tokens, up to `maxLen`. */
function makePlan(
  model: HookedModel,
  transcoders: readonly (Transcoder | undefined)[],
  interventions: readonly FeatureIntervention[],
  options: FeatureInterventionOptions,
  P: number,
  maxLen: number,
): Plan {
  const { n_layers: L, d_model: d } = model.cfg;
  const {
    freezeAttention = true,
    constrainedLayers,
    applyActivationFunction = true,
    activations = "applied",
  } = options;
  if (activations !== "applied" && activations !== "input") {
    throw new RangeError(`activations must be "applied" or "input", got "${activations}"`);
  }
  if (transcoders.length > L) {
    throw new RangeError(`${transcoders.length} transcoders for a model of ${L} layers`);
  }
  const tcLayers: number[] = [];
  const mlpIndex = BLOCK_HOOKS.indexOf("hook_mlp_out");
  transcoders.forEach((tc, l) => {
    if (!tc) return;
    const c = tc.cfg;
    const where = `transcoders[${l}]`;
    if (c.hook_layer !== l) {
      throw new RangeError(`${where} replaces the MLP of layer ${c.hook_layer}, not ${l}`);
    }
    if (c.d_in !== d || c.d_out !== d) {
      throw new RangeError(
        `${where} maps d_in ${c.d_in} to d_out ${c.d_out}; the model's d_model is ${d}`,
      );
    }
    const local = c.hook_name.replace(/^blocks\.\d+\./, "");
    const at = (BLOCK_HOOKS as readonly string[]).indexOf(local);
    if (hookLayer(c.hook_name) !== l || at < 0 || at >= mlpIndex) {
      throw new RangeError(
        `${where} reads "${c.hook_name}"; interventions need an input hook of block ${l} before its hook_mlp_out`,
      );
    }
    if (c.out_hook_name !== undefined && c.out_hook_name !== mlpOut(l)) {
      throw new RangeError(`${where} writes "${c.out_hook_name}", expected "${mlpOut(l)}"`);
    }
    tcLayers.push(l);
  });
  const byLayer = new Map<number, Resolved[]>();
  interventions.forEach((iv, i) => {
    const what = `intervention ${i}`;
    const { layer, feature, value, pos } = iv;
    if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
      throw new RangeError(`${what}: layer ${layer} is not a layer of the model (0..${L - 1})`);
    }
    const tc = transcoders[layer];
    if (!tc) {
      throw new RangeError(
        `${what}: layer ${layer} has no transcoder (transcoders at layers ${
          tcLayers.length ? tcLayers.join(", ") : "none"
        })`,
      );
    }
    if (!Number.isInteger(feature) || feature < 0 || feature >= tc.cfg.d_sae) {
      throw new RangeError(
        `${what}: feature ${feature} out of range for d_sae ${tc.cfg.d_sae} (layer ${layer})`,
      );
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new RangeError(`${what}: value must be a finite number, got ${value}`);
    }
    const limit = maxLen > P ? `${P} prompt tokens plus ${maxLen - P} new ones` : `${P} tokens`;
    const abs = (p: number) => (p < 0 ? p + P : p);
    let start: number, end: number;
    if (typeof pos === "number") {
      start = abs(pos);
      end = start + 1;
      if (!Number.isInteger(pos) || start < 0 || start >= maxLen) {
        throw new RangeError(`${what}: position ${pos} out of range for ${limit}`);
      }
    } else {
      start = abs(pos.start);
      end = pos.end === undefined ? Infinity : abs(pos.end);
      const ok = Number.isInteger(pos.start) &&
        (pos.end === undefined || Number.isInteger(pos.end));
      if (
        !ok || start < 0 || start >= maxLen || end <= start || (end !== Infinity && end > maxLen)
      ) {
        throw new RangeError(
          `${what}: positions { start: ${pos.start}, end: ${pos.end} } are empty or out of range for ${limit}`,
        );
      }
    }
    const list = byLayer.get(layer) ?? [];
    list.push({ layer, start, end, feature, value });
    byLayer.set(layer, list);
  });
  const constrained = new Set<number>();
  for (const l of constrainedLayers ?? []) {
    if (!Number.isInteger(l) || l < 0 || l >= L) {
      throw new RangeError(`constrainedLayers: ${l} is not a layer of the model (0..${L - 1})`);
    }
    constrained.add(l);
  }
  return {
    model,
    transcoders,
    tcLayers,
    byLayer,
    constrained,
    freezeAttention,
    freezeLn: constrained.size === L,
    applyActivationFunction,
    mode: activations,
  };
}

// ---- host pieces -------------------------------------------------------------------------

const encoders = new WeakMap<Transcoder, Map<number, Promise<CompiledGraph>>>();

/**
 * Pre-activations `(x - b_dec) W_enc + b_enc` `[n, d_sae]` of MLP inputs `[n, d_in]` (rows are
 * positions from 0), with row 0 (BOS) forced to 0.
 */
async function preActivations(tc: Transcoder, x: Float32Array, n: number): Promise<Float32Array> {
  const { d_in, d_sae } = tc.cfg;
  let byRows = encoders.get(tc);
  if (!byRows) encoders.set(tc, byRows = new Map());
  let compiled = byRows.get(n);
  if (!compiled) {
    const g = new Graph();
    const { hiddenPre } = transcoderEncode(g, g.input("x", "float32", [n, d_in]), {
      W_enc: g.input("W_enc", "float32", [d_in, d_sae]),
      b_enc: g.input("b_enc", "float32", [d_sae]),
      b_dec: g.input("b_dec", "float32", [d_in]),
    });
    g.output("pre", hiddenPre);
    const c = tc.runtime.compile(g);
    byRows.set(n, c);
    c.catch(() => byRows.delete(n));
    compiled = c;
  }
  const out = await (await compiled).run({
    x: f32([n, d_in], x.length === n * d_in ? x : x.slice(0, n * d_in)),
    W_enc: tc.W_enc,
    b_enc: tc.b_enc,
    b_dec: tc.b_dec,
  });
  const pre = (out.pre.data as Float32Array).slice();
  pre.fill(0, 0, d_sae);
  return pre;
}

/** The ReLU of a pre-activation (what a delta is taken against). */
const relu = (x: number) => (x > 0 ? x : 0);

/**
 * The entries `pos * d_sae + feature -> value` of a layer's interventions within `[from, to)`
 * (a later intervention overrides an earlier one).
 */
function targets(ivs: readonly Resolved[], dSae: number, from: number, to: number) {
  const out = new Map<number, number>();
  for (const iv of ivs) {
    for (let p = Math.max(iv.start, from); p < Math.min(iv.end, to); p++) {
      out.set(p * dSae + iv.feature, iv.value);
    }
  }
  return out;
}

/**
 * Adds `sum (value - relu(pre)) * W_dec[f]` at each intervened position in `[from, to)` to `out`
 * (`[rows, d_model]`), `pre` being the current pre-activations `[rows, d_sae]`.
 */
function addDeltas(
  out: Float32Array,
  tc: Transcoder,
  ivs: readonly Resolved[],
  pre: Float32Array,
  from: number,
  to: number,
): void {
  const { d_sae: s, d_out: d } = tc.cfg;
  const W = tc.W_dec.data;
  for (const [key, value] of targets(ivs, s, from, to)) {
    const p = Math.floor(key / s), f = key % s;
    const delta = value - relu(pre[key]);
    if (delta === 0) continue;
    for (let k = 0; k < d; k++) out[p * d + k] += delta * W[f * d + k];
  }
}

/** Patches restricted to the hooks a pass stopped before block `stop` computes. */
function restrict(patches: Record<string, Patch>, stop: number | undefined): Record<string, Patch> {
  if (stop === undefined) return patches;
  const out: Record<string, Patch> = {};
  for (const [name, patch] of Object.entries(patches)) {
    const l = hookLayer(name);
    if (l === undefined ? !name.startsWith("ln_final.") : l < stop) out[name] = patch;
  }
  return out;
}

/** The value of a layer's input hook in a pass with these patches, stopped after its block. */
async function readInput(
  plan: Plan,
  tokens: Int32Array,
  layer: number,
  patches: Record<string, Patch>,
): Promise<Float32Array> {
  const hook = plan.transcoders[layer]!.cfg.hook_name;
  const L = plan.model.cfg.n_layers;
  const stop = layer + 1 < L ? layer + 1 : undefined;
  const { cache } = await plan.model.forward(tokens, {
    names: [hook],
    patches: restrict(patches, stop),
    ...(stop === undefined ? {} : { stopAtLayer: stop }),
  });
  return cache.get(hook).data as Float32Array;
}

/**
 * The activations `[T, d_sae]` to return for a layer: `live` pre-activations (the patched run's
 * input), or in "applied" mode for a constrained layer the clean ones on the first `cleanRows`
 * rows; then the ReLU unless pre-activations are asked for; in "applied" mode the intervened
 * entries take their values.
 */
function returned(
  plan: Plan,
  layer: number,
  live: Float32Array,
  clean: Float32Array | undefined,
  cleanRows: number,
  T: number,
): Tensor<"float32"> {
  const s = plan.transcoders[layer]!.cfg.d_sae;
  const out = live.slice(0, T * s);
  const applied = plan.mode === "applied";
  if (applied && plan.constrained.has(layer) && clean) out.set(clean.subarray(0, cleanRows * s));
  if (plan.applyActivationFunction) { for (let i = 0; i < out.length; i++) out[i] = relu(out[i]); }
  if (applied) {
    for (const [key, value] of targets(plan.byLayer.get(layer) ?? [], s, 0, T)) out[key] = value;
  }
  return f32([T, s], out);
}

// ---- the prompt's run --------------------------------------------------------------------

/** Corrections that freeze the prompt's block in longer runs (`[H, P, P]`, `[P]`, `[P, d]`). */
interface Corrections {
  scores: Map<number, Float32Array>;
  scales: Map<string, Float32Array>;
  mlp: Map<number, Float32Array>;
}

interface PromptRun {
  P: number;
  logits: Tensor<"float32">;
  activations: (Tensor<"float32"> | undefined)[];
  /** Clean pre-activations `[P, d_sae]` per transcoder layer (those computed). */
  cleanPre: Map<number, Float32Array>;
  /** The deltas `[P, d_model]` added at each intervened layer's MLP output. */
  deltas: Map<number, Float32Array>;
  corrections?: Corrections;
}

/**
 * The clean pass, then the intervened layers in order, then the patched pass (module doc). With
 * `forGeneration`, also the corrections that keep the prompt's block frozen in longer runs.
 */
async function promptRun(plan: Plan, ids: Int32Array, forGeneration: boolean): Promise<PromptRun> {
  const { model, transcoders, tcLayers, constrained, freezeAttention, freezeLn } = plan;
  const { n_layers: L, d_model: d } = model.cfg;
  const P = ids.length;
  const layers = [...plan.byLayer.keys()]
    .filter((l) => plan.byLayer.get(l)!.some((iv) => iv.start < P))
    .sort((a, b) => a - b);
  const inputHook = (l: number) => transcoders[l]!.cfg.hook_name;
  const patterns = freezeAttention
    ? Array.from({ length: L }, (_, l) => `blocks.${l}.attn.hook_pattern`)
    : [];
  const scales = freezeLn ? LN_SCALES(L) : [];
  const frozenMlp = [...constrained].map(mlpOut);

  const clean = await model.runWithCache(ids, {
    names: [...patterns, ...scales, ...frozenMlp, ...tcLayers.map(inputHook)],
  });
  const cleanPre = new Map<number, Float32Array>();
  const cleanOf = async (l: number) => {
    let pre = cleanPre.get(l);
    if (!pre) {
      pre = await preActivations(transcoders[l]!, clean.cache.get(inputHook(l)).data, P);
      cleanPre.set(l, pre);
    }
    return pre;
  };

  const patches: Record<string, Patch> = {};
  for (const n of [...patterns, ...scales]) patches[n] = clean.cache.get(n);
  for (const l of constrained) patches[mlpOut(l)] = clean.cache.get(mlpOut(l));
  const deltas = new Map<number, Float32Array>();
  for (const l of layers) {
    const tc = transcoders[l]!;
    // The lowest intervened layer sees the clean run (freezes at clean values change nothing).
    const pre = constrained.has(l) || l === layers[0]
      ? await cleanOf(l)
      : await preActivations(tc, await readInput(plan, ids, l, patches), P);
    const delta = new Float32Array(P * d);
    addDeltas(delta, tc, plan.byLayer.get(l)!, pre, 0, P);
    deltas.set(l, delta);
    if (constrained.has(l)) {
      const base = clean.cache.get(mlpOut(l)).data as Float32Array;
      patches[mlpOut(l)] = f32([1, P, d], base.map((x, i) => x + delta[i]));
    } else {
      patches[mlpOut(l)] = { mode: "add", value: f32([1, P, d], delta) };
    }
  }

  const extra = forGeneration
    ? [
      ...(freezeAttention
        ? Array.from({ length: L }, (_, l) => `blocks.${l}.attn.hook_attn_scores`)
        : []),
      ...(freezeLn
        ? [
          ...Array.from(
            { length: L },
            (_, l) => [`blocks.${l}.hook_resid_pre`, `blocks.${l}.hook_resid_mid`],
          ).flat(),
          `blocks.${L - 1}.hook_resid_post`,
        ]
        : []),
      ...[...constrained].map((l) => `blocks.${l}.mlp.hook_post`),
    ]
    : [];
  const inputs = tcLayers.map(inputHook);
  const res = await model.forward(ids, {
    names: [...new Set([...inputs, ...extra])],
    patches,
    logits: "all",
  });
  const activations: (Tensor<"float32"> | undefined)[] = new Array(L).fill(undefined);
  for (const l of tcLayers) {
    const live = await preActivations(transcoders[l]!, res.cache.get(inputHook(l)).data, P);
    const needClean = plan.mode === "applied" && constrained.has(l);
    activations[l] = returned(plan, l, live, needClean ? await cleanOf(l) : undefined, P, P);
  }
  const run: PromptRun = { P, logits: res.logits!, activations, cleanPre, deltas };
  if (forGeneration) {
    run.corrections = corrections(plan, P, clean.cache, res.cache, patches);
    for (const l of tcLayers) if (constrained.has(l)) await cleanOf(l);
  }
  return run;
}

/**
 * What must be added, on the prompt's positions, to what a longer run computes there so that
 * they keep the prompt run's frozen values: `log(clean pattern) - live scores`, `clean scale -
 * live scale` (the live scale from the residual, on the host) and `frozen MLP output - live MLP
 * output` (the live one from `mlp.hook_post`, on the host).
 */
function corrections(
  plan: Plan,
  P: number,
  clean: { get(name: string): Tensor<"float32"> },
  run: { get(name: string): Tensor<"float32"> },
  patches: Record<string, Patch>,
): Corrections {
  const { model, freezeAttention, freezeLn, constrained } = plan;
  const { n_layers: L, d_model: d, layer_norm_eps: eps } = model.cfg;
  const out: Corrections = { scores: new Map(), scales: new Map(), mlp: new Map() };
  if (freezeAttention) {
    for (let l = 0; l < L; l++) {
      const p = clean.get(`blocks.${l}.attn.hook_pattern`).data;
      const s = run.get(`blocks.${l}.attn.hook_attn_scores`).data;
      const c = new Float32Array(p.length);
      for (let i = 0; i < c.length; i++) {
        // Masked entries stay -Infinity; an underflowed 0 gets a score that underflows again.
        if (Number.isFinite(s[i])) c[i] = (p[i] > 0 ? Math.log(p[i]) : -1e4) - s[i];
      }
      out.scores.set(l, c);
    }
  }
  if (freezeLn) {
    const liveScale = (x: Float32Array) => {
      const s = new Float32Array(P);
      for (let t = 0; t < P; t++) {
        const row = x.subarray(t * d, (t + 1) * d);
        let mean = 0;
        for (const v of row) mean += v;
        mean /= d;
        let sq = 0;
        for (const v of row) sq += (v - mean) ** 2;
        s[t] = Math.sqrt(sq / d + eps);
      }
      return s;
    };
    const inputs: [string, string][] = [];
    for (let l = 0; l < L; l++) {
      inputs.push([`blocks.${l}.ln1.hook_scale`, `blocks.${l}.hook_resid_pre`]);
      inputs.push([`blocks.${l}.ln2.hook_scale`, `blocks.${l}.hook_resid_mid`]);
    }
    inputs.push(["ln_final.hook_scale", `blocks.${L - 1}.hook_resid_post`]);
    for (const [scale, resid] of inputs) {
      const live = liveScale(run.get(resid).data);
      const target = clean.get(scale).data;
      out.scales.set(scale, live.map((v, t) => target[t] - v));
    }
  }
  for (const l of constrained) {
    const post = run.get(`blocks.${l}.mlp.hook_post`).data;
    const W = model.param(`blocks.${l}.mlp.W_out`).data, b = model.param(`blocks.${l}.mlp.b_out`);
    const m = W.length / d;
    const target = (patches[mlpOut(l)] as Tensor<"float32">).data;
    const c = new Float32Array(P * d);
    const acc = new Float64Array(d);
    for (let t = 0; t < P; t++) {
      acc.set(b.data);
      for (let j = 0; j < m; j++) {
        const x = post[t * m + j];
        if (x === 0) continue;
        for (let k = 0; k < d; k++) acc[k] += x * W[j * d + k];
      }
      for (let k = 0; k < d; k++) c[t * d + k] = target[t * d + k] - acc[k];
    }
    out.mlp.set(l, c);
  }
  return out;
}

// ---- generation --------------------------------------------------------------------------

/** The next token from a row of logits: greedy, or as `HookedModel.generate` samples. */
function sample(row: Float32Array, temperature: number, topK: number, rng: Rng): number {
  if (temperature === 0) return topk(row, 1)[0].index;
  const top = topk(row, Math.max(1, topK));
  const w = top.map((t) => Math.exp((t.value - top[0].value) / temperature));
  let u = rng.uniform() * w.reduce((a, x) => a + x, 0);
  for (let j = 0; j < top.length; j++) {
    u -= w[j];
    if (u <= 0) return top[j].index;
  }
  return top[top.length - 1].index;
}

/**
 * Runs sequences longer than the prompt at a fixed width W (padded after the last token; the
 * model is causal, so padding changes nothing before it): the prompt's block frozen by the
 * corrections, its deltas as in the prompt's run, deltas at generated positions recomputed live
 * layer by layer.
 */
class Stepper {
  readonly #plan: Plan;
  readonly #prompt: PromptRun;
  readonly #W: number;
  /** Patches that do not change between steps. */
  readonly #fixed: Record<string, Patch> = {};
  /** Per patched MLP output: its prompt rows `[W, d]` (generated rows 0). */
  readonly #mlpBase = new Map<number, Float32Array>();
  /** Intervened layers whose interventions reach generated positions, in order. */
  readonly #live: number[];

  constructor(plan: Plan, prompt: PromptRun, width: number) {
    this.#plan = plan;
    this.#prompt = prompt;
    this.#W = width;
    const { n_layers: L, d_model: d, n_heads: H } = plan.model.cfg;
    const P = prompt.P, W = width, c = prompt.corrections!;
    for (const [l, corr] of c.scores) {
      const x = new Float32Array(H * W * W);
      for (let h = 0; h < H; h++) {
        for (let q = 0; q < P; q++) {
          x.set(corr.subarray((h * P + q) * P, (h * P + q + 1) * P), (h * W + q) * W);
        }
      }
      this.#fixed[`blocks.${l}.attn.hook_attn_scores`] = {
        mode: "add",
        value: f32([1, H, W, W], x),
      };
    }
    for (const [name, corr] of c.scales) {
      const x = new Float32Array(W);
      x.set(corr);
      this.#fixed[name] = { mode: "add", value: f32([1, W, 1], x) };
    }
    for (let l = 0; l < L; l++) {
      const rows = plan.constrained.has(l) ? c.mlp.get(l) : prompt.deltas.get(l);
      if (!rows && !plan.byLayer.has(l)) continue;
      const x = new Float32Array(W * d);
      if (rows) x.set(rows);
      this.#mlpBase.set(l, x);
    }
    this.#live = [...plan.byLayer.keys()]
      .filter((l) => plan.byLayer.get(l)!.some((iv) => iv.end > P))
      .sort((a, b) => a - b);
  }

  /** Every patch of a pass over `seq` (length T <= W), the live deltas computed in order. */
  async #patches(tokens: Int32Array, T: number): Promise<Record<string, Patch>> {
    const plan = this.#plan, P = this.#prompt.P, W = this.#W, d = plan.model.cfg.d_model;
    const mlp = new Map([...this.#mlpBase].map(([l, x]) => [l, x.slice()]));
    // Fresh tensor objects on every pass: the runtime caches fed tensors by identity.
    const patches = () => {
      const out: Record<string, Patch> = { ...this.#fixed };
      for (const [l, x] of mlp) out[mlpOut(l)] = { mode: "add", value: f32([1, W, d], x) };
      return out;
    };
    for (const l of this.#live) {
      const ivs = plan.byLayer.get(l)!;
      if (!ivs.some((iv) => iv.end > P && iv.start < T)) continue;
      const tc = plan.transcoders[l]!;
      const pre = await preActivations(tc, await readInput(plan, tokens, l, patches()), W);
      addDeltas(mlp.get(l)!, tc, ivs, pre, P, T);
    }
    return patches();
  }

  #padded(seq: readonly number[]): Int32Array {
    const tokens = new Int32Array(this.#W);
    tokens.set(seq);
    return tokens;
  }

  /** The logits `[d_vocab]` at the last position of `seq`. */
  async nextLogits(seq: readonly number[]): Promise<Float32Array> {
    const tokens = this.#padded(seq);
    const { logits } = await this.#plan.model.forward(tokens, {
      patches: await this.#patches(tokens, seq.length),
      logits: "at",
      logitPositions: Int32Array.of(seq.length - 1),
    });
    return logits!.data as Float32Array;
  }

  /** The logits `[T, d_vocab]` and activations `[T, d_sae]` of the whole sequence. */
  async finalPass(
    seq: readonly number[],
  ): Promise<{ logits: Tensor<"float32">; activations: (Tensor<"float32"> | undefined)[] }> {
    const plan = this.#plan, W = this.#W, T = seq.length, V = plan.model.cfg.d_vocab;
    const tokens = this.#padded(seq);
    const inputs = plan.tcLayers.map((l) => plan.transcoders[l]!.cfg.hook_name);
    const res = await plan.model.forward(tokens, {
      names: inputs,
      patches: await this.#patches(tokens, T),
      logits: "all",
    });
    const activations: (Tensor<"float32"> | undefined)[] = new Array(plan.model.cfg.n_layers)
      .fill(undefined);
    for (const l of plan.tcLayers) {
      const tc = plan.transcoders[l]!;
      const live = await preActivations(tc, res.cache.get(tc.cfg.hook_name).data, W);
      activations[l] = returned(plan, l, live, this.#prompt.cleanPre.get(l), this.#prompt.P, T);
    }
    const logits = (res.logits!.data as Float32Array).slice(0, T * V);
    return { logits: f32([T, V], logits), activations };
  }
}

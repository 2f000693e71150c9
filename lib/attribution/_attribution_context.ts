/**
 * One prompt prepared for attribution: the clean pass (frozen attention patterns, LayerNorm
 * scales, MLP outputs), every transcoder's active features and error vectors, the source
 * vectors of every node, and batched row computation through the reverse passes of
 * lib/attribution/_reverse_pass.ts.
 *
 * Columns of a row (the sources), for F active features, L layers and T positions:
 * `[F features (active order) | L*T errors (l*T + p) | T tokens | extra]`, where `extra` are
 * the caller's own columns (the logits of a graph, always zero).
 *
 * @module
 */
import type { ActivationCache } from "../model/activation_cache.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import { singleSequence } from "../model/hooked_model.ts";
import type { TokensLike } from "../model/tokens.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { BOS_TOKEN_ID } from "../tokenizer/gpt2_tokenizer.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import {
  chunkPositionsInput,
  compiledReversePass,
  edgesOutput,
  frozenHookShapes,
  type ReverseShape,
  SEED_INPUT,
  sourcesInput,
  TOKENS_INPUT,
} from "./_reverse_pass.ts";

/** A row to compute: a read vector at a hook of one layer and position, into row `row`. */
export interface RowTask {
  /** The layer read (`n_layers`: the final residual). */
  layer: number;
  /** The hook read (a transcoder's input hook, `blocks.{l}.ln1.hook_normalized`, ...). */
  readHook: string;
  pos: number;
  /** `[d_model]` */
  vector: Float32Array;
  row: number;
}

/** Options of `AttributionContext.create`. */
export interface AttributionContextOptions {
  /** Targets per reverse pass (default 64). */
  batchSize?: number;
  /**
   * Prompt prefixes a batch may run on, in equal steps (1: the whole prompt always). Default 16
   * for models with d_model of at least 256, whose passes cost their matmuls (GPT-2 small: 48 s
   * against 56 s for one prefix); 1 below, where a pass costs its operators' overhead more than
   * its FLOPs and fewer distinct graphs run faster (the tiny model: 3.3 s against 5 s).
   */
  positionBuckets?: number;
}

const f32 = (t: Tensor) => t.data as Float32Array;

/** Source vectors per chunk at most (a position with more has several chunks). */
const CHUNK = 32;

/**
 * One source slot's vectors in chunks: chunk c belongs to position `positions[c]`, chunks of
 * position p are `chunkStart[p] .. chunkStart[p + 1]`; `vectors` `[chunks, d, width]`, their
 * columns `cols` `[chunks, width]` (-1: padding).
 */
interface SourceSlot {
  width: number;
  chunkStart: Int32Array;
  vectors: Float32Array;
  cols: Int32Array;
  positions: Int32Array;
}

/** The prompt as tokens with BOS first (`[T]`), checked. */
export function promptTokens(model: HookedModel, prompt: string | TokensLike): Int32Array {
  const bos = model.cfg.d_vocab > BOS_TOKEN_ID ? BOS_TOKEN_ID : undefined; // GPT-2's vocabulary
  let ids: Int32Array;
  if (typeof prompt === "string") {
    ids = Int32Array.from(singleSequence(model.toTokens(prompt)));
  } else {
    ids = Int32Array.from(singleSequence(prompt as ArrayLike<number>));
    if (bos !== undefined && ids[0] !== bos) ids = Int32Array.of(bos, ...ids);
  }
  const { n_ctx, d_vocab } = model.cfg;
  if (ids.length < 2) {
    throw new RangeError("the prompt needs at least one token after BOS to have features");
  }
  if (ids.length > n_ctx) {
    throw new RangeError(
      `the prompt has ${ids.length} tokens (BOS included), more than the model's context of ${n_ctx}`,
    );
  }
  const bad = ids.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= d_vocab);
  if (bad >= 0) throw new RangeError(`token ${ids[bad]} at ${bad} is out of range [0, ${d_vocab})`);
  return ids;
}

/** The transcoders of every layer, checked against the model. */
export function checkTranscoders(
  model: HookedModel,
  transcoders: readonly (Transcoder | undefined)[],
): Transcoder[] {
  const { n_layers: L, d_model: d } = model.cfg;
  const missing = Array.from({ length: L }, (_, l) => l).filter((l) => !transcoders[l]);
  if (missing.length) {
    throw new RangeError(
      `attribution needs a transcoder at every layer; missing: ${missing.join(", ")}`,
    );
  }
  return transcoders.slice(0, L).map((tc, l) => {
    const t = tc!;
    if (t.kind !== "transcoder") {
      throw new RangeError(
        `attribution graphs need transcoders; transcoders[${l}] is an SAE on ${t.cfg.hook_name}`,
      );
    }
    if (t.layer !== l || t.cfg.out_hook_name !== `blocks.${l}.hook_mlp_out`) {
      throw new RangeError(
        `transcoders[${l}] replaces ${t.cfg.out_hook_name} (layer ${t.layer}); expected blocks.${l}.hook_mlp_out`,
      );
    }
    if (t.cfg.d_in !== d || t.cfg.d_out !== d) {
      throw new RangeError(
        `transcoders[${l}] maps ${t.cfg.d_in} -> ${t.cfg.d_out}, but the model's d_model is ${d}`,
      );
    }
    return t;
  });
}

/**
 * A prompt prepared for attribution (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { AttributionContext } from "./_attribution_context.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const ctx = await AttributionContext.create(model, transcoders, "The cat sat");
 * ctx.nPos; // 4 (BOS first)
 * assert.equal(ctx.activeFeatures.length, 3 * ctx.nFeatures);
 * ```
 */
export class AttributionContext {
  readonly model: HookedModel;
  readonly transcoders: Transcoder[];
  /** `[T]`, BOS first. */
  readonly tokens: Int32Array;
  /** The clean pass's frozen hooks and transcoder inputs. */
  readonly cache: ActivationCache;
  /** The clean logits of the last position `[d_vocab]`. */
  readonly lastLogits: Float32Array;
  /** Active features (BOS excluded) as (layer, pos, feature) triples: `[F, 3]` flattened. */
  readonly activeFeatures: Int32Array;
  /** Their activations `[F]`. */
  readonly activations: Float32Array;
  /** Per layer and position, the active features' indices. */
  readonly activeAt: readonly (readonly number[])[][];
  /** Per layer, the error vectors `[T, d]` (MLP output minus reconstruction; zero at BOS). */
  readonly errors: readonly Float32Array[];
  /** Floating-point operations of the reverse passes run so far. */
  flops = 0;
  /** Reverse passes run so far. */
  passes = 0;
  /** Seconds spent in onnxruntime running them. */
  runSeconds = 0;
  readonly #batch: number;
  readonly #step: number;
  /** Per source slot (embedding, then layers): its chunks of source vectors. */
  readonly #slots: SourceSlot[];
  readonly #prefixFeeds = new Map<number, Record<string, Tensor>>();

  private constructor(
    model: HookedModel,
    transcoders: Transcoder[],
    tokens: Int32Array,
    cache: ActivationCache,
    lastLogits: Float32Array,
    features: { triples: number[]; acts: number[]; activeAt: number[][][]; errors: Float32Array[] },
    { batchSize = 64, positionBuckets = model.cfg.d_model >= 256 ? 16 : 1 }:
      AttributionContextOptions,
  ) {
    for (const [name, v] of Object.entries({ batchSize, positionBuckets })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${v}`);
      }
    }
    this.model = model;
    this.transcoders = transcoders;
    this.tokens = tokens;
    this.cache = cache;
    this.lastLogits = lastLogits;
    this.activeFeatures = Int32Array.from(features.triples);
    this.activations = Float32Array.from(features.acts);
    this.activeAt = features.activeAt;
    this.errors = features.errors;
    this.#batch = batchSize;
    this.#step = Math.max(1, Math.ceil(tokens.length / positionBuckets));
    const { n_layers: L, d_model: d } = model.cfg;
    const T = tokens.length;
    // Slot 0: token embeddings; slot l + 1: layer l's error, then its features. Each slot's
    // vectors are cut into chunks of at most CHUNK per position, in position order.
    this.#slots = [];
    const WE = f32(model.W_E);
    for (let s = 0; s <= L; s++) {
      const perPos: { col: number; v: ArrayLike<number>; scale: number }[][] = [];
      for (let p = 0; p < T; p++) {
        if (s === 0) {
          perPos.push([{
            col: this.tokenColumn(p),
            v: WE.subarray(tokens[p] * d, (tokens[p] + 1) * d),
            scale: 1,
          }]);
          continue;
        }
        const l = s - 1;
        if (p === 0) {
          perPos.push([]); // no error or features at BOS
          continue;
        }
        const Wdec = f32(transcoders[l].W_dec);
        perPos.push([
          { col: this.errorColumn(l, p), v: this.errors[l].subarray(p * d, (p + 1) * d), scale: 1 },
          ...this.activeAt[l][p].map((k) => {
            const f = features.triples[3 * k + 2];
            return { col: k, v: Wdec.subarray(f * d, (f + 1) * d), scale: features.acts[k] };
          }),
        ]);
      }
      const w = Math.min(CHUNK, Math.max(1, ...perPos.map((x) => x.length)));
      const chunkStart = new Int32Array(T + 1);
      for (let p = 0; p < T; p++) {
        chunkStart[p + 1] = chunkStart[p] + Math.ceil(perPos[p].length / w);
      }
      const n = chunkStart[T];
      const vectors = new Float32Array(n * d * w), cols = new Int32Array(n * w).fill(-1);
      const positions = new Int32Array(n);
      for (let p = 0; p < T; p++) {
        perPos[p].forEach(({ col, v, scale }, i) => {
          const c = chunkStart[p] + Math.floor(i / w), j = i % w;
          cols[c * w + j] = col;
          for (let x = 0; x < d; x++) vectors[(c * d + x) * w + j] = v[x] * scale;
        });
        positions.fill(p, chunkStart[p], chunkStart[p + 1]);
      }
      this.#slots.push({ width: w, chunkStart, vectors, cols, positions });
    }
  }

  /** Runs the clean pass and prepares the prompt. */
  static async create(
    model: HookedModel,
    transcoders: readonly (Transcoder | undefined)[],
    prompt: string | TokensLike,
    options: AttributionContextOptions = {},
  ): Promise<AttributionContext> {
    const { n_layers: L, d_model: d, d_vocab: V } = model.cfg;
    const tcs = checkTranscoders(model, transcoders);
    const tokens = promptTokens(model, prompt);
    const T = tokens.length;
    const frozen = [...frozenHookShapes(model, L, T).keys()].filter((n) => n !== "hook_embed");
    const names = [...new Set([...frozen, ...tcs.map((tc) => tc.cfg.hook_name)])];
    for (let l = 0; l < L; l++) names.push(`blocks.${l}.ln1.hook_normalized`);
    const { logits, cache } = await model.runWithCache(tokens, { names: [...new Set(names)] });
    const lastLogits = f32(logits!).slice((T - 1) * V, T * V);
    const triples: number[] = [], acts: number[] = [];
    const activeAt: number[][][] = [];
    const errors: Float32Array[] = [];
    for (let l = 0; l < L; l++) {
      const tc = tcs[l], dSae = tc.cfg.d_sae;
      const z = f32(await tc.encode(cache.get(tc.cfg.hook_name))); // [1, T, d_sae]
      z.fill(0, 0, dSae); // no features at BOS
      const recon = f32(await tc.decode({ dtype: "float32", shape: [1, T, dSae], data: z }));
      const mlpOut = f32(cache.get(`blocks.${l}.hook_mlp_out`));
      const e = new Float32Array(T * d);
      for (let i = d; i < T * d; i++) e[i] = mlpOut[i] - recon[i];
      errors.push(e);
      activeAt.push([]);
      for (let p = 0; p < T; p++) {
        const here: number[] = [];
        for (let f = 0; f < dSae; f++) {
          const a = z[p * dSae + f];
          if (a !== 0) {
            here.push(acts.length);
            triples.push(l, p, f);
            acts.push(a);
          }
        }
        activeAt[l].push(here);
      }
    }
    return new AttributionContext(
      model,
      tcs,
      tokens,
      cache,
      lastLogits,
      { triples, acts, activeAt, errors },
      options,
    );
  }

  /** Positions T. */
  get nPos(): number {
    return this.tokens.length;
  }
  /** Active features F. */
  get nFeatures(): number {
    return this.activations.length;
  }
  /** Columns before the caller's extra ones: F + L*T + T. */
  get nSourceColumns(): number {
    return this.nFeatures + (this.model.cfg.n_layers + 1) * this.nPos;
  }
  /** The column of the error node at (layer, pos). */
  errorColumn(layer: number, pos: number): number {
    return this.nFeatures + layer * this.nPos + pos;
  }
  /** The column of the token node at pos. */
  tokenColumn(pos: number): number {
    return this.nFeatures + this.model.cfg.n_layers * this.nPos + pos;
  }
  /** The encoder column `[d_model]` of active feature k (its read vector). */
  encoderColumn(k: number): Float32Array {
    const l = this.activeFeatures[3 * k], f = this.activeFeatures[3 * k + 2];
    const tc = this.transcoders[l], { d_in, d_sae } = tc.cfg;
    const W = f32(tc.W_enc), v = new Float32Array(d_in);
    for (let i = 0; i < d_in; i++) v[i] = W[i * d_sae + f];
    return v;
  }
  /** The row task of active feature k's pre-activation, into `row`. */
  featureTask(k: number, row: number): RowTask {
    const l = this.activeFeatures[3 * k];
    return {
      layer: l,
      readHook: this.transcoders[l].cfg.hook_name,
      pos: this.activeFeatures[3 * k + 1],
      vector: this.encoderColumn(k),
      row,
    };
  }
  /** The hook the targets of a layer read by default (`n_layers`: after ln_final). */
  readHookOf(layer: number): string {
    return layer < this.model.cfg.n_layers
      ? this.transcoders[layer].cfg.hook_name
      : "ln_final.hook_normalized";
  }

  /**
   * Computes rows into `rows` (`[R, C]` row-major, C >= nSourceColumns): grouped by read hook,
   * sorted by position, in batches. Entries of a row that no source reaches are left as they
   * are (zero in a fresh matrix).
   */
  async computeRows(
    tasks: readonly RowTask[],
    rows: Float32Array,
    C: number,
    onBatch?: (done: number) => void,
  ): Promise<void> {
    const groups = new Map<string, RowTask[]>();
    for (const t of tasks) {
      const key = `${t.layer}\u0000${t.readHook}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(t);
    }
    let done = 0;
    const B = this.#batch;
    for (const list of [...groups.values()].sort((a, b) => a[0].layer - b[0].layer)) {
      list.sort((a, b) => a.pos - b.pos);
      for (let i = 0; i < list.length; i += B) {
        const batch = list.slice(i, i + B);
        await this.#runBatch(batch, rows, C);
        done += batch.length;
        onBatch?.(done);
      }
    }
  }

  async #runBatch(batch: RowTask[], rows: Float32Array, C: number): Promise<void> {
    const { model } = this;
    const { d_model: d, n_heads: h, d_head: dh } = model.cfg;
    const B = this.#batch, T = this.nPos, { layer, readHook } = batch[0];
    const maxPos = Math.max(...batch.map((t) => t.pos));
    const Tp = Math.min(T, Math.ceil((maxPos + 1) / this.#step) * this.#step);
    const shape: ReverseShape = {
      layer,
      readHook,
      positions: Tp,
      batch: B,
      sourceChunks: this.#slots.slice(0, layer + 1).map((s) =>
        [s.chunkStart[Tp], s.width] as const
      ),
    };
    const compiled = await compiledReversePass(model, shape);
    const seed = new Float32Array(B * Tp * d);
    batch.forEach((t, b) => seed.set(t.vector, (b * Tp + t.pos) * d));
    const frozen = this.#frozenFeeds(Tp);
    const feeds: Record<string, Tensor> = {
      [SEED_INPUT]: { dtype: "float32", shape: [B, Tp, d], data: seed },
    };
    for (const name of compiled.inputs.keys()) {
      if (name !== SEED_INPUT) feeds[name] = frozen[name] ?? model.weights.get(name)!;
    }
    const tRun = performance.now();
    const out = await compiled.run(feeds);
    this.runSeconds += (performance.now() - tRun) / 1000;
    this.passes++;
    // Below each layer read: the output and value projections (4 B T' d^2), the pattern's mixing
    // (2 B h T'^2 d_head); then each slot's edge products (2 B T' d w).
    const below = readHook.includes(".ln1.") ? layer : layer + (layer < model.cfg.n_layers ? 1 : 0);
    this.flops += below * (4 * B * Tp * d * d + 2 * B * h * Tp * Tp * dh);
    for (let s = 0; s <= layer; s++) {
      const { width: w, cols, chunkStart } = this.#slots[s];
      this.flops += 2 * B * chunkStart[Tp] * d * w;
      const e = f32(out[edgesOutput(s)]); // [chunks, B, w]
      batch.forEach((t, b) => {
        const row = rows.subarray(t.row * C, (t.row + 1) * C);
        for (let c = 0, end = chunkStart[t.pos + 1]; c < end; c++) {
          const base = (c * B + b) * w;
          for (let j = 0; j < w; j++) {
            const col = cols[c * w + j];
            if (col >= 0) row[col] = e[base + j];
          }
        }
      });
    }
  }

  /** The frozen hooks, source vectors and tokens for a prompt prefix of Tp positions. */
  #frozenFeeds(Tp: number): Record<string, Tensor> {
    let feeds = this.#prefixFeeds.get(Tp);
    if (feeds) return feeds;
    const { cfg } = this.model;
    const T = this.nPos, d = cfg.d_model;
    feeds = {};
    for (const [name, shape] of frozenHookShapes(this.model, cfg.n_layers, Tp)) {
      const key = `patch:${name}`;
      if (name === "hook_embed") {
        feeds[key] = { dtype: "float32", shape, data: new Float32Array(Tp * d) }; // unused values
      } else if (name.endsWith("hook_pattern")) {
        const full = f32(this.cache.get(name)), h = cfg.n_heads; // [1, h, T, T]
        const out = new Float32Array(h * Tp * Tp);
        for (let i = 0; i < h; i++) {
          for (let q = 0; q < Tp; q++) {
            out.set(full.subarray((i * T + q) * T, (i * T + q) * T + Tp), (i * Tp + q) * Tp);
          }
        }
        feeds[key] = { dtype: "float32", shape, data: out };
      } else {
        // Scales [1, T, 1] and MLP outputs [1, T, d]: the prefix is a view.
        const full = f32(this.cache.get(name)), per = full.length / T;
        feeds[key] = { dtype: "float32", shape, data: full.subarray(0, Tp * per) };
      }
    }
    this.#slots.forEach(({ width: w, chunkStart, vectors, positions }, s) => {
      const n = chunkStart[Tp];
      feeds![sourcesInput(s)] = {
        dtype: "float32",
        shape: [n, d, w],
        data: vectors.subarray(0, n * d * w),
      };
      feeds![chunkPositionsInput(s)] = {
        dtype: "int32",
        shape: [n],
        data: positions.subarray(0, n),
      };
    });
    const B = this.#batch;
    feeds[TOKENS_INPUT] = { dtype: "int32", shape: [B, Tp], data: new Int32Array(B * Tp) };
    this.#prefixFeeds.set(Tp, feeds);
    return feeds;
  }
}

/**
 * Paired (input, target) activations for transcoder training, the reference's way
 * (`activations_store.py`): the model runs on packed token rows with the input and target hooks
 * cached (stopping after the layer), activations are flattened over (row, position), and a
 * buffer of `nBatchesInBuffer` store batches is kept half full:
 *
 * 1. At the start, fill the storage half: `nBatchesInBuffer / 2` store batches.
 * 2. To refill, run another half, concatenate it with the storage, shuffle input and target
 *    rows jointly (one permutation), keep the first half as the new storage and serve the
 *    second half in training batches (a final partial batch is dropped: the step graph has a
 *    static batch size).
 *
 * @module
 */
import type { HookedModel } from "../model/hooked_model.ts";
import { Rng } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Options of the store. */
export interface ActivationStoreOptions {
  /** Input hook, e.g. `blocks.2.ln2.hook_normalized`. */
  inHook: string;
  /** Target hook, e.g. `blocks.2.hook_mlp_out`. */
  outHook: string;
  /** The layer to stop after (the hooks' layer). */
  layer: number;
  /** Token rows per model run (the reference's store_batch_size). */
  storeBatchSize: number;
  /** Store batches in a full buffer (the reference's n_batches_in_buffer). */
  nBatchesInBuffer: number;
  /** Activations per training batch. */
  trainBatchSize: number;
  seed: number;
  /** The row to start from (to resume); rows wrap around. */
  startRow?: number;
}

/** A training batch: inputs `[B, d_in]` and targets `[B, d_out]`. */
export interface ActivationBatch {
  x: Tensor<"float32">;
  y: Tensor<"float32">;
}

/**
 * Serves shuffled paired activations from a model and token rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { ActivationStore } from "./activation_store.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const rows = tensor(Int32Array.from({ length: 16 }, (_, i) => i % 10), [4, 4]); // 4 rows of 4 tokens
 * const store = new ActivationStore(model, rows, {
 *   inHook: "blocks.0.ln2.hook_normalized",
 *   outHook: "blocks.0.hook_mlp_out",
 *   layer: 0,
 *   storeBatchSize: 2, // 2 rows = 8 activations per model run
 *   nBatchesInBuffer: 2,
 *   trainBatchSize: 4,
 *   seed: 0,
 * });
 * const { x, y } = await store.nextBatch();
 * x.shape; // [4, 8]
 * y.shape; // [4, 8]
 * assert.equal(store.cursor, 0); // rows 0-1 filled the storage, rows 2-3 the served half
 * ```
 */
export class ActivationStore {
  readonly #model: HookedModel;
  readonly #rows: Tensor<"int32">;
  readonly #o: ActivationStoreOptions;
  readonly #rng: Rng;
  #cursor: number;
  #storageX?: Float32Array;
  #storageY?: Float32Array;
  #serveX = new Float32Array(0);
  #serveY = new Float32Array(0);
  #served = 0;
  readonly dIn: number;
  readonly dOut: number;

  constructor(model: HookedModel, rows: Tensor<"int32">, o: ActivationStoreOptions) {
    if (rows.shape[0] < o.storeBatchSize) {
      throw new RangeError(
        `the corpus has ${rows.shape[0]} rows, fewer than one store batch of ${o.storeBatchSize}`,
      );
    }
    if (o.nBatchesInBuffer < 2 || o.nBatchesInBuffer % 2 !== 0) {
      throw new RangeError(
        `nBatchesInBuffer must be an even number >= 2, got ${o.nBatchesInBuffer}`,
      );
    }
    const halfTokens = (o.nBatchesInBuffer / 2) * o.storeBatchSize * rows.shape[1];
    if (halfTokens < o.trainBatchSize) {
      throw new RangeError(
        `half a buffer holds ${halfTokens} activations, fewer than one training batch of ${o.trainBatchSize}`,
      );
    }
    this.#model = model;
    this.#rows = rows;
    this.#o = o;
    this.#rng = new Rng(o.seed);
    this.#cursor = (o.startRow ?? 0) % rows.shape[0];
    this.dIn = model.cfg.d_model;
    this.dOut = model.cfg.d_model;
  }

  /** The next token row to be read (for checkpoints). */
  get cursor(): number {
    return this.#cursor;
  }

  /** Runs the model over `n` store batches: flattened activations `[n * store * ctx, d]`. */
  async #getBuffer(n: number): Promise<{ x: Float32Array; y: Float32Array }> {
    const [nRows, ctx] = this.#rows.shape;
    const per = this.#o.storeBatchSize * ctx;
    const x = new Float32Array(n * per * this.dIn), y = new Float32Array(n * per * this.dOut);
    for (let i = 0; i < n; i++) {
      const tokens = new Int32Array(this.#o.storeBatchSize * ctx);
      for (let r = 0; r < this.#o.storeBatchSize; r++) {
        const row = this.#cursor;
        this.#cursor = (this.#cursor + 1) % nRows;
        tokens.set(this.#rows.data.subarray(row * ctx, (row + 1) * ctx), r * ctx);
      }
      const { cache } = await this.#model.runWithCache(
        { dtype: "int32", shape: [this.#o.storeBatchSize, ctx], data: tokens },
        { names: [this.#o.inHook, this.#o.outHook], stopAtLayer: this.#o.layer + 1 },
      );
      x.set(cache.get(this.#o.inHook).data, i * per * this.dIn);
      y.set(cache.get(this.#o.outHook).data, i * per * this.dOut);
    }
    return { x, y };
  }

  /** The current storage half (for initialising b_dec and b_dec_out to its means). */
  async storage(): Promise<{ x: Float32Array; y: Float32Array }> {
    if (!this.#storageX) {
      const half = await this.#getBuffer(this.#o.nBatchesInBuffer / 2);
      this.#storageX = half.x;
      this.#storageY = half.y;
    }
    return { x: this.#storageX, y: this.#storageY! };
  }

  async #refill(): Promise<void> {
    const storage = await this.storage();
    const fresh = await this.#getBuffer(this.#o.nBatchesInBuffer / 2);
    const n = (storage.x.length + fresh.x.length) / this.dIn;
    const perm = this.#rng.permutation(n);
    const half = storage.x.length / this.dIn;
    const pick = (a: Float32Array, b: Float32Array, d: number, from: number, to: number) => {
      const out = new Float32Array((to - from) * d);
      for (let i = from; i < to; i++) {
        const k = perm[i];
        const src = k < half
          ? a.subarray(k * d, (k + 1) * d)
          : b.subarray((k - half) * d, (k - half + 1) * d);
        out.set(src, (i - from) * d);
      }
      return out;
    };
    this.#storageX = pick(storage.x, fresh.x, this.dIn, 0, half);
    this.#storageY = pick(storage.y, fresh.y, this.dOut, 0, half);
    this.#serveX = pick(storage.x, fresh.x, this.dIn, half, n);
    this.#serveY = pick(storage.y, fresh.y, this.dOut, half, n);
    this.#served = 0;
  }

  /** The next training batch. */
  async nextBatch(): Promise<ActivationBatch> {
    const B = this.#o.trainBatchSize;
    if ((this.#served + B) * this.dIn > this.#serveX.length) await this.#refill();
    const s = this.#served;
    this.#served += B;
    return {
      x: {
        dtype: "float32",
        shape: [B, this.dIn],
        data: this.#serveX.slice(s * this.dIn, (s + B) * this.dIn),
      },
      y: {
        dtype: "float32",
        shape: [B, this.dOut],
        data: this.#serveY.slice(s * this.dOut, (s + B) * this.dOut),
      },
    };
  }
}

/**
 * Column means of a row-major `[n, d]` array, accumulated in float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columnMeans } from "./activation_store.ts";
 * const means = columnMeans(new Float32Array([1, 10, 2, 20, 3, 30]), 2); // [[1, 10], [2, 20], [3, 30]]
 * means; // Float32Array [2, 20]
 * assert.deepEqual(means, new Float32Array([2, 20]));
 * ```
 */
export function columnMeans(data: Float32Array, d: number): Float32Array {
  const n = data.length / d;
  if (!Number.isInteger(n) || n === 0) {
    throw new RangeError(
      `column means of ${data.length} values in rows of ${d}: need at least one whole row`,
    );
  }
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) acc[j] += data[i * d + j];
  return Float32Array.from(acc, (s) => s / n);
}

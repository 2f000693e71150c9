/**
 * Training a transcoder for one layer of a model, the reference's loop
 * (`train_sae_on_language_model.py`): paired activations from the activation store, `b_dec` and
 * `b_dec_out` initialised to the means of the first buffer, Kaiming-uniform weights, the
 * transcoder step (see `_training_step.ts`) with a learning-rate schedule, ghost gradients for
 * features that have not fired for `deadFeatureWindow` steps, firing statistics, checkpoints
 * and resume.
 *
 * @module
 */
import type { HookedModel } from "../model/hooked_model.ts";
import type { Runtime } from "../graph/session.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkCompatible,
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
} from "../train/checkpoint.ts";
import type { ScheduleName } from "../train/schedules.ts";
import { initialState, NonFiniteLossError, Trainer, type TrainState } from "../train/trainer.ts";
import { ActivationStore, columnMeans } from "./activation_store.ts";
import {
  initialTranscoderParams,
  mlpSaeConfig,
  mlpTranscoderConfig,
  type SaeSite,
  Transcoder,
  type TranscoderConfig,
} from "./transcoder.ts";
import { deadFeatureFeeds, transcoderStepSpec } from "./_training_step.ts";
import { existsSync } from "node:fs";

/** Options of a transcoder training run; the defaults are the reference's GPT-2 values. */
export interface TranscoderTrainOptions {
  layer: number;
  /**
   * Train a sparse autoencoder on this site of the layer's MLP instead of a transcoder (same
   * recipe; input and target are the hook's value, the output bias is tied to `b_dec`): its
   * output `blocks.{l}.hook_mlp_out` (the reference's sweep) or its input
   * `blocks.{l}.ln2.hook_normalized` (the reference's interpretability comparison).
   */
  sae?: SaeSite;
  /** Features (default 32 x d_model, the reference's expansion factor). */
  dSae?: number;
  /** Default 1.4e-4. */
  l1Coefficient?: number;
  /** Default 4e-4. */
  lr?: number;
  /** Default `constantwithwarmup`. */
  schedule?: ScheduleName;
  /** Default 5000. */
  warmupSteps?: number;
  lrEnd?: number;
  /** Activations per step (default 4096). */
  trainBatchSize?: number;
  /** Training activations in total (default 60M). */
  totalTokens?: number;
  /** Token rows per model run (default 32). */
  storeBatchSize?: number;
  /** Store batches per buffer (default 128). */
  nBatchesInBuffer?: number;
  /** Default true. */
  useGhostGrads?: boolean;
  /** Steps without firing after which a feature counts as dead for ghost grads (default 5000). */
  deadFeatureWindow?: number;
  /** Steps over which firing frequencies are accumulated for logging (default 1000). */
  featureSamplingWindow?: number;
  /** `mean` (default, as the reference's script) or `zeros`. */
  bDecInit?: "mean" | "zeros";
  seed?: number;
}

/**
 * Resolves defaults: the reference's `train_transcoder.py` values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTranscoderOptions } from "./train_transcoder.ts";
 * const o = resolveTranscoderOptions({ layer: 8, lr: 1e-3 }, 768);
 * o.dSae; // 24576 (32 x d_model)
 * o.l1Coefficient; // 0.00014
 * assert.equal(o.lr, 1e-3); // given values win
 * assert.equal(o.schedule, "constantwithwarmup");
 * ```
 */
export function resolveTranscoderOptions(
  o: TranscoderTrainOptions,
  dModel: number,
): Required<Omit<TranscoderTrainOptions, "lrEnd" | "sae">> & Pick<TranscoderTrainOptions, "sae"> & {
  lrEnd: number;
} {
  return {
    layer: o.layer,
    sae: o.sae,
    dSae: o.dSae ?? 32 * dModel,
    l1Coefficient: o.l1Coefficient ?? 1.4e-4,
    lr: o.lr ?? 4e-4,
    schedule: o.schedule ?? "constantwithwarmup",
    warmupSteps: o.warmupSteps ?? 5000,
    lrEnd: o.lrEnd ?? 0,
    trainBatchSize: o.trainBatchSize ?? 4096,
    totalTokens: o.totalTokens ?? 60_000_000,
    storeBatchSize: o.storeBatchSize ?? 32,
    nBatchesInBuffer: o.nBatchesInBuffer ?? 128,
    useGhostGrads: o.useGhostGrads ?? true,
    deadFeatureWindow: o.deadFeatureWindow ?? 5000,
    featureSamplingWindow: o.featureSamplingWindow ?? 1000,
    bDecInit: o.bDecInit ?? "mean",
    seed: o.seed ?? 42,
  };
}

/** Per-step metrics reported to the caller. */
export interface TranscoderStepMetrics {
  step: number;
  totalSteps: number;
  loss: number;
  mseLoss: number;
  l1Loss: number;
  ghostLoss: number;
  l0: number;
  lr: number;
  /** Features that have not fired for `deadFeatureWindow` steps. */
  deadFeatures: number;
}

/** Hooks for progress, checkpoints and interruption. */
export interface TranscoderTrainHooks {
  runtime?: Runtime;
  /** Checkpoint file; when it exists the run resumes from it (same options required). */
  checkpointPath?: string;
  checkpointEvery?: number;
  onStep?(m: TranscoderStepMetrics): void;
  /** Polled after every step: true stops the run after writing a checkpoint. */
  shouldStop?(): boolean;
  /** Model name recorded in the transcoder config. */
  modelName?: string;
}

/**
 * Trains a transcoder (or, with `sae`, a sparse autoencoder) on a model's activations over token
 * rows `[n, n_ctx]`.
 * Returns the trained transcoder and whether the run completed (false when stopped early).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { trainTranscoder } from "./train_transcoder.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const rows = tensor(Int32Array.from({ length: 16 }, (_, i) => i % 10), [4, 4]); // 4 rows of 4 tokens
 * const losses: number[] = [];
 * const { transcoder, completed, steps } = await trainTranscoder(model, rows, {
 *   layer: 0,
 *   dSae: 16,
 *   trainBatchSize: 8, // activations (tokens) per step
 *   totalTokens: 24, // 3 steps
 *   storeBatchSize: 2,
 *   nBatchesInBuffer: 2,
 *   warmupSteps: 0,
 * }, { onStep: (m) => losses.push(m.loss) });
 * steps; // 3
 * transcoder.cfg.out_hook_name; // "blocks.0.hook_mlp_out"
 * assert.ok(completed && losses.length === 3 && losses.every(Number.isFinite));
 * ```
 */
export async function trainTranscoder(
  model: HookedModel,
  rows: Tensor<"int32">,
  options: TranscoderTrainOptions,
  hooks: TranscoderTrainHooks = {},
): Promise<{ transcoder: Transcoder; completed: boolean; steps: number }> {
  const o = resolveTranscoderOptions(options, model.cfg.d_model);
  if (!Number.isInteger(o.layer) || o.layer < 0 || o.layer >= model.cfg.n_layers) {
    throw new RangeError(
      `layer ${o.layer} out of range: the model has layers 0..${model.cfg.n_layers - 1}`,
    );
  }
  const d = model.cfg.d_model;
  if (o.sae !== undefined && o.sae !== "mlp_out" && o.sae !== "mlp_in") {
    throw new RangeError(`sae must be "mlp_out" or "mlp_in", got ${JSON.stringify(o.sae)}`);
  }
  const sizes = { d_in: d, d_sae: o.dSae };
  const cfg: TranscoderConfig = {
    ...(o.sae ? mlpSaeConfig(o.layer, sizes, o.sae) : mlpTranscoderConfig(o.layer, sizes)),
    model_name: hooks.modelName ?? "model",
    context_size: rows.shape[1],
    prepend_bos: true,
    l1_coefficient: o.l1Coefficient,
    lr: o.lr,
    lr_scheduler_name: o.schedule,
    lr_warm_up_steps: o.warmupSteps,
    train_batch_size: o.trainBatchSize,
    total_training_tokens: o.totalTokens,
    use_ghost_grads: o.useGhostGrads,
    dead_feature_window: o.deadFeatureWindow,
    b_dec_init_method: o.bDecInit,
    seed: o.seed,
  };
  const totalSteps = Math.floor(o.totalTokens / o.trainBatchSize);
  const runConfig = { ...o, d_model: d, n_ctx: rows.shape[1], rows: rows.shape[0] };
  const stepOptions = {
    d_in: d,
    d_sae: o.dSae,
    d_out: d,
    batch: o.trainBatchSize,
    l1Coefficient: o.l1Coefficient,
    tiedOutputBias: o.sae !== undefined,
  };

  // State: a checkpoint to resume, or a fresh initialisation.
  let state: TrainState;
  let passesSinceFired = new Float64Array(o.dSae);
  let startRow = 0;
  const path = hooks.checkpointPath;
  if (path && existsSync(path)) {
    const { state: saved, meta } = await loadCheckpoint(path);
    checkCompatible(meta, "transcoder", runConfig, path);
    state = saved;
    passesSinceFired = Float64Array.from(meta.extra.passesSinceFired as number[]);
    startRow = meta.extra.cursor as number;
  } else {
    const params = initialTranscoderParams(cfg, o.seed);
    if (o.sae) params.delete("b_dec_out"); // tied to b_dec
    state = initialState(params);
  }
  const store = new ActivationStore(model, rows, {
    inHook: cfg.hook_name,
    outHook: cfg.out_hook_name,
    layer: o.layer,
    storeBatchSize: o.storeBatchSize,
    nBatchesInBuffer: o.nBatchesInBuffer,
    trainBatchSize: o.trainBatchSize,
    seed: o.seed + state.step,
    startRow,
  });
  if (state.step === 0 && o.bDecInit === "mean") {
    const { x, y } = await store.storage();
    state.params.get("b_dec")!.data.set(columnMeans(x, d));
    state.params.get("b_dec_out")?.data.set(columnMeans(y, d));
  }
  const schedule = {
    name: o.schedule,
    lr: o.lr,
    lrEnd: o.lrEnd,
    warmupSteps: o.warmupSteps,
    totalSteps,
  };
  // One compiled step per ghost-gradient capacity (0: no dead feature, no ghost pass; then powers
  // of two of at least 128 dead features, up to the full mask); all share the training state.
  const trainers = new Map<number, Promise<Trainer>>();
  const runtime = hooks.runtime ?? model.runtime;
  const capacityFor = (nDead: number): number => {
    if (!o.useGhostGrads || nDead === 0) return 0;
    const cap = Math.max(128, 2 ** Math.ceil(Math.log2(nDead)));
    return cap >= o.dSae / 2 ? o.dSae : cap; // the full mask costs no more than a large gather
  };
  const trainerFor = (cap: number): Promise<Trainer> => {
    let t = trainers.get(cap);
    if (!t) {
      const spec = transcoderStepSpec({
        ...stepOptions,
        useGhostGrads: cap > 0,
        ghostCapacity: cap > 0 && cap < o.dSae ? cap : undefined,
      });
      t = Trainer.create(runtime, spec, state, schedule);
      trainers.set(cap, t);
    }
    return t;
  };
  const trainer = await trainerFor(0);
  let lastSaved: number | undefined = path && existsSync(path) ? state.step : undefined;
  const save = async () => {
    if (!path) return;
    const meta: CheckpointMeta = {
      kind: "transcoder",
      config: runConfig,
      step: trainer.state.step,
      extra: { cursor: store.cursor, passesSinceFired: Array.from(passesSinceFired) },
    };
    await saveCheckpoint(path, trainer.state, meta);
    lastSaved = trainer.state.step;
  };
  const every = hooks.checkpointEvery ?? 500;
  let stopped = false;
  while (trainer.state.step < totalSteps) {
    const { x, y } = await store.nextBatch();
    const dead = new Uint8Array(o.dSae);
    let nDead = 0;
    for (let i = 0; i < o.dSae; i++) {
      if (passesSinceFired[i] > o.deadFeatureWindow) (dead[i] = 1, nDead++);
    }
    const cap = capacityFor(nDead);
    const feeds: Record<string, Tensor> = cap === 0
      ? { x, y }
      : { x, y, ...deadFeatureFeeds(dead, cap < o.dSae ? cap : undefined) };
    let r;
    try {
      r = await (await trainerFor(cap)).step(feeds);
    } catch (e) {
      if (!(e instanceof NonFiniteLossError)) throw e;
      const last = lastSaved === undefined ? "none" : `${path} (step ${lastSaved})`;
      throw new NonFiniteLossError(`${e.message}; last good checkpoint: ${last}`);
    }
    const fired = r.outputs.fired.data as Float32Array;
    for (let i = 0; i < o.dSae; i++) {
      passesSinceFired[i] = fired[i] > 0 ? 0 : passesSinceFired[i] + 1;
    }
    hooks.onStep?.({
      step: trainer.state.step,
      totalSteps,
      loss: r.loss,
      mseLoss: r.outputs.mse_loss.data[0] as number,
      l1Loss: r.outputs.l1_loss.data[0] as number,
      ghostLoss: r.outputs.ghost_loss.data[0] as number,
      l0: r.outputs.l0.data[0] as number,
      lr: r.lr,
      deadFeatures: nDead,
    });
    if (trainer.state.step % every === 0) await save();
    if (hooks.shouldStop?.()) {
      stopped = true;
      break;
    }
  }
  await save();
  return {
    transcoder: new Transcoder(cfg, trainer.state.params, model.runtime),
    completed: !stopped && trainer.state.step >= totalSteps,
    steps: trainer.state.step,
  };
}

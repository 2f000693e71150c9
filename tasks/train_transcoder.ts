/**
 * `deno task train-transcoder --layer L`: trains a transcoder for one MLP layer of a model
 * (default: the embedded weights/tiny), the reference's recipe, with progress, checkpoints and
 * resume, and writes a SAELens-style folder.
 *
 * @module
 */
import { join } from "node:path";
import { loadModel } from "../mod.ts";
import { NonFiniteLossError } from "../lib/train/mod.ts";
import { Progress } from "../lib/train/_progress.ts";
import { type SaeSite, saveTranscoderFolder, trainTranscoder } from "../lib/transcoder/mod.ts";
import { resolveModelDir } from "../lib/weights/mod.ts";
import {
  checkLayer,
  loadCorpusRows,
  onInterrupt,
  parseCorpusSource,
  parseScheduleOption,
  PROVIDER_OPTION,
  providerOf,
  THREADS_OPTION,
} from "./cli.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

/** The command line of `deno task train-transcoder`. */
export const TRAIN_TRANSCODER_COMMAND = {
  name: "deno task train-transcoder",
  usage: "--layer <L> [options]",
  summary:
    "Trains a transcoder from blocks.L.ln2.hook_normalized to blocks.L.hook_mlp_out (or, with --sae, a sparse autoencoder on one of them). Defaults are the reference's GPT-2 small values (train_transcoder.py); a run in --out resumes from its checkpoint.",
  options: {
    layer: {
      type: "integer",
      min: 0,
      required: true,
      arg: "L",
      help: "the MLP layer to replace",
    },
    model: {
      type: "string",
      default: "tiny",
      arg: "name|dir",
      help: "tiny, gpt2-small, or a Hugging Face GPT-2 folder",
    },
    corpus: {
      type: "string",
      default: "builtin",
      arg: "src",
      help: "builtin, sotu, moby-dick, or a path (.txt, .jsonl, folder)",
    },
    sae: {
      type: "string",
      choices: ["mlp_out", "mlp_in"],
      arg: "site",
      help:
        "train a sparse autoencoder instead, on blocks.L.hook_mlp_out (mlp_out) or blocks.L.ln2.hook_normalized (mlp_in), same recipe",
    },
    "d-sae": {
      type: "integer",
      min: 1,
      help: "features (default 32 x d_model: expansion factor 32)",
    },
    l1: { type: "number", default: 1.4e-4, min: 0, arg: "x", help: "L1 coefficient" },
    lr: { type: "number", default: 4e-4, min: 0, arg: "x", help: "learning rate" },
    schedule: {
      type: "string",
      default: "constantwithwarmup",
      arg: "name",
      help: "learning-rate schedule (see train-model --help for the list)",
    },
    warmup: { type: "integer", default: 5000, min: 0, help: "warmup steps" },
    batch: { type: "integer", default: 4096, min: 1, help: "activations per step" },
    tokens: {
      type: "integer",
      default: 60000000,
      min: 1,
      help: "training activations in total (at least --batch)",
    },
    "store-batch": { type: "integer", default: 32, min: 1, help: "token rows per model run" },
    "buffer-batches": {
      type: "integer",
      default: 128,
      min: 2,
      help: "store batches per activation buffer, even",
    },
    "no-ghost-grads": { type: "boolean", help: "turn ghost gradients off (default on)" },
    "dead-window": {
      type: "integer",
      default: 5000,
      min: 0,
      help: "steps without firing before a feature gets ghost grads",
    },
    seed: { type: "integer", default: 42, min: 0, help: "initialisation and data order" },
    out: {
      type: "string",
      arg: "dir",
      help: "run folder with the checkpoint (default runs/transcoder-L<L>)",
    },
    export: {
      type: "string",
      arg: "dir",
      help: "write the SAELens folder here (default <out>/transcoder, or <out>/sae)",
    },
    float16: { type: "boolean", help: "store the exported weights in float16" },
    "checkpoint-every": {
      type: "integer",
      default: 500,
      min: 1,
      help: "steps between checkpoints",
    },
    threads: THREADS_OPTION,
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

type TrainTranscoderValues = OptionValues<typeof TRAIN_TRANSCODER_COMMAND.options>;

/** Runs `deno task train-transcoder` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(TRAIN_TRANSCODER_COMMAND, args, train);
}

async function train(values: TrainTranscoderValues): Promise<number> {
  const { batch, tokens: totalTokens, threads } = values;
  if (totalTokens < batch) {
    throw new UsageError(`--tokens must be at least --batch (${batch}), got "${totalTokens}"`);
  }
  const schedule = parseScheduleOption(values.schedule);
  const model = await loadModel(await resolveModelDir(values.model), {
    threads,
    provider: providerOf(values.provider),
  });
  const layer = checkLayer(values.layer, model.cfg.n_layers);
  const out = values.out ??
    (values.sae ? `runs/sae-${values.sae}-L${layer}` : `runs/transcoder-L${layer}`);
  const rows = await loadCorpusRows({
    source: parseCorpusSource(values.corpus),
    nCtx: model.cfg.n_ctx,
    split: "train",
  });
  await Deno.mkdir(out, { recursive: true });

  const interrupt = onInterrupt();
  const what = values.sae ? `SAE ${values.sae}` : "transcoder";
  // Made at the first step, so that a resumed run's rate counts only this session's tokens.
  let progress: Progress | undefined;
  let result;
  try {
    result = await trainTranscoder(model, rows, {
      layer,
      sae: values.sae as SaeSite | undefined,
      dSae: values["d-sae"],
      l1Coefficient: values.l1,
      lr: values.lr,
      schedule,
      warmupSteps: values.warmup,
      trainBatchSize: batch,
      totalTokens,
      storeBatchSize: values["store-batch"],
      nBatchesInBuffer: values["buffer-batches"],
      useGhostGrads: !values["no-ghost-grads"],
      deadFeatureWindow: values["dead-window"],
      seed: values.seed,
    }, {
      checkpointPath: join(out, "checkpoint.safetensors"),
      checkpointEvery: values["checkpoint-every"],
      modelName: values.model,
      shouldStop: () => interrupt.requested,
      onStep: (m) =>
        (progress ??= new Progress(`${what} L${layer}`, totalTokens, {
          unit: "tok",
          start: (m.step - 1) * batch,
        })).update(m.step * batch, {
          step: m.step,
          mse: m.mseLoss,
          l1: m.l1Loss,
          ghost: m.ghostLoss,
          L0: m.l0,
          dead: m.deadFeatures,
          lr: m.lr,
        }),
    });
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    progress?.done();
    console.error(`training stopped: ${e.message}`);
    return 1;
  } finally {
    interrupt.dispose();
  }
  progress?.done();
  if (!result.completed) {
    console.log(`stopped at step ${result.steps}; run the same command to resume`);
    return interrupt.requested ? 130 : 0;
  }
  const dest = values.export ?? join(out, values.sae ? "sae" : "transcoder");
  await saveTranscoderFolder(dest, result.transcoder, {
    floatDtype: values.float16 ? "F16" : "F32",
  });
  console.log(
    `wrote ${dest} (run deno task eval to measure it and write its feature-frequency sidecar)`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * `deno task train-model`: trains a GPT-2-architecture model (GPT-2 tokenizer and vocabulary) on
 * an English corpus shipped by npm packages, with checkpoints and resume, and writes it in
 * Hugging Face GPT-2 layout (the embedded default lives in weights/tiny).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Tensor } from "../mod.ts";
import { type GPT2Config, gpt2Config } from "../lib/model/mod.ts";
import { Rng } from "../lib/tensor/mod.ts";
import { checkCompatible, loadCheckpoint, saveCheckpoint } from "../lib/train/checkpoint.ts";
import {
  exportHfFolder,
  initialLmParams,
  lmModel,
  lmStepSpec,
  meanLoss,
  unigramBaseline,
} from "../lib/train/lm_training.ts";
import { SCHEDULES } from "../lib/train/schedules.ts";
import { Progress } from "../lib/train/_progress.ts";
import { initialState, NonFiniteLossError, Trainer } from "../lib/train/trainer.ts";
import { Runtime } from "../lib/graph/session.ts";
import {
  loadCorpusRows,
  onInterrupt,
  parseCorpusSource,
  parseScheduleOption,
  PROVIDER_OPTION,
  providerOf,
  THREADS_OPTION,
} from "./cli.ts";
import { type CommandSpec, type OptionValues, runCommand } from "./command.ts";

/** The command line of `deno task train-model`. */
export const TRAIN_MODEL_COMMAND = {
  name: "deno task train-model",
  summary:
    "Trains a GPT-2-architecture language model and writes a Hugging Face GPT-2 folder. A run in --out resumes from its checkpoint (same options required); Ctrl-C checkpoints and stops.",
  options: {
    layers: { type: "integer", default: 4, min: 1, help: "transformer blocks" },
    "d-model": { type: "integer", default: 96, min: 1, help: "residual width" },
    heads: { type: "integer", default: 4, min: 1, help: "attention heads" },
    "n-ctx": { type: "integer", default: 128, min: 2, help: "context length" },
    corpus: {
      type: "string",
      default: "builtin",
      arg: "src",
      help: "builtin, sotu, moby-dick, or a path (.txt, .jsonl or a folder)",
    },
    validation: {
      type: "number",
      default: 0.05,
      min: 0,
      max: 0.99,
      arg: "f",
      help: "fraction of documents held out",
    },
    batch: { type: "integer", default: 16, min: 1, help: "sequences per step" },
    epochs: {
      type: "number",
      default: 4,
      min: 0,
      arg: "f",
      help: "passes over the training rows",
    },
    lr: { type: "number", default: 2e-3, min: 0, arg: "x", help: "peak learning rate" },
    "lr-end": { type: "number", default: 1e-4, min: 0, arg: "x", help: "final learning rate" },
    warmup: { type: "integer", default: 200, min: 0, help: "warmup steps" },
    schedule: {
      type: "string",
      default: "cosineannealingwarmup",
      arg: "name",
      help: SCHEDULES.join(", "),
    },
    "weight-decay": {
      type: "number",
      default: 0.1,
      min: 0,
      arg: "x",
      help: "AdamW decay of matrices",
    },
    "max-grad-norm": {
      type: "number",
      default: 1.0,
      min: 0,
      arg: "x",
      help: "gradient clipping",
    },
    seed: { type: "integer", default: 0, min: 0, help: "initialisation and data order" },
    out: {
      type: "string",
      default: "runs/tiny-lm",
      arg: "dir",
      help: "run folder with checkpoint and log",
    },
    export: {
      type: "string",
      default: "weights/tiny",
      arg: "dir",
      help: "write the trained model here",
    },
    "eval-every": {
      type: "integer",
      default: 250,
      min: 1,
      help: "steps between validation and checkpoint",
    },
    "max-steps": {
      type: "integer",
      min: 1,
      help: "stop (with a checkpoint) after this many steps in total",
    },
    threads: THREADS_OPTION,
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

type TrainModelValues = OptionValues<typeof TRAIN_MODEL_COMMAND.options>;

/** Runs `deno task train-model` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(TRAIN_MODEL_COMMAND, args, (values) => trainModel(values, args));
}

/** Trains (or resumes) a run; `args` are recorded in the summary as the command. */
async function trainModel(values: TrainModelValues, args: readonly string[]): Promise<number> {
  const cfg: GPT2Config = gpt2Config({
    n_layers: values.layers,
    d_model: values["d-model"],
    n_heads: values.heads,
    n_ctx: values["n-ctx"],
  });
  const { batch, seed, epochs, lr, threads } = values;
  const validationFraction = values.validation;
  const adam = { weightDecay: values["weight-decay"], maxGradNorm: values["max-grad-norm"] };
  const evalEvery = values["eval-every"];
  // Checked before the corpus is loaded (which can take a while), like every other option.
  const scheduleName = parseScheduleOption(values.schedule);

  const t0 = performance.now();
  const corpus = {
    source: parseCorpusSource(values.corpus),
    nCtx: cfg.n_ctx,
    validationFraction,
    seed,
  };
  const train = await loadCorpusRows({ ...corpus, split: "train" });
  const validation = await loadCorpusRows({ ...corpus, split: "validation" });
  const nRows = train.shape[0];
  const totalSteps = Math.max(1, Math.floor((epochs * nRows) / batch));
  const schedule = {
    name: scheduleName,
    lr,
    lrEnd: values["lr-end"],
    warmupSteps: values.warmup,
    totalSteps,
  };
  const maxSteps = values["max-steps"] ?? totalSteps;
  console.log(
    `corpus ${values.corpus}: ${nRows} training rows and ${
      validation.shape[0]
    } validation rows of ${cfg.n_ctx} tokens ` +
      `(${
        ((nRows * cfg.n_ctx) / 1e6).toFixed(2)
      }M training tokens); ${totalSteps} steps of ${batch} x ${cfg.n_ctx}`,
  );

  // Everything that must match for a checkpoint to resume.
  const runConfig = {
    model: cfg,
    batch,
    seed,
    corpus: values.corpus,
    validationFraction,
    adam,
    schedule,
  };
  await Deno.mkdir(values.out, { recursive: true });
  const ckptPath = join(values.out, "checkpoint.safetensors");
  let state = initialState(initialLmParams(cfg, seed));
  if (existsSync(ckptPath)) {
    const { state: saved, meta } = await loadCheckpoint(ckptPath);
    checkCompatible(meta, "gpt2-lm", runConfig, ckptPath);
    state = saved;
    console.log(`resuming from ${ckptPath} at step ${state.step}`);
  }
  const provider = providerOf(values.provider);
  const runtime = new Runtime({ threads, provider });
  const trainer = await Trainer.create(runtime, lmStepSpec(cfg, batch, adam), state, schedule);

  /** The rows of a step: epoch e visits the rows in a permutation seeded by (seed, e). */
  const orders = new Map<number, Int32Array>();
  function batchAt(step: number): Tensor<"int32"> {
    const out = new Int32Array(batch * cfg.n_ctx);
    for (let i = 0; i < batch; i++) {
      const k = step * batch + i;
      const epoch = Math.floor(k / nRows);
      if (!orders.has(epoch)) orders.set(epoch, new Rng(seed * 1000 + epoch).permutation(nRows));
      const r = orders.get(epoch)![k % nRows];
      out.set(train.data.subarray(r * cfg.n_ctx, (r + 1) * cfg.n_ctx), i * cfg.n_ctx);
    }
    return { dtype: "int32", shape: [batch, cfg.n_ctx], data: out };
  }

  const logPath = join(values.out, "log.jsonl");
  const log = (record: Record<string, unknown>) =>
    Deno.writeTextFileSync(logPath, JSON.stringify(record) + "\n", { append: true });
  // The step of the checkpoint on disk (the one resumed from, then each one written), if any.
  let savedStep: number | undefined = existsSync(ckptPath) ? trainer.state.step : undefined;
  const checkpoint = async () => {
    await saveCheckpoint(ckptPath, trainer.state, {
      kind: "gpt2-lm",
      config: runConfig,
      step: trainer.state.step,
      extra: {},
    });
    savedStep = trainer.state.step;
  };
  const evaluate = () =>
    meanLoss(lmModel(cfg, trainer.state.params, { threads, provider }), validation, 16);

  const interrupt = onInterrupt("finishing the step and writing a checkpoint");

  const progress = new Progress("train", maxSteps * batch * cfg.n_ctx, {
    unit: "tok",
    start: trainer.state.step * batch * cfg.n_ctx,
  });
  let ema: number | undefined;
  let firstLoss: number | undefined;
  const lastGood = () => (savedStep !== undefined ? `${ckptPath} (step ${savedStep})` : "none");
  try {
    while (trainer.state.step < maxSteps && !interrupt.requested) {
      const step = trainer.state.step;
      const { loss, gradNorm, lr } = await trainer.step({ tokens: batchAt(step) });
      firstLoss ??= loss;
      if (loss > 2 * Math.log(cfg.d_vocab) + 5) {
        throw new NonFiniteLossError(
          `step ${step + 1}: loss ${loss.toFixed(3)} exploded (initial ${firstLoss.toFixed(3)})`,
        );
      }
      ema = ema === undefined ? loss : 0.98 * ema + 0.02 * loss;
      progress.update((step + 1) * batch * cfg.n_ctx, {
        step: step + 1,
        loss: ema,
        lr,
        "|g|": gradNorm,
      });
      if ((step + 1) % 10 === 0) {
        log({ step: step + 1, loss, gradNorm, lr, seconds: (performance.now() - t0) / 1000 });
      }
      if ((step + 1) % evalEvery === 0) {
        const val = await evaluate();
        log({ step: step + 1, validationLoss: val });
        console.error(
          `\nstep ${step + 1}: train loss (EMA) ${ema.toFixed(3)}, validation loss ${
            val.toFixed(3)
          }`,
        );
        await checkpoint();
      }
    }
    progress.done();
    await checkpoint();
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      console.error(`\ntraining stopped: ${e.message}. Last good checkpoint: ${lastGood()}`);
      return 1;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
  if (trainer.state.step < totalSteps) {
    console.log(
      `stopped at step ${trainer.state.step} of ${totalSteps}; run the same command to resume`,
    );
    return interrupt.requested ? 130 : 0;
  }

  // ---- final evaluation and export -------------------------------------------------------
  const valLoss = await evaluate();
  const baseline = unigramBaseline(train, validation, cfg.d_vocab);
  const samples = await greedySamples(lmModel(cfg, trainer.state.params, { threads, provider }));
  const summary = {
    model: cfg,
    trainingTokens: trainer.state.step * batch * cfg.n_ctx,
    steps: trainer.state.step,
    validationLoss: valLoss,
    unigramBaseline: baseline,
    trainLossEma: ema,
    seconds: (performance.now() - t0) / 1000,
    samples,
    command: `deno task train-model ${args.join(" ")}`.trim(),
  };
  await exportHfFolder(values.export, cfg, trainer.state.params, {
    extra: { transcoder_circuits: summary },
  });
  await Deno.writeTextFile(
    join(values.out, "summary.json"),
    JSON.stringify(summary, null, 2) + "\n",
  );
  console.log(
    `validation loss ${valLoss.toFixed(3)} nats vs unigram baseline ${baseline.toFixed(3)} nats`,
  );
  for (const [p, s] of Object.entries(samples)) {
    console.log(`  ${JSON.stringify(p)} -> ${JSON.stringify(s)}`);
  }
  console.log(`wrote ${values.export} (config.json, model.safetensors in float16)`);
  return 0;
}

/** Greedy continuations of three fixed prompts, recorded in the summary. */
async function greedySamples(model: ReturnType<typeof lmModel>): Promise<Record<string, string>> {
  const samples: Record<string, string> = {};
  for (const prompt of ["The United States", "Call me Ishmael.", "The Congress shall"]) {
    samples[prompt] = await model.generate(prompt, { maxNewTokens: 24, greedy: true });
  }
  return samples;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

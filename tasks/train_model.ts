/**
 * `deno task train-model`: trains a GPT-2-architecture model (GPT-2 tokenizer and vocabulary) on
 * an English corpus shipped by npm packages, with checkpoints and resume, and writes it in
 * Hugging Face GPT-2 layout (the embedded default lives in weights/tiny).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type GPT2Config, gpt2Config, loadPackedCorpus, Rng, type Tensor } from "../mod.ts";
import { checkCompatible, loadCheckpoint, saveCheckpoint } from "../lib/train/checkpoint.ts";
import {
  exportHfFolder,
  initialLmParams,
  lmModel,
  lmStepSpec,
  meanLoss,
  unigramBaseline,
} from "../lib/train/lm_training.ts";
import { parseSchedule, type ScheduleName } from "../lib/train/schedules.ts";
import { Progress } from "../lib/train/progress.ts";
import { initialState, NonFiniteLossError, Trainer } from "../lib/train/trainer.ts";
import { Runtime } from "../lib/graph/session.ts";
import { parseCorpusSource, parseIntOption, parseNumberOption, usageError } from "./cli.ts";

const HELP = `Usage: deno task train-model [options]

Trains a GPT-2-architecture language model and writes a Hugging Face GPT-2 folder.
A run in --out resumes from its checkpoint (same options required); Ctrl-C checkpoints and stops.

Model:
  --layers <n>            transformer blocks (default 4)
  --d-model <n>           residual width (default 96)
  --heads <n>             attention heads (default 4)
  --n-ctx <n>             context length (default 128)
Data:
  --corpus <src>          builtin (default), sotu, moby-dick, or a path (.txt, .jsonl or a folder)
  --validation <f>        fraction of documents held out (default 0.05)
Optimisation:
  --batch <n>             sequences per step (default 16)
  --epochs <f>            passes over the training rows (default 4)
  --lr <x>                peak learning rate (default 2e-3)
  --lr-end <x>            final learning rate (default 1e-4)
  --warmup <n>            warmup steps (default 200)
  --schedule <name>       constant, constantwithwarmup, linearwarmupdecay, cosineannealing,
                          cosineannealingwarmup (default), cosineannealingwarmrestarts
  --weight-decay <x>      AdamW decay of matrices (default 0.1)
  --max-grad-norm <x>     gradient clipping (default 1.0)
  --seed <n>              initialisation and data order (default 0)
Run:
  --out <dir>             run folder with checkpoint and log (default runs/tiny-lm)
  --export <dir>          write the trained model here (default weights/tiny)
  --eval-every <n>        steps between validation and checkpoint (default 250)
  --max-steps <n>         stop (with a checkpoint) after this many steps in total
  --threads <n>           CPU threads (default: all cores)
  --help                  show this help
`;

const parseOptions = () =>
  parseArgs({
    options: {
      layers: { type: "string", default: "4" },
      "d-model": { type: "string", default: "96" },
      heads: { type: "string", default: "4" },
      "n-ctx": { type: "string", default: "128" },
      corpus: { type: "string", default: "builtin" },
      validation: { type: "string", default: "0.05" },
      batch: { type: "string", default: "16" },
      epochs: { type: "string", default: "4" },
      lr: { type: "string", default: "2e-3" },
      "lr-end": { type: "string", default: "1e-4" },
      warmup: { type: "string", default: "200" },
      schedule: { type: "string", default: "cosineannealingwarmup" },
      "weight-decay": { type: "string", default: "0.1" },
      "max-grad-norm": { type: "string", default: "1.0" },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: "runs/tiny-lm" },
      export: { type: "string", default: "weights/tiny" },
      "eval-every": { type: "string", default: "250" },
      "max-steps": { type: "string" },
      threads: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
let values: ReturnType<typeof parseOptions>["values"];
try {
  ({ values } = parseOptions());
} catch (e) {
  usageError((e as Error).message); // unknown option, missing value
}
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

const cfg: GPT2Config = gpt2Config({
  n_layers: parseIntOption("layers", values.layers, 1),
  d_model: parseIntOption("d-model", values["d-model"], 1),
  n_heads: parseIntOption("heads", values.heads, 1),
  n_ctx: parseIntOption("n-ctx", values["n-ctx"], 2),
});
const batch = parseIntOption("batch", values.batch, 1);
const seed = parseIntOption("seed", values.seed, 0);
const source = parseCorpusSource(values.corpus);
const validationFraction = parseNumberOption("validation", values.validation, 0, 0.99);
const adam = {
  weightDecay: parseNumberOption("weight-decay", values["weight-decay"], 0),
  maxGradNorm: parseNumberOption("max-grad-norm", values["max-grad-norm"], 0),
};
const evalEvery = parseIntOption("eval-every", values["eval-every"], 1);
const threads = values.threads ? parseIntOption("threads", values.threads, 1) : undefined;
// Checked before the corpus is loaded (which can take a while), like every other option.
const epochs = parseNumberOption("epochs", values.epochs, 0);
const lr = parseNumberOption("lr", values.lr, 0);
const lrEnd = parseNumberOption("lr-end", values["lr-end"], 0);
const warmupSteps = parseIntOption("warmup", values.warmup, 0);
let scheduleName: ScheduleName;
try {
  scheduleName = parseSchedule(values.schedule);
} catch (e) {
  usageError(`--schedule: ${(e as Error).message}`);
}
const maxStepsOption = values["max-steps"]
  ? parseIntOption("max-steps", values["max-steps"], 1)
  : undefined;

const t0 = performance.now();
const corpus = { source, nCtx: cfg.n_ctx, validationFraction, seed };
const train = await loadPackedCorpus({ ...corpus, split: "train" });
const validation = await loadPackedCorpus({ ...corpus, split: "validation" });
const nRows = train.shape[0];
const totalSteps = Math.max(1, Math.floor((epochs * nRows) / batch));
const schedule = {
  name: scheduleName,
  lr,
  lrEnd,
  warmupSteps,
  totalSteps,
};
const maxSteps = maxStepsOption ?? totalSteps;
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
const runtime = new Runtime({ threads });
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
const evalRows: Tensor<"int32"> = validation;
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
async function evaluate(): Promise<number> {
  return await meanLoss(lmModel(cfg, trainer.state.params, { threads }), evalRows, 16);
}

let stopRequested = false;
const onSigint = () => {
  if (stopRequested) Deno.exit(130);
  stopRequested = true;
  console.error("\ninterrupt: finishing the step and writing a checkpoint (Ctrl-C again to abort)");
};
Deno.addSignalListener("SIGINT", onSigint);

const progress = new Progress("train", maxSteps * batch * cfg.n_ctx, {
  unit: "tok",
  start: trainer.state.step * batch * cfg.n_ctx,
});
let ema: number | undefined;
let firstLoss: number | undefined;
const lastGood = () => (savedStep !== undefined ? `${ckptPath} (step ${savedStep})` : "none");
try {
  while (trainer.state.step < maxSteps && !stopRequested) {
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
        `\nstep ${step + 1}: train loss (EMA) ${ema.toFixed(3)}, validation loss ${val.toFixed(3)}`,
      );
      await checkpoint();
    }
  }
} catch (e) {
  if (e instanceof NonFiniteLossError) {
    console.error(`\ntraining stopped: ${e.message}. Last good checkpoint: ${lastGood()}`);
    Deno.exit(1);
  }
  throw e;
}
progress.done();
await checkpoint();
Deno.removeSignalListener("SIGINT", onSigint);
if (trainer.state.step < totalSteps) {
  console.log(
    `stopped at step ${trainer.state.step} of ${totalSteps}; run the same command to resume`,
  );
  Deno.exit(stopRequested ? 130 : 0);
}

// ---- final evaluation and export ---------------------------------------------------------
const valLoss = await evaluate();
const baseline = unigramBaseline(train, validation, cfg.d_vocab);
const model = lmModel(cfg, trainer.state.params, { threads });
const samples: Record<string, string> = {};
for (const prompt of ["The United States", "Call me Ishmael.", "The Congress shall"]) {
  samples[prompt] = await model.generate(prompt, { maxNewTokens: 24, greedy: true });
}
const summary = {
  model: cfg,
  trainingTokens: trainer.state.step * batch * cfg.n_ctx,
  steps: trainer.state.step,
  validationLoss: valLoss,
  unigramBaseline: baseline,
  trainLossEma: ema,
  seconds: (performance.now() - t0) / 1000,
  samples,
  command: `deno task train-model ${Deno.args.join(" ")}`.trim(),
};
await exportHfFolder(values.export, cfg, trainer.state.params, {
  extra: { transcoder_circuits: summary },
});
await Deno.writeTextFile(join(values.out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
console.log(
  `validation loss ${valLoss.toFixed(3)} nats vs unigram baseline ${baseline.toFixed(3)} nats`,
);
for (const [p, s] of Object.entries(samples)) {
  console.log(`  ${JSON.stringify(p)} -> ${JSON.stringify(s)}`);
}
console.log(`wrote ${values.export} (config.json, model.safetensors in float16)`);

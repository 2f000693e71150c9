/**
 * `deno task train-transcoder --layer L`: trains a transcoder for one MLP layer of a model
 * (default: the embedded weights/tiny), the reference's recipe, with progress, checkpoints and
 * resume, and writes a SAELens-style folder.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  loadModel,
  loadPackedCorpus,
  NonFiniteLossError,
  parseSchedule,
  Progress,
  resolveModelDir,
  saveTranscoderFolder,
  trainTranscoder,
} from "../mod.ts";
import { parseCorpusSource, parseIntOption, parseNumberOption, usageError } from "./cli.ts";

const HELP = `Usage: deno task train-transcoder --layer <L> [options]

Trains a transcoder from blocks.L.ln2.hook_normalized to blocks.L.hook_mlp_out. Defaults are the
reference's GPT-2 small values (train_transcoder.py); a run in --out resumes from its checkpoint.

  --layer <L>              the MLP layer to replace (required)
  --model <name|dir>       tiny (default), gpt2-small, or a Hugging Face GPT-2 folder
  --corpus <src>           builtin (default), sotu, moby-dick, or a path (.txt, .jsonl, folder)
  --d-sae <n>              features (default 32 x d_model: expansion factor 32)
  --l1 <x>                 L1 coefficient (default 1.4e-4)
  --lr <x>                 learning rate (default 4e-4)
  --schedule <name>        default constantwithwarmup (see train-model --help for the list)
  --warmup <n>             warmup steps (default 5000)
  --batch <n>              activations per step (default 4096)
  --tokens <n>             training activations in total (default 60000000)
  --store-batch <n>        token rows per model run (default 32)
  --buffer-batches <n>     store batches per activation buffer, even (default 128)
  --no-ghost-grads         turn ghost gradients off (default on)
  --dead-window <n>        steps without firing before a feature gets ghost grads (default 5000)
  --seed <n>               default 42
  --out <dir>              run folder with the checkpoint (default runs/transcoder-L<L>)
  --export <dir>           write the SAELens folder here (default <out>/transcoder)
  --float16                store the exported weights in float16
  --checkpoint-every <n>   steps between checkpoints (default 500)
  --threads <n>            CPU threads (default: all cores)
  --help                   show this help
`;
const { values } = parseArgs({
  options: {
    layer: { type: "string" },
    model: { type: "string", default: "tiny" },
    corpus: { type: "string", default: "builtin" },
    "d-sae": { type: "string" },
    l1: { type: "string", default: "1.4e-4" },
    lr: { type: "string", default: "4e-4" },
    schedule: { type: "string", default: "constantwithwarmup" },
    warmup: { type: "string", default: "5000" },
    batch: { type: "string", default: "4096" },
    tokens: { type: "string", default: "60000000" },
    "store-batch": { type: "string", default: "32" },
    "buffer-batches": { type: "string", default: "128" },
    "no-ghost-grads": { type: "boolean", default: false },
    "dead-window": { type: "string", default: "5000" },
    seed: { type: "string", default: "42" },
    out: { type: "string" },
    export: { type: "string" },
    float16: { type: "boolean", default: false },
    "checkpoint-every": { type: "string", default: "500" },
    threads: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
if (values.layer === undefined) usageError("--layer is required");
const threads = values.threads ? parseIntOption("threads", values.threads, 1) : undefined;
const model = await loadModel(resolveModelDir(values.model), { threads });
const layer = parseIntOption("layer", values.layer, 0, model.cfg.n_layers - 1);
const out = values.out ?? `runs/transcoder-L${layer}`;
await Deno.mkdir(out, { recursive: true });
const rows = await loadPackedCorpus({
  source: parseCorpusSource(values.corpus),
  nCtx: model.cfg.n_ctx,
  split: "train",
});

let stop = false;
Deno.addSignalListener("SIGINT", () => {
  if (stop) Deno.exit(130);
  stop = true;
  console.error("\ninterrupt: writing a checkpoint (Ctrl-C again to abort)");
});
const batch = parseIntOption("batch", values.batch, 1);
const totalTokens = parseIntOption("tokens", values.tokens, batch);
const progress = new Progress(`transcoder L${layer}`, totalTokens, { unit: "tok" });
const { transcoder, completed, steps } = await trainTranscoder(model, rows, {
  layer,
  dSae: values["d-sae"] ? parseIntOption("d-sae", values["d-sae"], 1) : undefined,
  l1Coefficient: parseNumberOption("l1", values.l1, 0),
  lr: parseNumberOption("lr", values.lr, 0),
  schedule: parseSchedule(values.schedule),
  warmupSteps: parseIntOption("warmup", values.warmup, 0),
  trainBatchSize: batch,
  totalTokens,
  storeBatchSize: parseIntOption("store-batch", values["store-batch"], 1),
  nBatchesInBuffer: parseIntOption("buffer-batches", values["buffer-batches"], 2),
  useGhostGrads: !values["no-ghost-grads"],
  deadFeatureWindow: parseIntOption("dead-window", values["dead-window"], 0),
  seed: parseIntOption("seed", values.seed, 0),
}, {
  checkpointPath: join(out, "checkpoint.safetensors"),
  checkpointEvery: parseIntOption("checkpoint-every", values["checkpoint-every"], 1),
  modelName: values.model,
  shouldStop: () => stop,
  onStep: (m) =>
    progress.update(m.step * batch, {
      step: m.step,
      mse: m.mseLoss,
      l1: m.l1Loss,
      ghost: m.ghostLoss,
      L0: m.l0,
      dead: m.deadFeatures,
      lr: m.lr,
    }),
}).catch((e) => {
  if (!(e instanceof NonFiniteLossError)) throw e;
  progress.done();
  console.error(`training stopped: ${e.message}`);
  Deno.exit(1);
});
progress.done();
if (!completed) {
  console.log(`stopped at step ${steps}; run the same command to resume`);
  Deno.exit(stop ? 130 : 0);
}
const dest = values.export ?? join(out, "transcoder");
await saveTranscoderFolder(dest, transcoder, { floatDtype: values.float16 ? "F16" : "F32" });
console.log(
  `wrote ${dest} (run deno task eval to measure it and write its feature-frequency sidecar)`,
);

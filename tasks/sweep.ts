/**
 * `deno task sweep --layer L`: the sparsity-fidelity sweep of the reference's `sweep.ipynb` for
 * one layer of a model: trains transcoders and MLP-output SAEs at several L1 coefficients (the
 * same width and token budget), resumable, evaluates each on held-out rows and writes a table
 * (`sweep.md`), the rows (`results.json`) and a Pareto chart of CE against L0 (`sweep.svg`).
 *
 * @module
 */
import { loadModel } from "../mod.ts";
import { NonFiniteLossError } from "../lib/train/mod.ts";
import { Progress } from "../lib/train/_progress.ts";
import {
  type RunStatus,
  runSweep,
  type SweepRun,
  sweepRunName,
  writeSweepReport,
} from "../lib/sweep/mod.ts";
import { sliceRows } from "../lib/tensor/tensor.ts";
import { resolveModelDir } from "../lib/weights/mod.ts";
import {
  checkLayer,
  CORPUS_OPTION,
  loadCorpusRows,
  MODEL_OPTION,
  onInterrupt,
  parseCorpusSource,
  PROVIDER_OPTION,
  providerOf,
  THREADS_OPTION,
} from "./cli.ts";
import { TRAIN_TRANSCODER_COMMAND } from "./train_transcoder.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

const TRAIN = TRAIN_TRANSCODER_COMMAND.options;

/** What a run's status line says. */
const DOING: Record<RunStatus, string> = {
  done: "done",
  evaluate: "evaluating",
  train: "training",
  resume: "resuming",
};

/** The command line of `deno task sweep`. */
export const SWEEP_COMMAND = {
  name: "deno task sweep",
  usage: "--layer <L> [options]",
  summary:
    "Trains a grid of dictionaries for one MLP layer (transcoders from blocks.L.ln2.hook_normalized to blocks.L.hook_mlp_out, and SAEs on blocks.L.hook_mlp_out), one per L1 coefficient, with the same width, token budget and recipe; evaluates each on held-out rows (L0, CE with the dictionary spliced in, CE clean and zero-ablated, KL) and writes sweep.md, results.json and the Pareto chart sweep.svg into --out. Rerun the same command to continue a stopped sweep: finished runs are not redone.",
  options: {
    layer: { type: "integer", min: 0, required: true, arg: "L", help: "the MLP layer" },
    model: MODEL_OPTION,
    "tc-l1": {
      type: "string",
      default: "3e-4,6e-4,1.2e-3,2.4e-3",
      arg: "list",
      help: "L1 coefficients of the transcoders (comma-separated; 'none' for no transcoders)",
    },
    "sae-l1": {
      type: "string",
      default: "3e-4,6e-4,1.2e-3,2.4e-3",
      arg: "list",
      help: "L1 coefficients of the MLP-output SAEs ('none' for no SAEs)",
    },
    // The training options are train-transcoder's, with defaults for a small model's sweep.
    "d-sae": TRAIN["d-sae"],
    tokens: { ...TRAIN.tokens, default: 4096000, help: "training activations per dictionary" },
    lr: { ...TRAIN.lr, default: 1e-3 },
    warmup: { ...TRAIN.warmup, default: 200 },
    batch: TRAIN.batch,
    "buffer-batches": { ...TRAIN["buffer-batches"], default: 32 },
    "dead-window": { ...TRAIN["dead-window"], default: 500 },
    seed: TRAIN.seed,
    corpus: {
      ...CORPUS_OPTION,
      help: `${CORPUS_OPTION.help}: its train split trains, its validation split evaluates`,
    },
    "eval-rows": {
      type: "integer",
      default: 256,
      min: 1,
      help: "held-out rows to evaluate on (of n_ctx tokens)",
    },
    out: {
      type: "string",
      arg: "dir",
      help: "the sweep folder: runs, dictionaries and the report (default runs/sweep-L<L>)",
    },
    threads: THREADS_OPTION,
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

type SweepValues = OptionValues<typeof SWEEP_COMMAND.options>;

/** Runs `deno task sweep` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(SWEEP_COMMAND, args, (values) => sweep(values, args));
}

/**
 * A comma-separated list of L1 coefficients, or `none`; throws a UsageError.
 *
 * @example
 * ```ts
 * import { parseL1List } from "./sweep.ts";
 * parseL1List("tc-l1", "3e-4, 1.2e-3"); // [0.0003, 0.0012]
 * parseL1List("sae-l1", "none"); // []
 * ```
 */
export function parseL1List(name: string, value: string): number[] {
  if (value.trim() === "none") return [];
  const out = value.split(",").map((s) => s.trim()).map((s) => {
    const v = s === "" ? NaN : Number(s);
    if (!(Number.isFinite(v) && v >= 0)) {
      throw new UsageError(`--${name}: "${s}" is not a number >= 0 (e.g. --${name} 3e-4,1e-3)`);
    }
    return v;
  });
  const dup = out.find((v, i) => out.indexOf(v) !== i);
  if (dup !== undefined) throw new UsageError(`--${name} lists ${dup} twice`);
  return out;
}

async function sweep(values: SweepValues, args: readonly string[]): Promise<number> {
  const { batch, tokens, threads } = values;
  if (tokens < batch) {
    throw new UsageError(`--tokens must be at least --batch (${batch}), got "${tokens}"`);
  }
  const runs: SweepRun[] = [
    ...parseL1List("tc-l1", values["tc-l1"]).map((l1) => ({ kind: "transcoder" as const, l1 })),
    ...parseL1List("sae-l1", values["sae-l1"]).map((l1) => ({ kind: "mlp_out_sae" as const, l1 })),
  ];
  if (runs.length === 0) {
    throw new UsageError("--tc-l1 and --sae-l1 are both none: nothing to train");
  }
  const model = await loadModel(await resolveModelDir(values.model), {
    threads,
    provider: providerOf(values.provider),
  });
  const layer = checkLayer(values.layer, model.cfg.n_layers);
  const out = values.out ?? `runs/sweep-L${layer}`;
  const source = parseCorpusSource(values.corpus);
  const nCtx = model.cfg.n_ctx;
  const trainRows = await loadCorpusRows({ source, nCtx, split: "train" });
  const validation = await loadCorpusRows({ source, nCtx, split: "validation" });
  const evalRows = sliceRows(validation, 0, Math.min(validation.shape[0], values["eval-rows"]));

  const interrupt = onInterrupt();
  let progress: Progress | undefined;
  let training = "";
  let result;
  try {
    result = await runSweep(model, { trainRows, evalRows }, runs, {
      layer,
      dSae: values["d-sae"],
      lr: values.lr,
      warmupSteps: values.warmup,
      trainBatchSize: batch,
      totalTokens: tokens,
      nBatchesInBuffer: values["buffer-batches"],
      deadFeatureWindow: values["dead-window"],
      seed: values.seed,
    }, {
      dir: out,
      modelName: values.model,
      shouldStop: () => interrupt.requested,
      onRun(run, i, n, status) {
        progress?.done();
        progress = undefined;
        training = `[${i + 1}/${n}] ${sweepRunName(run)}`;
        console.error(`${training}: ${DOING[status]}`);
      },
      onStep(_run, m) {
        // Made at the first step, so that a resumed run's rate counts only this session's tokens.
        progress ??= new Progress(training, tokens, { unit: "tok", start: (m.step - 1) * batch });
        progress.update(m.step * batch, { L0: m.l0, mse: m.mseLoss, dead: m.deadFeatures });
      },
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
    console.log(
      `stopped with ${result.rows.length} of ${runs.length} runs done; run the same command to continue`,
    );
    return 130;
  }
  const quote = (a: string) => (/^[\w.,=\/:+-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  const command = ["deno task sweep", ...args.map(quote)].join(" ");
  const paths = await writeSweepReport(out, result.rows, {
    command,
    layer,
    model: values.model,
    evalTokens: evalRows.shape[0] * evalRows.shape[1],
  });
  console.log(await Deno.readTextFile(paths.markdown));
  console.log(`wrote ${paths.markdown}, ${paths.json} and ${paths.svg}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

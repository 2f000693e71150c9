/**
 * Running a sparsity-fidelity sweep: a grid of dictionaries for one layer (transcoders and
 * MLP-output SAEs, several L1 coefficients each, the same width and token budget), each trained
 * with the transcoder recipe (`trainTranscoder`), exported as a SAELens folder, then evaluated on
 * held-out rows (`evaluateTranscoders`: L0, CE with the dictionary spliced in, clean and
 * zero-ablated CE, KL).
 *
 * Resumable: a sweep folder holds `plan.json` (the shared training options and the model's
 * fingerprint: a rerun with others is refused) and one folder per run, `{name}/` with the
 * training checkpoint while it trains, `dictionary/` once it is done (the checkpoint is then
 * removed) and `eval.json` once it is evaluated. A killed sweep continues where it stopped:
 * finished runs are neither retrained nor re-evaluated, an unfinished one resumes from its
 * checkpoint. New L1 values can be added to a finished sweep.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readJsonObject } from "../formats/_input_file.ts";
import { writeFileAtomic, writeSafetensors } from "../formats/safetensors.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { tensorFingerprint } from "../dashboards/fingerprint.ts";
import { evaluateTranscoders } from "../transcoder/evals.ts";
import { loadTranscoder } from "../transcoder/load.ts";
import { SAELENS_FILES, saveTranscoderFolder } from "../transcoder/saelens_folder.ts";
import {
  trainTranscoder,
  type TranscoderStepMetrics,
  type TranscoderTrainOptions,
} from "../transcoder/train_transcoder.ts";
import type { SweepKind, SweepRow } from "./sweep_results.ts";

/** One dictionary of the grid. */
export interface SweepRun {
  kind: SweepKind;
  l1: number;
}

/** The training options every run of a sweep shares (all but the kind and the L1). */
export type SweepTrainOptions = Omit<TranscoderTrainOptions, "sae" | "l1Coefficient">;

/**
 * The folder name of a run: `{kind}-l1-{l1}`.
 *
 * @example
 * ```ts
 * import { sweepRunName } from "./sweep_runs.ts";
 * sweepRunName({ kind: "mlp_out_sae", l1: 6e-4 }); // "mlp_out_sae-l1-0.0006"
 * ```
 */
export function sweepRunName(run: SweepRun): string {
  return `${run.kind}-l1-${run.l1}`;
}

/** Raised when a sweep folder holds another sweep. */
export class SweepError extends Error {
  override name = "SweepError";
}

/** Where a run stands, reported to `onRun`. */
export type RunStatus = "train" | "resume" | "evaluate" | "done";

/** Hooks and settings of {@linkcode runSweep}. */
export interface SweepHooks {
  /** The sweep folder. */
  dir: string;
  /** Recorded in each dictionary's cfg.json. */
  modelName?: string;
  /** Storage of the exported dictionaries (default F16: a committed sweep stays small). */
  floatDtype?: "F32" | "F16";
  /** Sequences per evaluation pass (default 16). */
  evalBatchSize?: number;
  /** Steps between checkpoints (default 100). */
  checkpointEvery?: number;
  /** Called when a run starts an action (index in the plan, of `total`). */
  onRun?(run: SweepRun, index: number, total: number, status: RunStatus): void;
  onStep?(run: SweepRun, m: TranscoderStepMetrics): void;
  /** Polled after every training step: true checkpoints the run and stops the sweep. */
  shouldStop?(): boolean;
  quiet?: boolean;
}

/**
 * Trains and evaluates every run of the grid that is not done yet (see the module notes) and
 * returns the rows of the runs that are, in plan order, and whether all are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { runSweep } from "./sweep_runs.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 16, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const rows = tensor(Int32Array.from({ length: 32 }, (_, i) => (i * 7) % 16), [8, 4]);
 * const dir = await Deno.makeTempDir();
 * const runs = [{ kind: "transcoder" as const, l1: 1e-3 }, { kind: "mlp_out_sae" as const, l1: 1e-3 }];
 * const train = { layer: 1, dSae: 16, trainBatchSize: 8, totalTokens: 32, storeBatchSize: 2, nBatchesInBuffer: 2, warmupSteps: 0 };
 * const first = await runSweep(model, { trainRows: rows, evalRows: rows }, runs, train, { dir, quiet: true });
 * first.rows.map((r) => r.name); // ["transcoder-l1-0.001", "mlp_out_sae-l1-0.001"]
 * assert.ok(first.completed && first.rows.every((r) => r.ceReplaced > 0));
 * const statuses: string[] = []; // a rerun finds every run done: nothing is trained again
 * await runSweep(model, { trainRows: rows, evalRows: rows }, runs, train, { dir, quiet: true, onRun: (_r, _i, _n, s) => statuses.push(s) });
 * assert.deepEqual(statuses, ["done", "done"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runSweep(
  model: HookedModel,
  data: { trainRows: Tensor<"int32">; evalRows: Tensor<"int32"> },
  runs: readonly SweepRun[],
  train: SweepTrainOptions,
  hooks: SweepHooks,
): Promise<{ rows: SweepRow[]; completed: boolean }> {
  const names = runs.map(sweepRunName);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new SweepError(`the grid has run ${dup} twice`);
  if (runs.length === 0) throw new SweepError("the grid has no runs");
  for (const r of runs) {
    if (!(r.l1 >= 0 && Number.isFinite(r.l1))) {
      throw new SweepError(`L1 coefficient ${r.l1} of ${r.kind} is not a number >= 0`);
    }
  }
  const { dir } = hooks;
  await Deno.mkdir(dir, { recursive: true });
  await checkPlan(join(dir, "plan.json"), {
    train,
    model: tensorFingerprint([model.W_E, model.W_pos]),
    trainRows: data.trainRows.shape,
    evalRows: data.evalRows.shape,
  });
  const rows: SweepRow[] = [];
  for (const [i, run] of runs.entries()) {
    const name = names[i], runDir = join(dir, name);
    const dictDir = join(runDir, "dictionary"), evalPath = join(runDir, "eval.json");
    const report = (s: RunStatus) => hooks.onRun?.(run, i, runs.length, s);
    if (existsSync(evalPath) && existsSync(join(dictDir, "cfg.json"))) {
      report("done");
      rows.push(await readRow(evalPath));
      continue;
    }
    if (!existsSync(join(dictDir, "cfg.json"))) {
      if (hooks.shouldStop?.()) return { rows, completed: false }; // asked between runs
      await Deno.mkdir(runDir, { recursive: true });
      const checkpointPath = join(runDir, "checkpoint.safetensors");
      report(existsSync(checkpointPath) ? "resume" : "train");
      const res = await trainTranscoder(
        model,
        data.trainRows,
        {
          ...train,
          l1Coefficient: run.l1,
          sae: run.kind === "mlp_out_sae" ? "mlp_out" : undefined,
        },
        {
          checkpointPath,
          checkpointEvery: hooks.checkpointEvery ?? 100,
          modelName: hooks.modelName,
          shouldStop: hooks.shouldStop,
          onStep: (m) => hooks.onStep?.(run, m),
        },
      );
      if (!res.completed) return { rows, completed: false };
      await saveTranscoderFolder(dictDir, res.transcoder, {
        floatDtype: hooks.floatDtype ?? "F16",
      });
      // The checkpoint and its previous generation (saveCheckpoint keeps one) are spent.
      for (const f of [checkpointPath, `${checkpointPath}.prev`]) {
        if (existsSync(f)) await Deno.remove(f);
      }
    }
    report("evaluate");
    // Evaluate the stored dictionary (float16 by default), exactly what a reader of the folder gets.
    const dictionary = await loadTranscoder(dictDir);
    const { perLayer } = await evaluateTranscoders(model, [dictionary], data.evalRows, {
      batchSize: hooks.evalBatchSize,
      quiet: hooks.quiet,
    });
    const e = perLayer[0];
    // The folder's feature-frequency sidecar, from the held-out rows (the weights stay as written).
    await writeSafetensors(join(dictDir, SAELENS_FILES.sparsity), {
      sparsity: { dtype: "float32", shape: [e.logFrequencies.length], data: e.logFrequencies },
    });
    const row: SweepRow = {
      kind: run.kind,
      name,
      l1: run.l1,
      l0: e.l0,
      ceReplaced: e.ceReplaced,
      ceClean: e.ceClean,
      ceZeroAblated: e.ceZeroAblated,
      ceScore: e.ceScore,
      kl: e.kl,
      explainedVariance: e.explainedVariance,
      deadFeatures: e.deadFeatures,
      liveFeatures: e.liveFeatures,
    };
    await writeJson(evalPath, row);
    report("done");
    rows.push(row);
  }
  return { rows, completed: true };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
}

const sweepError = (m: string) => new SweepError(m);

async function readRow(path: string): Promise<SweepRow> {
  const raw = await readJsonObject(path, sweepError);
  for (const k of ["l1", "l0", "ceReplaced", "ceClean", "ceZeroAblated", "kl"]) {
    if (typeof raw[k] !== "number") {
      throw new SweepError(
        `${path}: field "${k}" is missing or not a number (delete the file to re-evaluate)`,
      );
    }
  }
  return raw as unknown as SweepRow;
}

/** Writes the plan, or checks that the folder's plan is this one. */
async function checkPlan(path: string, plan: Record<string, unknown>): Promise<void> {
  const want = JSON.parse(JSON.stringify(plan));
  if (!existsSync(path)) return await writeJson(path, want);
  const have = await readJsonObject(path, sweepError);
  for (const k of new Set([...Object.keys(want), ...Object.keys(have)])) {
    const a = JSON.stringify(want[k]), b = JSON.stringify(have[k]);
    if (a !== b) {
      throw new SweepError(
        `${path} is another sweep's: ${k} is ${a} here but ${b} there ` +
          `(use the same options to continue it, or another --out)`,
      );
    }
  }
}

/**
 * Campaigns that survive a loader that never returns. The inputs run in a worker
 * (campaign_worker.ts) that writes a heartbeat into shared memory: the input it is on, since
 * when, and the step (making the input, loading it, minimising it). When a load has run for
 * `hangMs` (default 10 s, ten times the budget), this thread counts the input as `over-time`,
 * writes it off, and starts a new worker at the next input. Results come back as messages and
 * are counted here; a failure comes with its input and is settled once the worker has located
 * and minimised it (or hung doing so). The worker inherits this thread's permissions.
 *
 * Deno's `Worker.terminate()` does not stop a worker that is busy in a loop (Deno 2.9), so a
 * hung worker is abandoned, still spinning on one core until the process exits; after
 * `maxHangs` hangs (default 3) the target's campaign stops early, and the report says how many
 * inputs ran.
 *
 * @module
 */
import { join } from "node:path";
import {
  BUDGET,
  type Budget,
  type Failure,
  failureKind,
  generateInput,
  type InputRecord,
  type RunResult,
  Tally,
  type TargetReport,
} from "./campaign.ts";
import { isFailure } from "./outcome.ts";
import type { FuzzInput } from "./seeds.ts";
import type { Target } from "./targets.ts";

/** The steps of the heartbeat, by code. */
export const STEPS = { generate: 1, load: 2, locate: 3, minimise: 4 } as const;

/** What the worker is asked to run. */
export interface WorkerJob {
  /** URL of the module whose `TARGETS` holds the target. */
  targets: string;
  target: string;
  seed: number;
  start: number;
  inputs: number;
  scratch: string;
  budget: Budget;
  /** Failures of each kind to minimise, and how many of each kind were already. */
  minimise: number;
  minimisedKinds: Record<string, number>;
  /** Float64 [input index, Date.now() when the step started, step code (STEPS)]. */
  heartbeat: SharedArrayBuffer;
}

/**
 * What the worker reports: each input's result; for a failure (which comes with its input), then
 * where it was thrown and its minimised form when those were looked for, then `settled`.
 */
export type WorkerMessage =
  | { type: "result"; ran: InputRecord; result: RunResult; rerun: boolean; input?: FuzzInput }
  | { type: "located"; where: string }
  | { type: "minimised"; input: FuzzInput }
  | { type: "settled" }
  | { type: "done" };

/** Options of {@linkcode runGuarded}. */
export interface GuardedOptions {
  seed: number;
  inputs: number;
  /** Index of the first input (default 0). */
  start?: number;
  /** An empty folder that folder inputs are written to. */
  scratch: string;
  budget?: Budget;
  /** Milliseconds after which a step counts as hung (default 10 s). */
  hangMs?: number;
  /** Hangs after which the campaign stops (default 3; each leaves a worker spinning). */
  maxHangs?: number;
  /** Failures of each kind to minimise before they are reported (default 0). */
  minimise?: number;
  /** URL of the module whose `TARGETS` holds the target (default targets.ts). */
  targets?: string;
  /** Called every 200 inputs. */
  onProgress?: (done: number, total: number, seconds: number) => void;
  /** Called for each failure with its reproducer (minimised or as found). */
  onFailure?: (failure: Failure, reproducer: FuzzInput, minimised: boolean) => void | Promise<void>;
}

async function clear(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    await Deno.remove(join(dir, e.name), { recursive: true });
  }
}

/** Where a worker stopped: at a hung step, or at the end (`undefined`). */
type Hang = { index: number; step: number } | undefined;

/**
 * Runs a target's campaign in a worker, starting a new one after an input that hangs.
 *
 * @example
 * ```ts
 * import { runGuarded } from "./guarded_campaign.ts";
 * import { targetByName } from "./targets.ts";
 * const scratch = await Deno.makeTempDir();
 * const report = await runGuarded(targetByName("zip")!, { seed: 1, inputs: 20, scratch });
 * report.inputs; // 20
 * await Deno.remove(scratch, { recursive: true });
 * ```
 */
export async function runGuarded(target: Target, options: GuardedOptions): Promise<TargetReport> {
  const { seed, inputs, start = 0, scratch, budget = BUDGET, hangMs = 10_000 } = options;
  const { maxHangs = 3, minimise = 0, onProgress, onFailure } = options;
  const targets = options.targets ?? new URL("./targets.ts", import.meta.url).href;
  const tally = new Tally(target.name, seed);
  const minimisedKinds: Record<string, number> = {};
  const t0 = performance.now();

  /** Runs inputs `from ..` to the end in one worker. */
  const runWorker = (from: number) =>
    new Promise<Hang>((resolve, reject) => {
      const heartbeat = new SharedArrayBuffer(24);
      const beat = new Float64Array(heartbeat);
      const worker = new Worker(new URL("./campaign_worker.ts", import.meta.url), {
        type: "module",
      });
      /** The failure being followed up, until it is settled. */
      let pending:
        | { ran: InputRecord; result: RunResult; rerun: boolean; raw: FuzzInput; input?: FuzzInput }
        | undefined;
      let chain = Promise.resolve();
      const stop = () => {
        clearInterval(timer);
        worker.terminate();
      };
      const count = (ran: InputRecord, result: RunResult, rerun: boolean) => {
        tally.add(ran, result, rerun);
        const done = tally.report().inputs;
        if (onProgress && done % 200 === 0) {
          onProgress(done, inputs, (performance.now() - t0) / 1000);
        }
      };
      /** Counts the pending failure and hands it on, minimised if it was. */
      const settle = async () => {
        const p = pending!;
        pending = undefined;
        count(p.ran, p.result, p.rerun);
        const failure: Failure = { parser: target.name, seed, ...p.ran, input: p.raw, ...p.result };
        minimisedKinds[failureKind(failure)] = (minimisedKinds[failureKind(failure)] ?? 0) + 1;
        await onFailure?.(failure, p.input ?? p.raw, p.input !== undefined);
      };
      const handle = async (m: WorkerMessage) => {
        if (m.type === "done") {
          stop();
          resolve(undefined);
        } else if (m.type === "result") {
          if (!isFailure(m.result.outcome)) count(m.ran, m.result, m.rerun);
          else pending = { ran: m.ran, result: { ...m.result }, rerun: m.rerun, raw: m.input! };
        } else if (m.type === "located") pending!.result.where = m.where;
        else if (m.type === "minimised") pending!.input = m.input;
        else await settle();
      };
      const timer = setInterval(() => {
        if (beat[1] === 0 || Date.now() - beat[1] < hangMs) return;
        stop();
        const hang = { index: beat[0], step: beat[2] };
        chain = chain.then(async () => {
          // A hang while following up a failure: it is settled with what is known of it.
          if (pending) await settle();
          resolve(hang);
        });
      }, 200);
      worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
        chain = chain.then(() => handle(e.data)).catch((err) => {
          stop();
          reject(err);
        });
      };
      worker.onerror = (e) => {
        e.preventDefault();
        stop();
        reject(new Error(`fuzz worker (${target.name}): ${e.message}`));
      };
      const job: WorkerJob = {
        targets,
        target: target.name,
        seed,
        start: from,
        inputs: start + inputs - from,
        scratch,
        budget,
        minimise,
        minimisedKinds: { ...minimisedKinds },
        heartbeat,
      };
      worker.postMessage(job);
    });

  let hangs = 0;
  for (let next = start; next < start + inputs && hangs < maxHangs;) {
    const hang = await runWorker(next);
    if (!hang) break;
    hangs++;
    await clear(scratch);
    if (hang.step === STEPS.generate) {
      throw new Error(
        `the fuzzer hung making input ${hang.index} of ${target.name} (a bug in a mutator, not in the parser)`,
      );
    }
    if (hang.step === STEPS.load) {
      const seeds = await target.seeds(scratch);
      const { input, ...ran } = generateInput(target, seeds, seed, hang.index);
      const result: RunResult = {
        outcome: "over-time",
        errorName: "",
        message: `still running after ${hangMs} ms: the worker running it was written off`,
        where: "",
        ms: hangMs,
        extraBytes: 0,
      };
      tally.add(ran, result);
      await onFailure?.({ parser: target.name, seed, ...ran, input, ...result }, input, false);
    }
    next = hang.index + 1;
  }
  return tally.report();
}

/**
 * The campaign runner: generates input `i` of a target deterministically from (campaign seed,
 * target, i), loads it within the budget (1 s, 200 MB), classifies the outcome and counts it.
 *
 * Inputs `0 .. seeds - 1` are the seeds themselves; every later one is a seed with one to five
 * stacked mutations of its files. A run is measured with the result still referenced: wall time
 * around the call, and the growth of resident memory and of the V8 heap plus external memory
 * (array buffers) across it, the larger of the two. Only big jumps count (the budget is 200 MB,
 * far above GC noise), and an input over the time or memory budget is run a second time and
 * counted as over only when it is over again. The scratch folder's listing is compared before
 * and after each call: a file that appears or changes there is a side effect.
 *
 * @module
 */
import { join } from "node:path";
import { MEMORY_BUDGET_BYTES, TIME_BUDGET_MS } from "../helpers/within_budget.ts";
import { mutateOnce } from "./byte_mutators.ts";
import { diffSnapshots, snapshotDir } from "./dir_snapshot.ts";
import { classifyError, isFailure, type Outcome, OUTCOMES } from "./outcome.ts";
import { chance, inputSeed, pick, Rng } from "./rng.ts";
import type { FuzzInput } from "./seeds.ts";
import type { Target } from "./targets.ts";

/** The limits one input must stay within. */
export interface Budget {
  ms: number;
  bytes: number;
}

/** The loaders' budget: 1 s and 200 MB of extra memory per input. */
export const BUDGET: Budget = { ms: TIME_BUDGET_MS, bytes: MEMORY_BUDGET_BYTES };

/** The outcome of loading one input. */
export interface RunResult {
  outcome: Outcome;
  /** The thrown error's name (`""` when the loader returned). */
  errorName: string;
  message: string;
  /** Where it was thrown: the innermost stack frame in lib/ (`""` when unknown). */
  where: string;
  ms: number;
  /** Extra memory held right after the call, in bytes. */
  extraBytes: number;
}

/** Keeps a loader's result reachable while memory is measured. */
const kept: unknown[] = [];

/** Removes everything in a folder (after a side effect left something there). */
async function clear(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    await Deno.remove(join(dir, e.name), { recursive: true });
  }
}

/**
 * Loads one input and classifies what happened. Folder inputs are written to `<scratch>/input`
 * first (and removed after); the scratch folder must otherwise be empty. `stackTraceLimit`
 * applies during the call (`Infinity` to find where a deep recursion started in lib/; not for
 * campaigns, as it makes every error thrown in a deep recursion capture its whole stack).
 *
 * @example
 * ```ts
 * import { execute } from "./campaign.ts";
 * import { targetByName } from "./targets.ts";
 * const scratch = await Deno.makeTempDir();
 * const zip = targetByName("zip")!;
 * const r = await execute(zip, new Map([["input.zip", new Uint8Array([1, 2, 3])]]), scratch);
 * r.outcome; // "refused"
 * r.errorName; // "ZipError"
 * await Deno.remove(scratch, { recursive: true });
 * ```
 */
export async function execute(
  target: Target,
  input: FuzzInput,
  scratch: string,
  budget: Budget = BUDGET,
  stackTraceLimit: number = Error.stackTraceLimit,
): Promise<RunResult> {
  const dir = target.folder ? join(scratch, "input") : scratch;
  if (target.folder) {
    await Deno.mkdir(dir);
    for (const [name, bytes] of input) await Deno.writeFile(join(dir, name), bytes);
  }
  const before = await snapshotDir(scratch);
  let error: unknown, threw = false;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = stackTraceLimit;
  const m0 = Deno.memoryUsage();
  const t0 = performance.now();
  try {
    kept.push(await target.load(input, dir));
  } catch (e) {
    threw = true;
    error = e;
  }
  const ms = performance.now() - t0;
  const m1 = Deno.memoryUsage();
  Error.stackTraceLimit = limit;
  kept.length = 0;
  const extraBytes = Math.max(
    m1.rss - m0.rss,
    m1.heapUsed + m1.external - m0.heapUsed - m0.external,
  );
  const changes = diffSnapshots(before, await snapshotDir(scratch));
  const result = (outcome: Outcome, errorName: string, message: string, where = ""): RunResult => ({
    outcome,
    errorName,
    message,
    where,
    ms,
    extraBytes,
  });
  if (changes.length) {
    await clear(scratch);
    return result("side-effect", "", `the scratch folder changed: ${changes.join("; ")}`);
  }
  if (target.folder) await Deno.remove(dir, { recursive: true });
  const verdict = threw
    ? classifyError(error)
    : { outcome: "parsed" as Outcome, name: "", message: "", where: "" };
  if (isFailure(verdict.outcome)) {
    return result(verdict.outcome, verdict.name, verdict.message, verdict.where);
  }
  const how = threw ? `${verdict.name} after` : "returned after";
  if (extraBytes > budget.bytes) {
    return result(
      "over-memory",
      verdict.name,
      `${how} taking ${(extraBytes / 2 ** 20).toFixed(0)} MB more memory (budget ${
        (budget.bytes / 2 ** 20).toFixed(0)
      } MB)`,
    );
  }
  if (ms > budget.ms) {
    return result("over-time", verdict.name, `${how} ${ms.toFixed(0)} ms (budget ${budget.ms} ms)`);
  }
  return result(verdict.outcome, verdict.name, verdict.message);
}

/** One input of a campaign and how it was made. */
export interface GeneratedInput {
  index: number;
  input: FuzzInput;
  /** The seed it was mutated from. */
  seedIndex: number;
  /** `file:mutator` for each mutation applied, in order (none for a seed itself). */
  mutations: string[];
}

/**
 * Input `index` of `target`'s campaign: the seed itself for `index < seeds.length`, otherwise a
 * seed with 1 to 5 mutations (half of the inputs have exactly one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateInput } from "./campaign.ts";
 * import { targetByName } from "./targets.ts";
 * const zip = targetByName("zip")!;
 * const seeds = await zip.seeds("");
 * const a = generateInput(zip, seeds, 1, 100), b = generateInput(zip, seeds, 1, 100);
 * assert.deepEqual(a, b); // deterministic
 * generateInput(zip, seeds, 1, 0).mutations; // [] (seed 0 itself)
 * ```
 */
export function generateInput(
  target: Target,
  seeds: readonly FuzzInput[],
  campaignSeed: number,
  index: number,
): GeneratedInput {
  if (index < seeds.length) {
    return { index, input: new Map(seeds[index]), seedIndex: index, mutations: [] };
  }
  const rng = new Rng(inputSeed(campaignSeed, target.name, index));
  const seedIndex = rng.int(seeds.length);
  const input = new Map(seeds[seedIndex]);
  const donor = pick(rng, seeds);
  const n = chance(rng, 0.5) ? 1 : chance(rng, 0.6) ? 2 : 3 + rng.int(3);
  const mutations: string[] = [];
  for (let k = 0; k < n; k++) {
    const files = [...input.keys()].filter((f) => target.mutators[f]);
    if (!files.length) break;
    const file = pick(rng, files);
    const bytes = input.get(file)!;
    const { name, bytes: out } = mutateOnce(
      target.mutators[file],
      bytes,
      rng,
      donor.get(file) ?? bytes,
    );
    if (out === null) input.delete(file);
    else input.set(file, out);
    mutations.push(`${file}:${name}`);
  }
  return { index, input, seedIndex, mutations };
}

/** A failing input. */
export interface Failure extends RunResult, GeneratedInput {
  parser: string;
  seed: number;
}

/** Counts of one target's campaign. */
export interface TargetReport {
  parser: string;
  inputs: number;
  counts: Record<Outcome, number>;
  /** The failures, without their inputs (regenerate one with {@linkcode generateInput}). */
  failures: Omit<Failure, "input">[];
  /** Seeds that were not parsed (each should be). */
  refusedSeeds: string[];
  /** Inputs over the time or memory budget once but within it when run again. */
  reruns: number;
  seconds: number;
}

/** What is known of one input once it ran (its bytes are left out). */
export type InputRecord = Omit<GeneratedInput, "input">;

/**
 * Adds up the outcomes of a campaign's inputs into a {@linkcode TargetReport}.
 *
 * @example
 * ```ts
 * import { Tally } from "./campaign.ts";
 * const tally = new Tally("zip", 1);
 * const ran = { index: 5, seedIndex: 0, mutations: ["input.zip:bytes.truncate"] };
 * tally.add(ran, { outcome: "refused", errorName: "ZipError", message: "x", where: "", ms: 1, extraBytes: 0 });
 * tally.report().counts.refused; // 1
 * ```
 */
export class Tally {
  readonly #t0 = performance.now();
  readonly #report: TargetReport;
  readonly #seed: number;

  constructor(parser: string, seed: number) {
    this.#seed = seed;
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
    this.#report = {
      parser,
      inputs: 0,
      counts,
      failures: [],
      refusedSeeds: [],
      reruns: 0,
      seconds: 0,
    };
  }

  /** Counts one input; `rerun` when it was over budget once and within it when run again. */
  add(ran: InputRecord, result: RunResult, rerun = false): void {
    const r = this.#report;
    r.inputs++;
    r.counts[result.outcome]++;
    if (rerun) r.reruns++;
    if (ran.mutations.length === 0 && result.outcome !== "parsed") {
      r.refusedSeeds.push(
        `seed ${ran.index}: ${result.outcome} ${result.errorName}: ${result.message}`,
      );
    }
    if (isFailure(result.outcome)) {
      r.failures.push({ parser: r.parser, seed: this.#seed, ...ran, ...result });
    }
  }

  /** The report so far. */
  report(): TargetReport {
    return { ...this.#report, seconds: (performance.now() - this.#t0) / 1000 };
  }
}

/** Options of {@linkcode runTarget}. */
export interface CampaignOptions {
  /** The campaign seed. */
  seed: number;
  /** How many inputs. */
  inputs: number;
  /** Index of the first input (default 0). */
  start?: number;
  /** An empty folder that folder inputs are written to; nothing else may appear in it. */
  scratch: string;
  budget?: Budget;
  /** Called every 200 inputs. */
  onProgress?: (done: number, total: number, seconds: number) => void;
  /** Called before each input is generated and before it runs. */
  onStep?: (index: number, step: "generate" | "load") => void;
  /** Called with each input's result (awaited before the next input runs). */
  onResult?: (generated: GeneratedInput, result: RunResult, rerun: boolean) => void | Promise<void>;
}

/**
 * Runs a target's campaign in this thread: inputs `start .. start + inputs - 1`. (An input that
 * never returns stops it: {@linkcode runGuarded} of guarded_campaign.ts runs it in a worker that
 * is terminated and restarted after such an input.)
 *
 * @example
 * ```ts
 * import { runTarget } from "./campaign.ts";
 * import { targetByName } from "./targets.ts";
 * const scratch = await Deno.makeTempDir();
 * const report = await runTarget(targetByName("safetensors")!, { seed: 1, inputs: 50, scratch });
 * report.counts.parsed + report.counts.refused; // 50, unless the parser has a bug
 * await Deno.remove(scratch, { recursive: true });
 * ```
 */
export async function runTarget(target: Target, options: CampaignOptions): Promise<TargetReport> {
  const { seed, inputs, start = 0, scratch, budget = BUDGET, onProgress, onStep, onResult } =
    options;
  const seeds = await target.seeds(scratch);
  const tally = new Tally(target.name, seed);
  const t0 = performance.now();
  for (let i = start; i < start + inputs; i++) {
    onStep?.(i, "generate");
    const generated = generateInput(target, seeds, seed, i);
    onStep?.(i, "load");
    let result = await execute(target, generated.input, scratch, budget);
    let rerun = false;
    if (result.outcome === "over-time" || result.outcome === "over-memory") {
      const again = await execute(target, generated.input, scratch, budget);
      if (again.outcome !== result.outcome) [rerun, result] = [true, again];
    }
    const { input: _, ...ran } = generated;
    tally.add(ran, result, rerun);
    await onResult?.(generated, result, rerun);
    if (onProgress && (i - start + 1) % 200 === 0) {
      onProgress(i - start + 1, inputs, (performance.now() - t0) / 1000);
    }
  }
  return tally.report();
}

/**
 * A failure's kind, for grouping: parser, outcome, error name, and the message with numbers and
 * quoted names blanked.
 *
 * @example
 * ```ts
 * import { failureKind } from "./campaign.ts";
 * failureKind({ parser: "zip", outcome: "internal-error", errorName: "RangeError", message: 'entry "a": offset 12 is out of bounds' });
 * // 'zip internal-error RangeError: entry "…": offset N is out of bounds'
 * ```
 */
export function failureKind(
  f: Pick<Failure, "parser" | "outcome" | "errorName" | "message">,
): string {
  const message = f.message.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, "N");
  return `${f.parser} ${f.outcome} ${f.errorName || "-"}: ${message}`;
}

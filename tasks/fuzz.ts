/**
 * `deno task fuzz`: a longer campaign of the seeded mutation fuzzer of tests/fuzz/ (the test
 * suite runs a short one). Prints progress and a table of counts per parser and outcome, and
 * writes a reproducer plus a JSON description for every failure into `--out` (the first few of
 * each kind minimised), and `summary.json`. Returns 1 when any input failed. See
 * docs/fuzzing.md.
 *
 * The task runs without run and net permissions and writes only under `.cache/`, so a loader that
 * spawns a process or connects is caught by a permission error.
 *
 * @module
 */
import { join } from "node:path";
import { failureKind, type TargetReport } from "../tests/fuzz/campaign.ts";
import { runGuarded } from "../tests/fuzz/guarded_campaign.ts";
import { OUTCOMES } from "../tests/fuzz/outcome.ts";
import { writeReproducer } from "../tests/fuzz/reproducer.ts";
import { type Target, targetByName, TARGETS } from "../tests/fuzz/targets.ts";
import { printTable } from "./bench_util.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

const NAMES = TARGETS.map((t) => t.name);

/** The command line of `deno task fuzz`. */
export const FUZZ_COMMAND = {
  name: "deno task fuzz",
  summary: `Mutation-fuzzes the file parsers and loaders (${
    NAMES.join(", ")
  }) from valid seed files: every input must be parsed or refused with the project's own error class, within 1 s and 200 MB, without side effects. See docs/fuzzing.md.`,
  options: {
    inputs: { type: "integer", default: 10000, min: 1, arg: "n", help: "inputs per parser" },
    seed: { type: "integer", default: 1, min: 0, max: 2 ** 32 - 1, help: "campaign seed" },
    start: {
      type: "integer",
      default: 0,
      min: 0,
      arg: "i",
      help: "index of the first input (--start I --inputs 1 runs input I again)",
    },
    parser: {
      type: "string",
      default: "all",
      arg: "names",
      help: `parsers to fuzz, comma-separated: ${NAMES.join(", ")}, or all`,
    },
    out: {
      type: "string",
      default: ".cache/fuzz",
      arg: "dir",
      help: "folder for reproducers and summary.json (deno task fuzz may write only under .cache/)",
    },
    minimise: {
      type: "integer",
      default: 5,
      min: 0,
      help: "failures of each kind to minimise; later ones are written as found",
    },
  },
} as const satisfies CommandSpec;

/** Runs `deno task fuzz` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(FUZZ_COMMAND, args, fuzz);
}

function parseTargets(list: string): Target[] {
  if (list === "all") return [...TARGETS];
  return list.split(",").map((name) => {
    const t = targetByName(name.trim());
    if (!t) {
      throw new UsageError(`--parser must be ${NAMES.join(", ")} or all, got "${name.trim()}"`);
    }
    return t;
  });
}

/** One kind of failure: how many, and the first one with its reproducer's path. */
interface Kind {
  first: TargetReport["failures"][number];
  count: number;
  path: string;
}

async function fuzz(values: OptionValues<typeof FUZZ_COMMAND.options>): Promise<number> {
  const targets = parseTargets(values.parser);
  await Deno.mkdir(values.out, { recursive: true });
  const scratch = await Deno.makeTempDir({ dir: values.out, prefix: "scratch-" });
  const started = new Date();
  const reports: TargetReport[] = [];
  const kinds = new Map<string, Kind>();
  try {
    for (const target of targets) {
      let lastPrint = 0;
      const report = await runGuarded(target, {
        seed: values.seed,
        inputs: values.inputs,
        start: values.start,
        scratch,
        minimise: values.minimise,
        onProgress(done, total, seconds) {
          if (seconds - lastPrint < 5) return;
          lastPrint = seconds;
          console.log(
            `${target.name}: ${done}/${total} inputs, ${(done / seconds).toFixed(0)} inputs/s`,
          );
        },
        async onFailure(f, input, minimised) {
          const path = await writeReproducer(values.out, target, f, input, minimised);
          const kind = kinds.get(failureKind(f));
          if (kind) kind.count++;
          else {
            const { input: _, ...first } = f;
            kinds.set(failureKind(f), { first, count: 1, path });
          }
        },
      });
      reports.push(report);
      console.log(
        `${target.name}: ${report.inputs} inputs in ${report.seconds.toFixed(1)} s (${
          (report.inputs / report.seconds).toFixed(0)
        } inputs/s, minimisation included), ${report.failures.length} failures`,
      );
      if (report.inputs < values.inputs) {
        console.log(`  stopped early: inputs kept hanging (see docs/fuzzing.md)`);
      }
      for (const s of report.refusedSeeds) console.log(`  warning: ${s}`);
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
  const seconds = (Date.now() - started.getTime()) / 1000;
  const last = values.start + values.inputs - 1;
  console.log(
    `\nCounts per parser and outcome (seed ${values.seed}, inputs ${values.start}..${last}, ${
      seconds.toFixed(0)
    } s):\n`,
  );
  printTable(
    ["parser", ...OUTCOMES, "reruns", "seconds"],
    reports.map((r) => [
      r.parser,
      ...OUTCOMES.map((o) => r.counts[o]),
      r.reruns,
      r.seconds.toFixed(1),
    ]),
  );
  if (kinds.size) {
    console.log(`\nDistinct failures (${kinds.size}; reproducers in ${values.out}):\n`);
    printTable(
      ["parser", "outcome", "error", "where", "count", "example", "message"],
      [...kinds.values()].map(({ first: f, count, path }) => [
        f.parser,
        f.outcome,
        f.errorName || "-",
        f.where || "-",
        count,
        path,
        f.message.length > 160 ? `${f.message.slice(0, 157)}...` : f.message,
      ]),
    );
  }
  const summary = {
    options: values,
    started: started.toISOString(),
    seconds: Math.round(seconds),
    reports: reports.map(({ failures, ...r }) => ({ ...r, failures: failures.length })),
    failureKinds: [...kinds].map(([kind, { first: f, count, path }]) => ({
      kind,
      count,
      outcome: f.outcome,
      errorName: f.errorName,
      message: f.message,
      where: f.where,
      example: path,
    })),
  };
  await Deno.writeTextFile(
    join(values.out, "summary.json"),
    JSON.stringify(summary, null, 2) + "\n",
  );
  return kinds.size ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * The headless-notebook soak run behind docs/notebooks.md: runs every notebook `--runs` times, one
 * after another, with the README's plain nbconvert command in the real Deno kernel, beside two CPU
 * hogs (busy shell loops), and checks each run as the notebook tests do (`runNotebookChecked`'s
 * checks: no error, every expected result, every line of a Deno-module reference run). Prints one
 * line per run and a summary; writes every run's result to `--out` (JSONL).
 *
 *     deno run -A tests/notebooks/soak.ts --runs 50 --out .cache/notebook_soak.jsonl [--only attributionGraphs]
 */
import { parseArgs } from "node:util";
import { NOTEBOOKS, type NotebookSpec } from "./expectations.ts";
import { lostOutputs, type NotebookRun, runWithDeno, runWithJupyter } from "./notebook_runner.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "50" },
    hogs: { type: "string", default: "2" },
    out: { type: "string", default: ".cache/notebook_soak.jsonl" },
    /** Comma-separated notebook names (keys of NOTEBOOKS); default all. */
    only: { type: "string" },
  },
});
const runs = Number(values.runs), nHogs = Number(values.hogs);

function check(spec: NotebookSpec, run: NotebookRun, reference: NotebookRun): string[] {
  const text = run.cells.join("\n");
  return [
    ...run.errors.map((e) => `error: ${e}`),
    ...spec.expected.filter(([re]) => !re.test(text)).map(([, what]) => `missing: ${what}`),
    ...lostOutputs(run, reference).map((l) => `lost: ${l}`),
  ];
}

const hogs = Array.from(
  { length: nHogs },
  () => new Deno.Command("sh", { args: ["-c", "while :; do :; done"], stdout: "null" }).spawn(),
);
await Deno.mkdir(".cache", { recursive: true });
const out = await Deno.open(values.out, { write: true, create: true, truncate: true });
const wanted = values.only?.split(",").map((x) => x.trim());
const specs = Object.entries(NOTEBOOKS).filter(([name]) => !wanted || wanted.includes(name));
if (specs.length === 0) throw new Error(`--only ${values.only}: none of ${Object.keys(NOTEBOOKS)}`);
const references = new Map<string, NotebookRun>();
const failed = new Map<string, number>();
try {
  for (const [name, spec] of specs) references.set(name, await runWithDeno(spec.path, spec.env));
  for (let i = 1; i <= runs; i++) {
    for (const [name, spec] of specs) {
      const run = await runWithJupyter(spec.path, spec.env);
      const problems = check(spec, run, references.get(name)!);
      if (problems.length > 0) failed.set(name, (failed.get(name) ?? 0) + 1);
      const line = { name, run: i, seconds: Math.round(run.seconds), problems };
      await out.write(new TextEncoder().encode(JSON.stringify(line) + "\n"));
      console.log(
        `${name} run ${i}/${runs}: ${run.seconds.toFixed(0)} s, ` +
          (problems.length === 0 ? "every output" : problems.join("; ")),
      );
    }
  }
} finally {
  for (const h of hogs) h.kill("SIGKILL");
  out.close();
}
for (const [name] of specs) {
  console.log(`${name}: ${failed.get(name) ?? 0} of ${runs} runs lost or missed an output`);
}

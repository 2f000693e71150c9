/**
 * Runs a Deno notebook headlessly and collects its outputs: in the real Deno Jupyter kernel
 * through `jupyter nbconvert --execute` when Jupyter and the `deno` kernelspec are installed
 * (always in CI, where `TC_REQUIRE_JUPYTER=1` makes their absence an error), otherwise by
 * running the notebook's code cells in order as one Deno module (the kernel also shares one
 * module scope across cells), where `show()` prints the text form of each rich output.
 *
 * To get the real kernel: `npm i -g deno@2.9.6`, `sudo apt-get install -y
 * --no-install-recommends jupyter-nbconvert python3-nbclient python3-jupyter-client
 * jupyter-client jupyter-core python3-ipykernel`, `deno jupyter --install`.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { runSnippet } from "../helpers/run_snippet.ts";

/** What a notebook run produced. */
export interface NotebookRun {
  mode: "jupyter" | "deno";
  /** Per code cell: everything it printed or displayed (text/plain and text/html joined). */
  cells: string[];
  /** Error outputs (name: value), empty when every cell ran. */
  errors: string[];
  /**
   * Per code cell, the MIME bundles of its display and result outputs as the kernel sent them
   * (Jupyter runs only; empty lists in Deno runs).
   */
  bundles: Record<string, string>[][];
  seconds: number;
}

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: {
    output_type: string;
    text?: string | string[];
    data?: Record<string, string | string[]>;
    ename?: string;
    evalue?: string;
  }[];
}

const text = (x: string | string[] | undefined) => (Array.isArray(x) ? x.join("") : x ?? "");

/** Whether `jupyter` and its `deno` kernelspec are installed. */
export function jupyterAvailable(): boolean {
  try {
    const out = new Deno.Command("jupyter", {
      args: ["kernelspec", "list", "--json"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success && "deno" in JSON.parse(new TextDecoder().decode(out.stdout)).kernelspecs;
  } catch {
    return false;
  }
}

/** An unexecuted code cell (nbformat 4.5). */
export function codeCell(source: string, id: string): Record<string, unknown> {
  return { cell_type: "code", execution_count: null, id, metadata: {}, outputs: [], source };
}

/** Writes a notebook of code cells for the Deno kernel. */
export async function writeNotebook(path: string, sources: readonly string[]): Promise<void> {
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      cells: sources.map((source, i) => codeCell(source, `c${i}`)),
      metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
}

/**
 * Executes a notebook in the real Deno kernel with the README's own command (`jupyter nbconvert
 * --to notebook --execute --ExecutePreprocessor.kernel_name=deno`, the kernel started in the
 * notebook's folder so that it finds `deno.json`), writing the executed copy to a temporary folder.
 */
export async function runWithJupyter(
  path: string,
  env: Record<string, string> = {},
  timeoutSeconds = 900,
): Promise<NotebookRun> {
  const t0 = performance.now();
  const outDir = await Deno.makeTempDir();
  try {
    return await execute(path, outDir, env, timeoutSeconds, t0);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

async function execute(
  path: string,
  outDir: string,
  env: Record<string, string>,
  timeoutSeconds: number,
  t0: number,
): Promise<NotebookRun> {
  const out = await new Deno.Command("jupyter", {
    args: [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      "--ExecutePreprocessor.kernel_name=deno",
      `--ExecutePreprocessor.timeout=${timeoutSeconds}`,
      "--allow-errors",
      "--output-dir",
      outDir,
      "--output",
      "executed.ipynb",
      resolve(path),
    ],
    cwd: dirname(resolve(path)),
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`nbconvert failed:\n${new TextDecoder().decode(out.stderr).slice(-3000)}`);
  }
  const nb = JSON.parse(await Deno.readTextFile(join(outDir, "executed.ipynb")));
  const cells: string[] = [], errors: string[] = [], bundles: Record<string, string>[][] = [];
  for (const c of nb.cells as Cell[]) {
    if (c.cell_type !== "code") continue;
    let s = "";
    const cellBundles: Record<string, string>[] = [];
    for (const o of c.outputs ?? []) {
      if (o.output_type === "error") errors.push(`${o.ename}: ${o.evalue}`);
      s += text(o.text) + text(o.data?.["text/plain"]) + text(o.data?.["text/html"]);
      if (o.data) {
        cellBundles.push(Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, text(v)])));
      }
    }
    cells.push(s);
    bundles.push(cellBundles);
  }
  return { mode: "jupyter", cells, errors, bundles, seconds: (performance.now() - t0) / 1000 };
}

/** Runs the code cells in order as one module with `deno run` (imports of `../mod.ts` resolved). */
export async function runWithDeno(
  path: string,
  env: Record<string, string> = {},
): Promise<NotebookRun> {
  const t0 = performance.now();
  const nb = JSON.parse(await Deno.readTextFile(path));
  const code = (nb.cells as Cell[]).filter((c) => c.cell_type === "code").map((c) =>
    text(c.source)
  );
  const marker = (i: number) => `@@cell ${i}@@`;
  const source = code.map((c, i) => `console.log(${JSON.stringify(marker(i))});\n${c}`).join("\n");
  const out = await runSnippet(source, { dir: dirname(resolve(path)), env });
  const stdout = out.stdout;
  const cells = code.map((_, i) => {
    const start = stdout.indexOf(marker(i));
    if (start < 0) return "";
    const end = stdout.indexOf(marker(i + 1));
    return stdout.slice(start + marker(i).length, end < 0 ? undefined : end);
  });
  const errors = out.success ? [] : [out.stderr.slice(-3000)];
  return {
    mode: "deno",
    cells,
    errors,
    bundles: cells.map(() => []),
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Runs a notebook in the real kernel when available; without Jupyter, CI (TC_REQUIRE_JUPYTER=1)
 * fails and other machines run the cells with `deno run`, saying so.
 */
export async function runNotebook(
  path: string,
  env: Record<string, string> = {},
): Promise<NotebookRun> {
  if (jupyterAvailable()) return await runWithJupyter(path, env);
  if (Deno.env.get("TC_REQUIRE_JUPYTER") === "1") {
    throw new Error(
      "TC_REQUIRE_JUPYTER=1 but Jupyter with the Deno kernel is not installed: apt-get install " +
        "jupyter-nbconvert python3-nbclient python3-jupyter-client jupyter-client jupyter-core python3-ipykernel; deno jupyter --install",
    );
  }
  console.error(
    `note: Jupyter with the Deno kernel is not installed, so ${path} runs as one Deno module ` +
      "(cells in order, rich outputs as text); see tests/notebooks/notebook_runner.ts to get the real kernel",
  );
  return await runWithDeno(path, env);
}

/** A result a notebook must show, and what it is. */
export type Expectation = [RegExp, string];

/**
 * The lines of a Deno-module run's cell (what `show` and `print` printed) that a kernel run of the
 * same cell must also contain: every non-empty line, trimmed.
 */
function expectedLines(cell: string): string[] {
  return cell.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
}

/**
 * The outputs a kernel run lost: for each cell, the lines the Deno-module run printed that the
 * kernel run's outputs (text/plain, streams) lack. Both runs compute the same numbers (the same
 * model, corpus and runtime), so any difference is a lost output.
 */
export function lostOutputs(kernel: NotebookRun, reference: NotebookRun): string[] {
  const lost: string[] = [];
  reference.cells.forEach((cell, i) => {
    const got = kernel.cells[i] ?? "";
    for (const line of expectedLines(cell)) {
      if (!got.includes(line)) lost.push(`cell ${i}: ${line.slice(0, 120)}`);
    }
  });
  return lost;
}

/** What `runNotebookChecked` found. */
export interface CheckedRun {
  run: NotebookRun;
  /** Every cell's output, joined. */
  text: string;
}

/**
 * Runs a notebook once (`runNotebook`) and checks that it showed everything: no error output,
 * every expected result, and in the kernel every line that the same notebook printed when run as
 * one Deno module (`lostOutputs`), so that an output lost between kernel and client fails the
 * test. There is no retry: a lost output is a failure (docs/notebooks.md).
 */
export async function runNotebookChecked(
  path: string,
  env: Record<string, string>,
  expected: readonly Expectation[],
): Promise<CheckedRun> {
  const run = await runNotebook(path, env);
  if (run.errors.length > 0) {
    throw new Error(`${path} failed (${run.mode} run):\n${run.errors.join("\n")}`);
  }
  const text = run.cells.join("\n");
  const missing = expected.filter(([re]) => !re.test(text));
  const lost = run.mode === "jupyter" ? lostOutputs(run, await runWithDeno(path, env)) : [];
  if (missing.length > 0 || lost.length > 0) {
    throw new Error(
      `${path} (${run.mode} run, ${run.seconds.toFixed(0)} s) ran every cell but ` +
        (missing.length > 0 ? `never showed ${missing.map(([, w]) => w).join(", ")}; ` : "") +
        (lost.length > 0 ? `lost ${lost.length} output line(s):\n${lost.join("\n")}\n` : "") +
        `it printed:\n${run.cells.map((c, i) => `[cell ${i}] ${c.slice(0, 400)}`).join("\n")}`,
    );
  }
  return { run, text };
}

/**
 * The relative errors of the attribution-versus-intervention lines a notebook printed
 * (`... (relative error 1.6e-7)`).
 */
export function interventionErrors(text: string): number[] {
  return [...text.matchAll(/relative error ([\d.e+-]+)\)/g)].map((m) => Number(m[1]));
}

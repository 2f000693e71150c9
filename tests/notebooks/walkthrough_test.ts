/**
 * notebooks/walkthrough.ipynb runs headlessly on the embedded tiny model, in the real Deno
 * Jupyter kernel when it is installed (always in CI), else as one Deno module (see
 * notebook_runner.ts), and shows its key results: no error, the live-feature count, a feature
 * dashboard, the evaluation, greedy paths, filters, the graph with error nodes, attributions
 * equal to interventions (relative error < 1e-3), de-embeddings and pullbacks.
 *
 * Deno's kernel (2.9.6) sometimes loses a cell's output messages on their way to the client when
 * the machine is loaded: measured here, 3 of 18 headless runs beside a CPU hog lost one or two
 * outputs (a print or a dashboard) while every cell ran without error, and nbclient received
 * fewer display messages. So a run whose cells all succeed but that lacks some results is
 * repeated, up to three runs in all, and each result must appear in at least one of them; every
 * rerun is reported on stderr with what was missing. Any error output fails at once.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type NotebookRun, runNotebook } from "./notebook_runner.ts";

const notebook = fileURLToPath(new URL("../../notebooks/walkthrough.ipynb", import.meta.url));
const MAX_RUNS = 3;

/** The results the notebook must show, each with what it is. */
const expected: [RegExp, string][] = [
  [/model tiny: 4 layers, d_model \d+, transcoders for layers 0, 1, 2, 3/, "the model summary"],
  [/\d+ rows of 128 tokens/, "the corpus size"],
  [/\d+ live features of \d+ \(log10 frequency > -4\)/, "the live-feature count"],
  [/Firing frequency: [\d.]+%/, "the dashboard"],
  [/Between [\d.]+ and [\d.]+: [\d.]+%/, "activation bands"],
  [
    /CE clean [\d.]+, all replaced [\d.]+, zero-ablated [\d.]+ nats; CE score [-\d.]+; KL [\d.]+/,
    "the evaluation",
  ],
  [/Path \[0\]\[0\]: mlp\d+tc\[\d+\]@-1: [\d.e+-]+ <- /, "greedy paths"],
  [/\d+ paths avoid the layer-0 transcoder; \d+ end in an embedding/, "path filters"],
  [/tc_error/, "error nodes"],
  [/attribution [-\d.]+, measured [-\d.]+ \(relative error/, "attribution checks"],
  [/Most-positive de-embedding tokens/, "de-embeddings"],
  [/Most-positive transcoder features/, "pullbacks"],
  [/top-10 overlap of the pullback and the mean input-times-gradient \d+%/, "mean IxG"],
];

Deno.test({
  name: "the walkthrough notebook runs on the tiny model and shows its key results",
  async fn() {
    const runs: NotebookRun[] = [];
    let missing = expected;
    while (runs.length < MAX_RUNS) {
      const run = await runNotebook(notebook, { TC_MODEL: "tiny", TC_ROWS: "128" });
      runs.push(run);
      assert.deepEqual(
        run.errors,
        [],
        `the notebook failed (${run.mode}):\n${run.errors.join("\n")}`,
      );
      const all = run.cells.join("\n");
      missing = missing.filter(([re]) => !re.test(all));
      if (missing.length === 0) break;
      console.error(
        `note: run ${runs.length} of the notebook (${run.mode}, ${run.seconds.toFixed(0)} s) ` +
          `ran every cell but its outputs lack ${missing.map(([, w]) => w).join(", ")}` +
          (runs.length < MAX_RUNS ? "; running it again" : ""),
      );
    }
    const outline = runs.at(-1)!.cells.map((c, i) => `[cell ${i}] ${c.slice(0, 400)}`).join("\n");
    assert.deepEqual(
      missing.map(([, what]) => what),
      [],
      `missing from ${runs.length} ${
        runs[0].mode
      } run(s); the last one's cells printed:\n${outline}`,
    );
    const errors = runs.flatMap((r) =>
      [...r.cells.join("\n").matchAll(/relative error ([\d.e+-]+)\)/g)].map((m) => Number(m[1]))
    );
    assert.ok(errors.length >= 5, "too few attribution checks");
    for (const e of errors) assert.ok(e < 1e-3, `an attribution misses its intervention by ${e}`);
  },
});

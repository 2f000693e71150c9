/**
 * notebooks/walkthrough.ipynb runs headlessly on the embedded tiny model, in the real Deno
 * Jupyter kernel when it is installed (always in CI), else as one Deno module (see
 * notebook_runner.ts), and shows its key results: no error, the live-feature count, a feature
 * dashboard, the evaluation, greedy paths, filters, the graph with error nodes, attributions
 * equal to interventions (relative error < 1e-3), de-embeddings and pullbacks.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runNotebook } from "./notebook_runner.ts";

const notebook = fileURLToPath(new URL("../../notebooks/walkthrough.ipynb", import.meta.url));

Deno.test({
  name: "the walkthrough notebook runs on the tiny model and shows its key results",
  async fn() {
    const run = await runNotebook(notebook, { TC_MODEL: "tiny", TC_ROWS: "128" });
    assert.deepEqual(
      run.errors,
      [],
      `the notebook failed (${run.mode}):\n${run.errors.join("\n")}`,
    );
    const all = run.cells.join("\n");
    const expect = (re: RegExp, what: string) =>
      assert.match(all, re, `missing ${what} (${run.mode} run)`);
    expect(
      /model tiny: 4 layers, d_model \d+, transcoders for layers 0, 1, 2, 3/,
      "the model summary",
    );
    expect(/\d+ live features of \d+ \(log10 frequency > -4\)/, "the live-feature count");
    expect(/Firing frequency: [\d.]+%/, "the dashboard");
    expect(/Between [\d.]+ and [\d.]+: [\d.]+%/, "activation bands");
    expect(
      /CE clean [\d.]+, all replaced [\d.]+, zero-ablated [\d.]+ nats; CE score [-\d.]+; KL [\d.]+/,
      "the evaluation",
    );
    expect(/Path \[0\]\[0\]: mlp\d+tc\[\d+\]@-1: [\d.e+-]+ <- /, "greedy paths");
    expect(/\d+ paths avoid the layer-0 transcoder; \d+ end in an embedding/, "path filters");
    expect(/tc_error/, "error nodes");
    expect(/Most-positive de-embedding tokens/, "de-embeddings");
    expect(/Most-positive transcoder features/, "pullbacks");
    expect(/top-10 overlap of the pullback and the mean input-times-gradient \d+%/, "mean IxG");
    const errors = [...all.matchAll(/relative error ([\d.e+-]+)\)/g)].map((m) => Number(m[1]));
    assert.ok(errors.length >= 5, "too few attribution checks");
    for (const e of errors) assert.ok(e < 1e-3, `an attribution misses its intervention by ${e}`);
  },
});

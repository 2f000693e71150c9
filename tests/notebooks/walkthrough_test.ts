/**
 * notebooks/walkthrough.ipynb runs headlessly on the embedded tiny model, in the real Deno
 * Jupyter kernel when it is installed (always in CI), else as one Deno module (see
 * notebook_runner.ts), and shows its key results: no error, the live-feature count, a feature
 * dashboard, the evaluation, greedy paths, filters, the graph with error nodes, attributions
 * equal to interventions (relative error < 1e-3), de-embeddings and pullbacks. A kernel run
 * must also show every line that a Deno-module run of it prints (see `runNotebookChecked`).
 */
import assert from "node:assert/strict";
import { interventionErrors, runNotebookChecked } from "./notebook_runner.ts";
import { NOTEBOOKS } from "./expectations.ts";

const { path, env, expected } = NOTEBOOKS.walkthrough;

Deno.test({
  name: "the walkthrough notebook runs on the tiny model and shows its key results",
  async fn() {
    const { text } = await runNotebookChecked(path, env, expected);
    const errors = interventionErrors(text);
    assert.ok(errors.length >= 5, "too few attribution checks");
    for (const e of errors) assert.ok(e < 1e-3, `an attribution misses its intervention by ${e}`);
  },
});

/**
 * notebooks/walkthrough.ipynb runs headlessly on the embedded tiny model, in the real Deno
 * Jupyter kernel when it is installed (always in CI), else as one Deno module (see
 * notebook_runner.ts), and shows its key results: no error, the live-feature count, a feature
 * dashboard, the evaluation, greedy paths, filters, the graph with error nodes, attributions
 * equal to interventions (relative error < 1e-3), de-embeddings and pullbacks. A run that lost
 * outputs in the kernel is repeated (see `runNotebookExpecting`).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Expectation, interventionErrors, runNotebookExpecting } from "./notebook_runner.ts";

const notebook = fileURLToPath(new URL("../../notebooks/walkthrough.ipynb", import.meta.url));

const expected: Expectation[] = [
  [/model tiny: 4 layers, d_model \d+, transcoders for layers 0, 1, 2, 3/, "the model summary"],
  [/\d+ rows of 128 tokens/, "the corpus size"],
  [/\d+ live features of \d+ \(log10 frequency > -4\)/, "the live-feature count"],
  [/Firing frequency: [\d.]+%/, "the dashboard"],
  [/Between [\d.]+ and [\d.]+: [\d.]+%/, "activation bands"],
  [
    /CE clean [\d.]+, all replaced [\d.]+, zero-ablated [\d.]+ nats; CE score [-\d.]+; KL [\d.]+/,
    "the evaluation",
  ],
  [/Path \[0\]\[0\]: mlp\d+tc\[\d+\]@-1 "[^"]*": [\d.e+-]+ <- \S+@\d+ "/, "greedy paths"],
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
    const { text } = await runNotebookExpecting(
      notebook,
      { TC_MODEL: "tiny", TC_ROWS: "128" },
      expected,
    );
    const errors = interventionErrors(text);
    assert.ok(errors.length >= 5, "too few attribution checks");
    for (const e of errors) assert.ok(e < 1e-3, `an attribution misses its intervention by ${e}`);
  },
});

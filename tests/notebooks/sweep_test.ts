/**
 * notebooks/sweep.ipynb runs headlessly (in the real Deno kernel when installed, always in CI; see
 * notebook_runner.ts) on the committed sweep (results/sweep_tiny_l2/): it lists every dictionary,
 * draws the Pareto chart as SVG, compares transcoders with SAEs at matched L0, and re-evaluates one
 * committed transcoder and one committed SAE.
 */
import assert from "node:assert/strict";
import { runNotebookChecked } from "./notebook_runner.ts";
import { NOTEBOOKS } from "./expectations.ts";

const { path, env, expected } = NOTEBOOKS.sweep;

Deno.test("the sweep notebook reads the committed results and draws the chart", async () => {
  const { text, run } = await runNotebookChecked(path, env, expected);
  const [, n, t, s] = /(\d+) dictionaries for layer 2: (\d+) transcoders, (\d+) MLP-output SAEs/
    .exec(text)!;
  assert.equal(Number(n), Number(t) + Number(s));
  if (run.mode === "jupyter") {
    const html = run.bundles.flat().map((b) => b["text/html"] ?? "").join("");
    assert.ok(
      html.includes("<svg") && html.includes("CE with replacement"),
      "no chart among the outputs",
    );
  }
});

/**
 * notebooks/attribution_graphs.ipynb runs headlessly on the embedded tiny model (in the real Deno
 * kernel when installed, always in CI; see notebook_runner.ts): the graph's scores lie in (0, 1],
 * the frozen ablation of the strongest feature into the top logit changes that logit by minus
 * the edge's weight (relative error < 1e-3), and the viewer arrives as HTML.
 */
import assert from "node:assert/strict";
import { runNotebookChecked } from "./notebook_runner.ts";
import { NOTEBOOKS } from "./expectations.ts";

const { path, env, expected } = NOTEBOOKS.attributionGraphs;

Deno.test({
  name:
    "the attribution-graph notebook runs on the tiny model and its intervention confirms an edge",
  async fn() {
    const { text, run } = await runNotebookChecked(path, env, expected);
    const [, rep, comp] = /replacement score ([\d.]+), completeness ([\d.]+)/.exec(text)!;
    for (const s of [rep, comp]) assert.ok(Number(s) > 0 && Number(s) <= 1, `score ${s}`);
    const err = Number(/\(relative error ([\d.e+-]+)\)/.exec(text)![1]);
    assert.ok(err < 1e-3, `the ablation misses its edge by ${err}`);
    if (run.mode === "jupyter") {
      const html = run.bundles.flat().map((b) => b["text/html"] ?? "").join("");
      assert.ok(html.includes("attribution graph viewer"), "no viewer among the outputs");
    }
  },
});

/**
 * notebooks/case_studies.ipynb runs headlessly on the embedded tiny model (in the real Deno
 * kernel when installed, always in CI; see notebook_runner.ts) and its three studies reach their
 * findings: the first feature's hypothesis names " to" and, tested on the corpus, its tokens carry
 * a mean activation at least 10 times the rest; the second feature gets most of its input from
 * earlier tokens and peaks one to four tokens after a sentence end, at least 3 times its level far
 * from one; the logit-difference circuit's edges equal their interventions (relative error < 1e-3).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Expectation, interventionErrors, runNotebookExpecting } from "./notebook_runner.ts";

const notebook = fileURLToPath(new URL("../../notebooks/case_studies.ipynb", import.meta.url));

const expected: Expectation[] = [
  [/layer 3: \d+ live features of 2048; 32768 validation tokens/, "the setup"],
  [
    /hypothesis 1: mlp3tc\[\d+\] fires on the current token when it is one of .*" to"/,
    "hypothesis 1",
  ],
  [/mlp0tc\[\d+\]: pullback [-\d.]+, rank \d+ of 2048/, "the pullback ranks"],
  [/test 1: .*mean activation [\d.]+ vs [\d.]+ \((\d+)x\)/, "test 1"],
  [/mlp3tc\[\d+\]: (\d+)% of the first-level attribution comes from the current token/, "sources"],
  [/hypothesis 2: mlp3tc\[\d+\] fires a few tokens after one of "\."/, "hypothesis 2"],
  [/test 2: mean activation ([\d.]+)x higher ([1-4]) tokens after a sentence end/, "test 2"],
  [/first-level sources: mlp0tc\[\d+\]@5: [\d.]+ \(" United"\)/, "the logit-difference sources"],
  [/Path \[0\]\[0\]: mlp3@-1: /, "the logit-difference paths"],
  [/tc_error/, "error nodes"],
  [/attribution [-\d.]+, measured [-\d.]+ \(relative error/, "intervention checks"],
];

Deno.test({
  name: "the case-study notebook runs on the tiny model and its studies reach their findings",
  async fn() {
    const { text } = await runNotebookExpecting(notebook, { TC_ROWS: "256" }, expected);
    const ratio1 = Number(/test 1: .*\((\d+)x\)/.exec(text)![1]);
    assert.ok(ratio1 >= 10, `hypothesis 1 tokens carry only ${ratio1}x the mean activation`);
    const shares = [...text.matchAll(/(\d+)% of the first-level attribution comes from/g)]
      .map((m) => Number(m[1]));
    assert.ok(shares[0] > 50 && shares.at(-1)! < 50, `current-token shares ${shares}`);
    const ratio2 = Number(/test 2: mean activation ([\d.]+)x higher/.exec(text)![1]);
    assert.ok(ratio2 >= 3, `the local-context peak is only ${ratio2}x the far level`);
    const errors = interventionErrors(text);
    assert.ok(errors.length >= 5, "too few intervention checks");
    for (const e of errors) assert.ok(e < 1e-3, `an attribution misses its intervention by ${e}`);
  },
});

/**
 * notebooks/case_studies.ipynb runs headlessly on the embedded tiny model (in the real Deno
 * kernel when installed, always in CI; see notebook_runner.ts) and its three studies reach their
 * findings: the first feature's hypothesis names " to" and, tested on the corpus, its tokens carry
 * a mean activation at least 10 times the rest; the second feature gets most of its input from
 * earlier tokens and peaks one to four tokens after a sentence end, at least 3 times its level far
 * from one; the logit-difference circuit's edges equal their interventions (relative error < 1e-3).
 */
import assert from "node:assert/strict";
import { interventionErrors, runNotebookChecked } from "./notebook_runner.ts";
import { NOTEBOOKS } from "./expectations.ts";

const { path, env, expected } = NOTEBOOKS.caseStudies;

Deno.test({
  name: "the case-study notebook runs on the tiny model and its studies reach their findings",
  async fn() {
    const { text } = await runNotebookChecked(path, env, expected);
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

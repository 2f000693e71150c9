/**
 * The notebook runner itself, on small notebooks (in the real kernel where installed): outputs
 * come back per cell, a missing result is named, an error cell fails at once, and a line the
 * Deno-module run printed but the kernel run lacks counts as lost.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  interventionErrors,
  lostOutputs,
  type NotebookRun,
  runNotebookChecked,
  writeNotebook,
} from "./notebook_runner.ts";

async function notebook(cells: string[]): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t.ipynb");
  await writeNotebook(path, cells);
  return { dir, path };
}

const printImport = `import { print } from "${new URL("../../mod.ts", import.meta.url).href}";`;

Deno.test("runNotebookChecked: results found, a missing one named, errors at once", async () => {
  const { dir, path } = await notebook([
    `${printImport}\nconst x = 6 * 7;\nawait print(\`answer \${x}\`);`,
    'await print("attribution 0.5, measured 0.5 (relative error 2.0e-7)");',
  ]);
  try {
    const { run, text } = await runNotebookChecked(path, {}, [
      [/answer 42/, "the answer"],
      [/relative error/, "the check"],
    ]);
    assert.equal(run.cells.length, 2);
    assert.deepEqual(interventionErrors(text), [2e-7]);
    await assert.rejects(
      runNotebookChecked(path, {}, [[/answer 43/, "a wrong answer"]]),
      /never showed a wrong answer; it printed:\n\[cell 0\]/,
    );
    const bad = await notebook(['throw new Error("boom");']);
    try {
      await assert.rejects(runNotebookChecked(bad.path, {}, []), /t\.ipynb failed .*\n.*boom/);
    } finally {
      await Deno.remove(bad.dir, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lostOutputs names each reference line a kernel run lacks, by cell", () => {
  const run = (cells: string[]): NotebookRun => ({
    mode: "jupyter",
    cells,
    errors: [],
    bundles: [],
    seconds: 0,
  });
  const reference = run(["a\n  b  \n\n", "c\nd"]);
  assert.deepEqual(lostOutputs(run(["<pre>a</pre>b", "c\nd"]), reference), []);
  assert.deepEqual(lostOutputs(run(["a", "d"]), reference), ["cell 0: b", "cell 1: c"]);
});

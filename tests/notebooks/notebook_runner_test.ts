/**
 * The notebook runner itself, on a two-cell notebook (in the real kernel where installed): outputs
 * come back per cell, a missing result is retried and then named, an error cell fails at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { interventionErrors, runNotebookExpecting, writeNotebook } from "./notebook_runner.ts";

async function notebook(cells: string[]): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t.ipynb");
  await writeNotebook(path, cells);
  return { dir, path };
}

Deno.test("runNotebookExpecting: results found, a missing one retried then named, errors at once", async () => {
  // Each cell prints through a display message in the kernel (see print() in lib/display).
  const say =
    'const say = async (t: string) => { let j; try { j = Deno.jupyter; } catch { /* not in the kernel */ } if (j) await j.display({ "text/plain": t }, { raw: true }); else console.log(t); };';
  const { dir, path } = await notebook([
    `${say}\nconst x = 6 * 7;\nawait say(\`answer \${x}\`);`,
    'await say("attribution 0.5, measured 0.5 (relative error 2.0e-7)");',
  ]);
  try {
    const { runs, text } = await runNotebookExpecting(path, {}, [
      [/answer 42/, "the answer"],
      [/relative error/, "the check"],
    ]);
    assert.ok(runs.length >= 1 && runs.every((r) => r.cells.length === 2));
    const errors = interventionErrors(text);
    assert.ok(errors.length >= 1 && errors.every((e) => e === 2e-7), `${errors}`);
    await assert.rejects(
      runNotebookExpecting(path, {}, [[/answer 43/, "a wrong answer"]], 2),
      /2 (jupyter|deno) run\(s\) never showed a wrong answer; the last one printed:\n\[cell 0\]/,
    );
    const bad = await notebook(['throw new Error("boom");']);
    try {
      await assert.rejects(runNotebookExpecting(bad.path, {}, []), /t\.ipynb failed .*\n.*boom/);
    } finally {
      await Deno.remove(bad.dir, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * `show` and `print` in the real Deno Jupyter kernel (when installed; always in CI): the MIME
 * bundle the kernel sends is exactly the displayable's (`text/html`, `text/plain`), `print` is a
 * stream line, and both wait on the IOPub watcher (`flushOutputs` resolves true, not after a
 * timed fallback), so that a cell ending right after a 2 MB display still has it. Without Jupyter
 * the same cells run as a Deno module, where both print text.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runNotebookChecked, writeNotebook } from "../notebooks/notebook_runner.ts";

/** Written beside this test so that the kernel, started here, finds the project's deno.json. */
const path = fileURLToPath(
  new URL(`./kernel_display.${crypto.randomUUID()}.tmp.ipynb`, import.meta.url),
);
const cells = [
  `import { print, show } from "../../mod.ts";
import { displayable, flushOutputs, inJupyter } from "../../lib/display/mod.ts";
await show(displayable("<b>7.52</b>", "7.52"));
await print("a <b>", 1, { k: [2] });`,
  `await print(\`watched \${inJupyter() ? await flushOutputs() : true}\`);`,
  'await show(displayable(`<p>${"x".repeat(2_000_000)}</p>`, "two megabytes"));',
  `console.log("a plain line, flushed");
const flushed = await flushOutputs();`,
];

Deno.test("show() and print() send exact outputs in the kernel and wait until they are written", async () => {
  await writeNotebook(path, cells);
  try {
    const { run, text } = await runNotebookChecked(path, {}, [
      [/7\.52/, "the displayable"],
      [/a <b> 1 \{ k: \[ 2 \] \}/, "the printed line"],
      [/two megabytes/, "the large display"],
      [/a plain line, flushed/, "the console.log line"],
    ]);
    if (run.mode === "deno") {
      assert.match(text, /watched true/);
      return;
    }
    assert.match(text, /watched true/, "the IOPub watcher did not confirm the outputs");
    const sorted = (b: Record<string, string>) => JSON.stringify(Object.entries(b).sort());
    assert.deepEqual(
      run.bundles[0].map(sorted),
      [sorted({ "text/html": "<b>7.52</b>", "text/plain": "7.52" })],
      "cell 0 sent one display bundle (print is a stream, not a display)",
    );
    assert.equal(run.bundles[2][0]["text/html"].length, "<p></p>".length + 2_000_000);
  } finally {
    await Deno.remove(path);
  }
});

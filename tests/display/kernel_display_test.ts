/**
 * `show` and `print` in the real Deno Jupyter kernel (when installed; always in CI): the MIME
 * bundles the kernel sends are exactly the displayable's (`text/html`, `text/plain`) and print's
 * (text and escaped `<pre>`), and consecutive outputs are paced (the next waits at least 50 ms).
 * Without Jupyter the same cells run as a Deno module, where both print text with no pacing.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runNotebookExpecting, writeNotebook } from "../notebooks/notebook_runner.ts";

/** Written beside this test so that the kernel, started here, finds the project's deno.json. */
const path = fileURLToPath(
  new URL(`./kernel_display.${crypto.randomUUID()}.tmp.ipynb`, import.meta.url),
);
const cells = [
  `import { print, show } from "../../mod.ts";
import { displayable } from "../../lib/display/mod.ts";
const t0 = performance.now();
await show(displayable("<b>7.52</b>", "7.52"));
const t1 = performance.now();
await print("a <b>", 1, { k: [2] });
const t2 = performance.now();
await print("next");
const t3 = performance.now();`,
  "await print(`gaps ${(t2 - t1).toFixed(0)} ${(t3 - t2).toFixed(0)}`);",
];

Deno.test("show() and print() send exact MIME bundles in the kernel, paced", async () => {
  await writeNotebook(path, cells);
  try {
    const { runs, text } = await runNotebookExpecting(path, {}, [
      [/7\.52/, "the displayable"],
      [/a <b> 1 \{ k: \[ 2 \] \}/, "the printed line"],
      [/gaps \d+ \d+/, "the gaps"],
    ]);
    const gaps = /gaps (\d+) (\d+)/.exec(text)!.slice(1).map(Number);
    if (runs[0].mode === "deno") {
      assert.ok(gaps.every((g) => g < 45), `no pacing outside the kernel: ${gaps}`);
      return;
    }
    const bundles = runs.flatMap((r) => r.bundles.flat());
    const sorted = (b: Record<string, string>) => JSON.stringify(Object.entries(b).sort());
    const has = (b: Record<string, string>) => bundles.some((x) => sorted(x) === sorted(b));
    assert.ok(has({ "text/html": "<b>7.52</b>", "text/plain": "7.52" }), JSON.stringify(bundles));
    assert.ok(
      has({
        "text/html": '<pre style="margin:0">a &lt;b&gt; 1 { k: [ 2 ] }</pre>',
        "text/plain": "a <b> 1 { k: [ 2 ] }",
      }),
      JSON.stringify(bundles),
    );
    assert.ok(gaps.every((g) => g >= 45), `outputs were not paced: ${gaps} ms`);
  } finally {
    await Deno.remove(path);
  }
});

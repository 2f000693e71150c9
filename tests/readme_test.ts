/**
 * The README's TypeScript examples run as written (each code block as one module at the repository
 * root, on the embedded tiny model) and print what they promise.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runSnippet } from "./helpers/run_snippet.ts";

const readme = await Deno.readTextFile(join(ROOT, "README.md"));
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

/** What each block must print, in order of the blocks. */
const expected: RegExp[][] = [
  // The API tour: the paths, the graph with error nodes, an attribution graph, the dashboard.
  [
    /Path \[0\]\[0\]: mlp2tc\[\d+\]@-1 " world": /,
    /tc_error|bias_error/,
    /Attribution graph: \d+ nodes \(\d+ features, \d+ errors, \d+ embeddings, \d+ logits\)/,
    /Firing frequency: [\d.]+%/,
  ],
  // The graph builder with autodiff: mean(relu(x w)) = 4 and d/dw = 0.5 for all-ones x, w = 0.5.
  [/^4 0\.5$/m],
];

Deno.test("the README has the TypeScript examples this test knows", () => {
  assert.equal(blocks.length, expected.length, "a README ts block was added or removed");
});

for (const [i, code] of blocks.entries()) {
  Deno.test(`README example ${i + 1} runs and prints its results`, async () => {
    const run = await runSnippet(code);
    assert.ok(run.success, `README example ${i + 1} failed:\n${run.stderr.slice(-3000)}`);
    for (const re of expected[i] ?? []) assert.match(run.stdout, re);
  });
}

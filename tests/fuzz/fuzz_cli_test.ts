/**
 * `deno task fuzz` in-process through its `main`: `--help`, each user mistake as one `error:`
 * line with status 2, and a tiny campaign that prints the counts table and writes summary.json.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCaptured, sandboxPermissions } from "../helpers/captured.ts";
import { main } from "../../tasks/fuzz.ts";

/** Runs the fuzz task in-process, its output captured. */
const run = (args: string[]) => runCaptured(main, args);

const out = await Deno.makeTempDir({ prefix: "fuzz-cli-" });

Deno.test({
  name: "deno task fuzz: --help, user mistakes, and a tiny campaign's table and summary",
  permissions: sandboxPermissions(out),
  async fn() {
    try {
      const help = await run(["--help"]);
      assert.equal(help.status, 0);
      assert.match(help.stdout.join("\n"), /--inputs <n>\s+inputs per parser \(default 10000\)/);
      for (
        const [args, message] of [
          [["--inputs", "0"], /--inputs must be an integer >= 1/],
          [["--parser", "zipp"], /--parser must be safetensors, zip, .* or all, got "zipp"/],
          [["--seeds", "2"], /unknown option --seeds \(did you mean --seed\?\)/],
          [["positional"], /Unexpected argument 'positional'/],
        ] as const
      ) {
        const r = await run([...args]);
        assert.equal(r.status, 2, args.join(" "));
        assert.equal(r.stderr.length, 1, r.stderr.join("\n"));
        assert.match(r.stderr[0], /^error: /);
        assert.match(r.stderr[0], message);
      }
      const r = await run(["--parser", "zip,safetensors", "--inputs", "40", "--out", out]);
      assert.equal(r.status, 0, [...r.stdout, ...r.stderr].join("\n"));
      const table = r.stdout.join("\n");
      assert.match(table, /\| parser +\| parsed +\| refused +\| internal-error +\|/);
      assert.match(table, /\| zip +\| \d+ +\| \d+ +\| 0 +\|/);
      const summary = JSON.parse(await Deno.readTextFile(join(out, "summary.json")));
      assert.deepEqual(summary.reports.map((x: { parser: string }) => x.parser), [
        "zip",
        "safetensors",
      ]);
      assert.equal(summary.reports[0].inputs, 40);
      assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["summary.json"]);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

/**
 * `deno task sweep` end to end on the embedded tiny model: a sweep killed with SIGKILL while it
 * trains, then stopped with Ctrl-C (a checkpoint, status 130), continues when the same command
 * runs again (the finished run is not redone, the stopped one resumes), and writes the table, the
 * rows and the chart.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main as sweep } from "../../tasks/sweep.ts";
import { runCaptured } from "../helpers/captured.ts";
import type { SweepRow } from "../../lib/sweep/mod.ts";

const TASK = fileURLToPath(new URL("../../tasks/sweep.ts", import.meta.url));

Deno.test("deno task sweep survives SIGKILL and Ctrl-C: the rerun skips the finished run, resumes the other and writes the report", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sweep_cli_test_" });
  const args = [
    "--layer",
    "1",
    "--d-sae",
    "64",
    "--batch",
    "256",
    "--tokens",
    "25600",
    "--warmup",
    "0",
    "--buffer-batches",
    "2",
    "--tc-l1",
    "1e-3",
    "--sae-l1",
    "1e-3",
    "--eval-rows",
    "4",
    "--threads",
    "1",
    "--out",
    dir,
  ];
  /** Runs the task until stderr matches `until`, sends `signal`, returns stderr and the exit. */
  async function runUntil(until: RegExp, signal: Deno.Signal): Promise<string> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", TASK, ...args],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let seen = "";
    const decoder = new TextDecoder();
    const reader = child.stderr.getReader();
    let signalled = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
      if (!signalled && until.test(seen)) {
        child.kill(signal);
        signalled = true;
      }
    }
    const status = await child.status;
    assert.ok(signalled, `never saw ${until}:\n${seen}`);
    if (signal === "SIGINT") assert.equal(status.code, 130, seen);
    return seen;
  }
  try {
    // Kill it with SIGKILL as soon as the second run (the SAE) is training.
    const seen = await runUntil(/\[2\/2\] mlp_out_sae-l1-0\.001: (training|resuming)/, "SIGKILL");
    assert.match(seen, /\[1\/2\] transcoder-l1-0\.001: done/, seen);
    assert.ok(!existsSync(join(dir, "results.json")), "killed before the report");
    // Again, stopped with Ctrl-C once the SAE trains: it checkpoints and says how to continue.
    const stopped = await runUntil(/\[2\/2\] mlp_out_sae-l1-0\.001: (training|resuming)/, "SIGINT");
    assert.match(stopped, /interrupt: writing a checkpoint/);
    assert.ok(existsSync(join(dir, "mlp_out_sae-l1-0.001", "checkpoint.safetensors")), stopped);

    const r = await runCaptured(sweep, args);
    const err = r.stderr.join("\n");
    assert.equal(r.status, 0, err);
    assert.match(err, /\[1\/2\] transcoder-l1-0\.001: done/);
    assert.doesNotMatch(err, /transcoder-l1-0\.001: training/, "the finished run is not redone");
    assert.match(err, /\[2\/2\] mlp_out_sae-l1-0\.001: (training|resuming)/);
    const { rows, info } = JSON.parse(await Deno.readTextFile(join(dir, "results.json"))) as {
      rows: SweepRow[];
      info: { command: string; evalTokens: number };
    };
    assert.deepEqual(rows.map((x) => x.kind), ["transcoder", "mlp_out_sae"]);
    assert.equal(info.evalTokens, 4 * 128);
    assert.match(info.command, /^deno task sweep --layer 1 --d-sae 64 /);
    const md = await Deno.readTextFile(join(dir, "sweep.md"));
    assert.match(md, /\| SAE \(MLP out\) \| 0\.001 \|/);
    assert.match(r.stdout.join("\n"), /wrote .*sweep\.md/);
    assert.ok((await Deno.readTextFile(join(dir, "sweep.svg"))).startsWith("<svg"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

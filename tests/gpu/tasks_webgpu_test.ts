/**
 * `--provider webgpu` through the tasks, on the embedded tiny model with small workloads: each
 * runs to completion on a WebGPU adapter (lavapipe in CI) and writes what it writes on the CPU.
 * (`train-model` takes `--provider` too; its step is checked by webgpu_parity_test.ts.)
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { main as demo } from "../../tasks/demo.ts";
import { main as evaluate } from "../../tasks/eval.ts";
import { main as dashboards } from "../../tasks/dashboards.ts";
import { main as graph } from "../../tasks/graph.ts";
import { main as trainTranscoder } from "../../tasks/train_transcoder.ts";
import { main as sweep } from "../../tasks/sweep.ts";
import { startCompareInterp } from "../../tasks/compare_interp.ts";
import { runCaptured } from "../helpers/captured.ts";
import { webgpuAvailable } from "../helpers/webgpu.ts";

const available = await webgpuAvailable("the tasks' --provider webgpu tests");

Deno.test("every task runs with --provider webgpu", async () => {
  if (!available) return; // the note above says how to get an adapter
  const dir = await Deno.makeTempDir({ prefix: "tasks_webgpu_" });
  const gpu = ["--provider", "webgpu"];
  const ok = async (
    name: string,
    main: (a: readonly string[]) => Promise<number>,
    args: string[],
  ) => {
    const r = await runCaptured(main, [...gpu, ...args]);
    assert.equal(r.status, 0, `${name}:\n${r.stdout.join("\n")}\n${r.stderr.join("\n")}`);
    return r.stdout.join("\n");
  };
  try {
    assert.match(
      await ok("demo", demo, ["--top", "1"]),
      /Transcoder features active on the last token/,
    );
    assert.match(await ok("eval", evaluate, ["--rows", "2", "--layers", "1"]), /CE clean/);
    await ok("dashboards", dashboards, [
      "--layer",
      "1",
      "--rows",
      "4",
      "--features",
      "2",
      "--out",
      join(dir, "d.html"),
    ]);
    assert.ok(existsSync(join(dir, "d.html")));
    await ok("graph", graph, [
      "--prompt",
      "The cat sat on",
      "--max-feature-nodes",
      "40",
      "--out",
      join(dir, "g.html"),
    ]);
    assert.ok(existsSync(join(dir, "g.json")));
    const tiny = [
      "--d-sae",
      "64",
      "--batch",
      "256",
      "--tokens",
      "512",
      "--warmup",
      "0",
      "--buffer-batches",
      "2",
    ];
    await ok("train-transcoder", trainTranscoder, [
      "--layer",
      "1",
      ...tiny,
      "--out",
      join(dir, "tc"),
    ]);
    assert.ok(existsSync(join(dir, "tc", "transcoder", "cfg.json")));
    await ok("sweep", sweep, [
      "--layer",
      "1",
      ...tiny,
      "--tc-l1",
      "1e-3",
      "--sae-l1",
      "none",
      "--eval-rows",
      "2",
      "--out",
      join(dir, "sweep"),
    ]);
    assert.ok(existsSync(join(dir, "sweep", "results.json")));
    const app = await startCompareInterp([
      ...gpu,
      "--a",
      "tiny:1",
      "--b",
      "tiny:2",
      "--n",
      "2",
      "--rows",
      "16",
      "--out",
      join(dir, "cmp"),
      "--quiet",
    ]);
    try {
      const state = await (await fetch(`${app.url}api/state`)).json();
      assert.equal(state.total, 4);
    } finally {
      await app.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

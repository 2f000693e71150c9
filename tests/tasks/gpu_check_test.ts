/**
 * `deno task gpu-check` on this machine: WebGPU on lavapipe where it is installed (CI), CUDA
 * unavailable with its reason, the tiny shape and one parity test to keep it short. It runs in
 * its own process (WebGPU sessions must not share a process with tests/gpu/parity_test.ts).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { cudaGaps } from "../../lib/graph/_cuda_check.ts";
import { main } from "../../tasks/gpu_check.ts";
import { runCaptured } from "../helpers/captured.ts";

const TASK = fileURLToPath(new URL("../../tasks/gpu_check.ts", import.meta.url));

Deno.test("gpu-check prints one table: parity and timings per provider, and why a provider is unavailable", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      TASK,
      "--shape",
      "tiny",
      "--repeats",
      "1",
      "--batch",
      "1",
      "--parity",
      "weights stay",
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, out + new TextDecoder().decode(stderr));
  const table = out.split("\n").filter((l) => l.startsWith("| "));
  assert.match(table[0], /^\| work +\| cpu +\| webgpu +\| cuda +\|$/);
  const row = (label: string) => {
    const r = table.find((l) => l.startsWith(`| ${label}`));
    assert.ok(r, `no row "${label}" in\n${out}`);
    return r.split("|").slice(2, -1).map((c) => c.trim());
  };
  const webgpu = !/^webgpu: /m.test(out);
  if (Deno.env.get("TC_REQUIRE_WEBGPU") === "1") assert.ok(webgpu, out);
  const parity = row("parity family against cpu")[1];
  if (webgpu) assert.match(parity, /^1 passed, 0 failed \(/);
  else assert.equal(parity, "unavailable");
  const forward = row("forward to the mean loss, 1 x 128 tokens");
  assert.match(forward[0], /^[\d,.]+ tok\/s$/);
  if (webgpu) assert.match(forward[1], /^[\d,.]+ tok\/s \([\d.]+x cpu\)$/);
  assert.match(row("transcoder encode, 2048 features, 4096 rows")[0], /rows\/s$/);
  assert.match(row("attribution graph, 32-token prompt")[0], /graphs\/s$/);
  const uploads = row("weights uploaded to the device");
  assert.equal(uploads[0], "none (inputs read from host memory)");
  if (webgpu) assert.match(uploads[1], /^\d+ weights once \(/);
  if (cudaGaps().length > 0) {
    assert.equal(forward[2], "unavailable");
    assert.match(out, /^cuda: the CUDA execution provider is not available\. Missing: /m);
  }
});

Deno.test("gpu-check refuses an unknown provider with one error line", async () => {
  const r = await runCaptured(main, ["--providers", "webgpu,tpu"]);
  assert.equal(r.status, 2);
  assert.deepEqual(r.stderr, [
    'error: --providers: unknown provider "tpu" (expected webgpu, cuda) (see --help)',
  ]);
});

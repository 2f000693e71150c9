import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { Graph } from "../../lib/graph/builder.ts";
import { type Provider, ProviderUnavailableError, Runtime } from "../../lib/graph/session.ts";
import { cudaGaps } from "../../lib/graph/_cuda_check.ts";

function tinyGraph(): Graph {
  const g = new Graph();
  g.output("y", g.relu(g.input("x", "float32", [2])));
  return g;
}

Deno.test("an unknown provider is refused with the list of known ones", () => {
  assert.throws(
    () => new Runtime({ provider: "tpu" as unknown as Provider }),
    /unknown provider "tpu": expected one of cpu, cuda, webgpu/,
  );
});

Deno.test("an unavailable GPU provider gets an error that says what is missing", async () => {
  const hasGpu = (() => {
    try {
      return Deno.statSync("/dev/nvidia0").isFile !== undefined;
    } catch {
      return false;
    }
  })();
  const cudaBundled = ort.listSupportedBackends().some((b) => b.name === "cuda" && b.bundled);
  if (hasGpu || cudaBundled) {
    // On a GPU machine the provider may work: then it must compute the right thing.
    try {
      const c = await new Runtime({ provider: "cuda" }).compile(tinyGraph());
      const { y } = await c.run({
        x: { dtype: "float32", shape: [2], data: new Float32Array([-1, 2]) },
      });
      assert.deepEqual(Array.from(y.data as Float32Array), [0, 2]);
    } catch (e) {
      assert.ok(e instanceof ProviderUnavailableError, String(e));
    }
    return;
  }
  await assert.rejects(new Runtime({ provider: "cuda" }).compile(tinyGraph()), (e) => {
    assert.ok(e instanceof ProviderUnavailableError);
    assert.match(e.message, /^the CUDA execution provider is not available\. Missing: /);
    // Each missing piece is named (the provider libraries until `deno task setup --cuda` ran,
    // then the driver and CUDA's libraries; tests/weights/cuda_setup_test.ts checks both).
    const gaps = cudaGaps();
    assert.ok(gaps.length > 0);
    for (const g of gaps) assert.ok(e.message.includes(`${g.what}: ${g.fix}`), g.what);
    assert.match(e.message, /Use provider "cpu"/);
    return true;
  });
});

Deno.test("graphs whose weight inputs total more than protobuf's 2 GB limit compile and run", async () => {
  // Three 768 MB weights (2.3 GB, the size of GPT-2 small plus its 12 transcoders) fed as inputs.
  const n = 192 * 1024 * 1024; // floats per weight
  const g = new Graph();
  const ws = [0, 1, 2].map((i) => g.input(`w${i}`, "float32", [n]));
  // Read one element near the end of each weight, so every byte must be addressable.
  const idx = g.constant(new Int32Array([n - 1]), [1]);
  g.output("y", g.concat(ws.map((w) => g.gather(w, idx, 0)), 0));
  const c = await new Runtime().compile(g);
  const feeds: Record<string, { dtype: "float32"; shape: number[]; data: Float32Array }> = {};
  for (let i = 0; i < 3; i++) {
    const data = new Float32Array(n);
    data[n - 1] = i + 1;
    feeds[`w${i}`] = { dtype: "float32", shape: [n], data };
  }
  const { y } = await c.run(feeds);
  assert.deepEqual(Array.from(y.data as Float32Array), [1, 2, 3]);
});

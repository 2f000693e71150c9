/**
 * One copy of the weights serves every compiled graph: compiling and running more requests
 * must not grow memory by anything like the weights' size (they are graph inputs handed to
 * onnxruntime without copying, not initializers baked into each session). The measurement runs
 * in its own process, so that tests running in parallel do not disturb its RSS.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";

/** Compiles and runs five requests; prints the weight bytes and the RSS growth of graphs 2-5. */
async function measure(): Promise<void> {
  // W_E and W_U dominate: 2 x 50257 x 256 floats = 103 MB of weights.
  const cfg = gpt2Config({ n_layers: 2, d_model: 256, n_heads: 4, n_ctx: 16 });
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
  let weightBytes = 0;
  for (const t of model.weights.values()) weightBytes += t.data.byteLength;
  const tokens = [1, 2, 3, 4];
  const requests = [
    () => model.runWithCache(tokens, { names: ["blocks.0.hook_mlp_out"], returnLogits: false }),
    () => model.runWithCache(tokens, { names: ["blocks.1.hook_resid_post"], returnLogits: false }),
    () => model.loss(tokens),
    () =>
      model.runWithCache(tokens, { names: ["blocks.0.attn.hook_pattern"], returnLogits: false }),
    () => model.runWithCache(tokens, { names: ["ln_final.hook_normalized"], returnLogits: false }),
  ];
  await requests[0]();
  const before = Deno.memoryUsage().rss;
  for (const r of requests.slice(1)) await r();
  const growth = Deno.memoryUsage().rss - before;
  console.log(JSON.stringify({ weightBytes, growth, graphs: model.compiledGraphCount }));
}

if (import.meta.main) {
  await measure();
} else {
  Deno.test("compiled graphs share one copy of the weights (RSS growth per graph << weight bytes)", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const { weightBytes, growth, graphs } = JSON.parse(
      new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!,
    );
    assert.equal(graphs, 5);
    const perGraph = growth / 4;
    assert.ok(
      perGraph < 0.25 * weightBytes,
      `RSS grew ${(growth / 1e6).toFixed(1)} MB over 4 graphs (${
        (perGraph / 1e6).toFixed(1)
      } MB each) with ${(weightBytes / 1e6).toFixed(0)} MB of weights`,
    );
  });
}

/**
 * `deno task graph` end to end on the embedded tiny model, in-process: it writes the viewer (one
 * self-contained HTML file) and circuit-tracer's graph JSON beside it, with feature-detail files
 * when given saved dashboard statistics, and the JSON's nodes and links are the ones the viewer
 * embeds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { main as graph } from "../../tasks/graph.ts";
import { main as dashboards } from "../../tasks/dashboards.ts";
import { runCaptured } from "../helpers/captured.ts";
import type { GraphJson } from "../../lib/attribution/mod.ts";

Deno.test("deno task graph writes the viewer, the graph JSON and feature details", async () => {
  const dir = await Deno.makeTempDir({ prefix: "graph_cli_test_" });
  try {
    const stats = join(dir, "layer-1.safetensors");
    const d = await runCaptured(dashboards, [
      "--layer",
      "1",
      "--rows",
      "16",
      "--features",
      "4",
      "--stats",
      stats,
      "--out",
      join(dir, "dash.html"),
    ]);
    assert.equal(d.status, 0, d.stderr.join("\n"));
    const out = join(dir, "reports", "cat.html");
    const r = await runCaptured(graph, [
      "--prompt",
      "The cat sat on the",
      "--max-feature-nodes",
      "300",
      "--stats",
      stats,
      "--out",
      out,
    ]);
    assert.equal(r.status, 0, r.stderr.join("\n"));
    const text = r.stdout.join("\n");
    assert.match(
      text,
      /Prompt: 6 tokens \(BOS first\); \d+ active features, 300 kept as nodes \(\d+ dropped/,
    );
    assert.match(text, /replacement score [\d.]+, completeness [\d.]+/);
    const json = JSON.parse(await Deno.readTextFile(join(dir, "reports", "cat.json"))) as GraphJson;
    assert.equal(json.metadata.slug, "cat");
    assert.deepEqual(json.metadata.prompt_tokens, [
      "<|endoftext|>",
      "The",
      " cat",
      " sat",
      " on",
      " the",
    ]);
    assert.ok(json.nodes.some((n) => n.feature_type === "logit" && n.is_target_logit));
    assert.ok(json.links.length > 0);
    const ids = new Set(json.nodes.map((n) => n.node_id));
    for (const l of json.links) assert.ok(ids.has(l.source) && ids.has(l.target));
    const html = await Deno.readTextFile(out);
    assert.ok(html.startsWith("<!DOCTYPE html>") && !/<script[^>]+src=/.test(html));
    for (const n of json.nodes.slice(0, 20)) assert.ok(html.includes(JSON.stringify(n.node_id)));
    const meta = JSON.parse(await Deno.readTextFile(join(dir, "reports", "graph-metadata.json")));
    assert.deepEqual(meta.graphs.map((g: { slug: string }) => g.slug), ["cat"]);
    // Feature details for the layer-1 features in the graph (the statistics are of layer 1).
    const layer1 = json.nodes.filter((n) =>
      n.feature_type === "cross layer transcoder" && n.layer === "1"
    );
    if (layer1.length) {
      assert.match(text, /Feature details: \d+ files/);
      const detail = JSON.parse(
        await Deno.readTextFile(
          join(dir, "reports", "features", "tiny", `${layer1[0].feature}.json`),
        ),
      );
      assert.equal(detail.index, layer1[0].feature);
      assert.ok(Array.isArray(detail.examples_quantiles) && detail.top_logits.length > 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

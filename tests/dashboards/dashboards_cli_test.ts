/**
 * `deno task dashboards` as a subprocess on a temporary tiny model and transcoder folder: the
 * report is one self-contained HTML file whose feature sections are exactly what
 * `showDashboard` shows inline for the same dashboards, with an index whose links all land on a
 * section; statistics are saved, reused, computed in shards and merged; bad options fail with
 * clear messages.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel, Transcoder } from "../../mod.ts";
import { buildFeatureDashboards, loadFeatureStats } from "../../lib/dashboards/mod.ts";
import { showDashboard } from "../../lib/display/dashboard_html.ts";
import { gpt2Config } from "../../lib/model/mod.ts";
import { randn, Rng } from "../../lib/tensor/mod.ts";
import { exportHfFolder, initialLmParams } from "../../lib/train/mod.ts";
import { loadTranscoders, saveTranscoderFolder } from "../../lib/transcoder/mod.ts";

const TASK = new URL("../../tasks/dashboards.ts", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TASK, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A tiny model with the GPT-2 vocabulary (so the built-in corpus fits) and a layer-1 transcoder. */
async function makeFolders(dir: string): Promise<{ modelDir: string }> {
  const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, n_ctx: 128 });
  const modelDir = join(dir, "model");
  await exportHfFolder(modelDir, cfg, initialLmParams(cfg, 3), { floatDtype: "F32" });
  const tc = Transcoder.random({
    d_in: 16,
    d_sae: 40,
    d_out: 16,
    hook_name: "blocks.1.ln2.hook_normalized",
    hook_layer: 1,
    out_hook_name: "blocks.1.hook_mlp_out",
  }, 5);
  tc.params.get("b_enc")!.data.set(randn([40], new Rng(1), 0.3).data);
  await saveTranscoderFolder(join(modelDir, "transcoders", "layer_1"), tc);
  return { modelDir };
}

Deno.test("deno task dashboards writes a self-contained report, and shards merge", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { modelDir } = await makeFolders(dir);
    const common = ["--model", modelDir, "--split", "validation", "--rows", "6", "--quiet"];
    const out = join(dir, "report.html"), statsPath = join(dir, "stats.safetensors");
    const res = await run([
      "--layer",
      "1",
      ...common,
      "--out",
      out,
      "--stats",
      statsPath,
      "--features",
      "live:3",
      "--examples",
      "4",
      "--window",
      "3",
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /wrote .*report\.html: 3 features of layer 1 \(768 tokens/);
    const html = await Deno.readTextFile(out);
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    assert.doesNotMatch(html, /<script|<link|@import|url\(/i);
    const sections = [...html.matchAll(/<section id="feature-(\d+)">/g)].map((m) => Number(m[1]));
    assert.equal(sections.length, 3);
    // Every link lands on an element of the page.
    const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    const links = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
    for (const f of sections) assert.ok(links.includes(`feature-${f}`), `no link to ${f}`);
    for (const l of links) assert.ok(ids.has(l), `#${l} links to nothing`);
    for (
      const s of [
        "Firing frequency:",
        "Activation histogram (log-spaced bins)",
        "<details open",
        '<summary style="cursor:pointer">Between',
        "Direct logit effects",
        "De-embeddings (W_E W_enc[:, i])",
        "Through head",
        "OV de-embedding norms",
        "outline:1px solid #555", // the example's token
        "<svg",
      ]
    ) assert.ok(html.includes(s), `missing ${s}`);
    const stats = await loadFeatureStats(statsPath);
    assert.equal(stats.tokens, 768);
    assert.equal(stats.layer, 1);
    // Each section is the inline dashboard of the same feature, built the same way.
    const model = await loadModel(modelDir);
    const tc = (await loadTranscoders(join(modelDir, "transcoders"))).find((t) => t.layer === 1)!;
    const built = await buildFeatureDashboards(model, tc, stats, sections, {
      window: 3,
      topExamples: 4,
    });
    for (const d of built) {
      assert.equal(d.topExamples.length, Math.min(4, stats.topExamples(d.feature).length));
      assert.ok(d.topExamples.every((e) => e.strings.length <= 7));
      const section = `<section id="feature-${d.feature}">${showDashboard(d).html}</section>`;
      assert.ok(html.includes(section), `the section of feature ${d.feature} differs`);
    }
    // live:3 is a sample spread over the live features; the index lists every feature.
    const live = [...stats.liveFeatures()];
    assert.deepEqual(sections, [0, 1, 2].map((i) => live[Math.floor((i * live.length) / 3)]));
    const index = /<details id="index">[\s\S]*?<\/details>/.exec(html)![0];
    const fired = [...index.matchAll(/<tr><td[^>]*>(?:<a href="#feature-(\d+)">)?(\d+)/g)];
    const firing = Array.from({ length: stats.dSae }, (_, i) => i).filter((i) =>
      stats.frequency(i) > 0
    );
    assert.deepEqual(fired.map((m) => Number(m[2])), firing);
    assert.deepEqual(
      fired.filter((m) => m[1]).map((m) => Number(m[1])),
      [...sections].sort((a, b) => a - b),
    );
    assert.match(
      index,
      new RegExp(`Index of all ${stats.dSae} features \\(${firing.length} fired`),
    );

    // Reuse: the saved statistics are loaded, not recomputed.
    const again = await run([
      "--layer",
      "1",
      ...common,
      "--out",
      out,
      "--stats",
      statsPath,
      "--features",
      "0,1",
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok((await Deno.readTextFile(out)).includes("statistics loaded from"));

    // Shards, then a merge equal to the one pass.
    const shards = [join(dir, "s0.safetensors"), join(dir, "s1.safetensors")];
    for (const [i, p] of shards.entries()) {
      const r = await run(["--layer", "1", ...common, "--shard", `${i}/2`, "--stats", p]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`shard ${i}/2: 384 tokens`));
    }
    const merged = join(dir, "merged.safetensors"), out2 = join(dir, "merged.html");
    const m = await run([
      "--layer",
      "1",
      ...common,
      "--merge",
      shards.join(","),
      "--stats",
      merged,
      "--out",
      out2,
    ]);
    assert.equal(m.code, 0, m.stderr);
    const back = await loadFeatureStats(merged);
    assert.deepEqual(back.count, stats.count);
    assert.deepEqual(back.hist, stats.hist);
    assert.deepEqual(back.rowIndices, stats.rowIndices);
    for (let i = 0; i < stats.dSae; i++) {
      assert.deepEqual(back.topExamples(i), stats.topExamples(i));
    }
    assert.ok((await Deno.readTextFile(out2)).includes("merged from 2 files"));

    // <|endoftext|> left out: every row starts with one.
    const noBos = join(dir, "nobos.safetensors");
    const nb = await run([
      "--layer",
      "1",
      ...common,
      "--ignore-bos",
      "--stats",
      noBos,
      "--out",
      out,
    ]);
    assert.equal(nb.code, 0, nb.stderr);
    const nbStats = await loadFeatureStats(noBos);
    assert.equal(nbStats.config.ignoreToken, 50256);
    assert.ok(nbStats.tokens <= 768 - 6);

    // Errors.
    const none = await run(["--layer", "0", ...common, "--out", out]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no transcoder for layer 0 in .*transcoders \(layers found: 1\)/);
    const bad = await run(["--layer", "1", ...common, "--shard", "2/2"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--shard must be i\/N with 0 <= i < N, got "2\/2"/);
    const noLayer = await run(["--model", modelDir]);
    assert.equal(noLayer.code, 2);
    assert.match(noLayer.stderr, /--layer is required/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task dashboards --help prints every option", async () => {
  const res = await run(["--help"]);
  assert.equal(res.code, 0);
  for (
    const o of [
      "--layer",
      "--model",
      "--transcoders",
      "--corpus",
      "--rows",
      "--features",
      "--out",
      "--stats",
      "--shard",
      "--merge",
    ]
  ) {
    assert.ok(res.stdout.includes(o), `help lacks ${o}`);
  }
});

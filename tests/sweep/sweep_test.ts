/**
 * The sweep library: a run stopped mid-training resumes from its checkpoint and finished runs are
 * not redone; a folder of another sweep is refused; the matched-L0 comparison against a direct
 * computation; the Markdown table and the chart.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { tensor } from "../../lib/tensor/tensor.ts";
import { loadTranscoder } from "../../lib/transcoder/mod.ts";
import {
  matchedL0,
  type RunStatus,
  runSweep,
  sweepChartSvg,
  SweepError,
  sweepMarkdown,
  type SweepRow,
} from "../../lib/sweep/mod.ts";

const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 24, n_ctx: 8 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 1));
const rows = tensor(Int32Array.from({ length: 32 * 8 }, (_, i) => (i * 5 + (i >> 4)) % 24), [
  32,
  8,
]);
const data = { trainRows: rows, evalRows: tensor(rows.data.slice(0, 64), [8, 8]) };
const train = {
  layer: 1,
  dSae: 16,
  trainBatchSize: 16,
  totalTokens: 16 * 20,
  storeBatchSize: 4,
  nBatchesInBuffer: 2,
  warmupSteps: 0,
};
const runs = [
  { kind: "transcoder" as const, l1: 1e-3 },
  { kind: "mlp_out_sae" as const, l1: 1e-3 },
];

Deno.test("a sweep stopped mid-run resumes from the checkpoint; finished runs are neither retrained nor re-evaluated", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sweep_test_" });
  try {
    const log: string[] = [];
    let steps = 0;
    const first = await runSweep(model, data, runs, train, {
      dir,
      quiet: true,
      checkpointEvery: 5,
      onRun: (r, _i, _n, s: RunStatus) => log.push(`${r.kind}:${s}`),
      onStep: (r) => void (r.kind === "mlp_out_sae" && steps++),
      shouldStop: () => steps === 7, // stop the SAE after 7 of its 20 steps
    });
    assert.equal(first.completed, false);
    assert.deepEqual(first.rows.map((r) => r.name), ["transcoder-l1-0.001"]);
    assert.deepEqual(log, [
      "transcoder:train",
      "transcoder:evaluate",
      "transcoder:done",
      "mlp_out_sae:train",
    ]);
    assert.ok(existsSync(join(dir, "mlp_out_sae-l1-0.001", "checkpoint.safetensors")));
    const evalJson = join(dir, "transcoder-l1-0.001", "eval.json");
    const before = (await Deno.stat(evalJson)).mtime!.getTime();

    log.length = 0;
    const resumedAt: number[] = [];
    const second = await runSweep(model, data, runs, train, {
      dir,
      quiet: true,
      onRun: (r, _i, _n, s) => log.push(`${r.kind}:${s}`),
      onStep: (r, m) => void (r.kind === "mlp_out_sae" && resumedAt.push(m.step)),
    });
    assert.ok(second.completed);
    assert.deepEqual(log, [
      "transcoder:done",
      "mlp_out_sae:resume",
      "mlp_out_sae:evaluate",
      "mlp_out_sae:done",
    ]);
    assert.equal(resumedAt[0], 8, "continues after the last checkpoint (step 7)");
    assert.equal(resumedAt.at(-1), 20);
    assert.equal((await Deno.stat(evalJson)).mtime!.getTime(), before, "not re-evaluated");
    for (const f of ["checkpoint.safetensors", "checkpoint.safetensors.prev"]) {
      assert.ok(!existsSync(join(dir, "mlp_out_sae-l1-0.001", f)), `${f} is removed when done`);
    }
    const sae = await loadTranscoder(join(dir, "mlp_out_sae-l1-0.001", "dictionary"));
    assert.equal(sae.kind, "sae");
    assert.equal(sae.cfg.hook_name, "blocks.1.hook_mlp_out");
    assert.equal(sae.logSparsity?.shape[0], 16, "the sparsity sidecar is written");
    const [t, s] = second.rows;
    assert.equal(t.ceClean, s.ceClean);
    for (const r of second.rows) {
      assert.ok(r.l0 > 0 && r.ceReplaced > 0 && r.kl >= 0 && r.deadFeatures + r.liveFeatures <= 16);
    }
    // Another L1 can be added to a finished sweep; other training options are refused.
    await assert.rejects(
      runSweep(model, data, runs, { ...train, dSae: 32 }, { dir, quiet: true }),
      SweepError,
    );
    await assert.rejects(
      runSweep(model, data, runs, { ...train, dSae: 32 }, { dir, quiet: true }),
      /plan\.json is another sweep's: train is .* here but .* there/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a grid with a run twice, or none, is refused", async () => {
  await assert.rejects(
    runSweep(model, data, [runs[0], runs[0]], train, { dir: "/nonexistent/x" }),
    /the grid has run transcoder-l1-0\.001 twice/,
  );
  await assert.rejects(runSweep(model, data, [], train, { dir: "/nonexistent/x" }), /no runs/);
});

const row = (kind: SweepRow["kind"], l0: number, ce: number, l1 = 0): SweepRow => ({
  kind,
  name: `${kind}-${l0}`,
  l1,
  l0,
  ceReplaced: ce,
  ceClean: 3,
  ceZeroAblated: 3.5,
  ceScore: (3.5 - ce) / 0.5,
  kl: 0.01,
  explainedVariance: 0.9,
  deadFeatures: 1,
  liveFeatures: 100,
});

Deno.test("matchedL0 interpolates the SAE curve in log L0 and never extrapolates", () => {
  const saes = [
    row("mlp_out_sae", 8, 3.3),
    row("mlp_out_sae", 32, 3.2),
    row("mlp_out_sae", 128, 3.1),
  ];
  const tcs = [row("transcoder", 4, 3.0), row("transcoder", 16, 3.2), row("transcoder", 32, 3.15)];
  const m = matchedL0([...tcs, ...saes, row("transcoder", 200, 3.0)]);
  assert.deepEqual(m.map((p) => p.l0), [16, 32]);
  // L0 16 is half way from 8 to 32 in log: 3.25; L0 32 is an SAE point: 3.2.
  assert.ok(Math.abs(m[0].ceSae - 3.25) < 1e-12 && Math.abs(m[0].difference - -0.05) < 1e-12);
  assert.ok(Math.abs(m[1].ceSae - 3.2) < 1e-12 && Math.abs(m[1].difference - -0.05) < 1e-12);
  assert.deepEqual(matchedL0(tcs), []);
});

Deno.test("the Markdown table and the Pareto chart hold every row", () => {
  const rows = [
    row("transcoder", 20, 3.2, 1e-3),
    row("mlp_out_sae", 10, 3.3, 2e-3),
    row("mlp_out_sae", 40, 3.1, 5e-4),
  ];
  const md = sweepMarkdown(rows);
  const body = md.split("\n").filter((l) =>
    /^\| (transcoder|SAE \(MLP out\)) \| [\d.e-]+ \|/.test(l)
  );
  assert.equal(body.length, 3);
  assert.match(md, /\| transcoder-20 \| 20\.0 \| 3\.2000 \| 3\.2000 \| \+0\.0000 \|/);
  const svg = sweepChartSvg(rows, { title: "layer 1" });
  assert.ok(svg.startsWith("<svg"));
  assert.equal((svg.match(/<circle/g) ?? []).length, 3);
  for (
    const label of [
      "transcoder",
      "SAE (MLP out)",
      "clean model",
      "layer 1",
      "L0 (active features per token)",
    ]
  ) {
    assert.ok(svg.includes(label), label);
  }
});

/**
 * `deno task bench`: throughput of this project's graphs against PyTorch CPU on the same shapes,
 * in the same run. Benchmarks are separate from the tests. See docs/perf.md for recorded results.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  CircuitContext,
  computeFeatureStats,
  evaluateTranscoders,
  greedyTopPaths,
  loadPretrained,
  Transcoder,
  transcoderFeatureVector,
} from "../mod.ts";
import { featureScores } from "../lib/dashboards/mod.ts";
import { Graph, Runtime } from "../lib/graph/mod.ts";
import { GPT2_SMALL, gpt2Config, modelFromStateDict, randomStateDict } from "../lib/model/mod.ts";
import { randn, Rng } from "../lib/tensor/mod.ts";
import { initialLmParams, initialState, lmStepSpec, Trainer } from "../lib/train/mod.ts";
import { mlpTranscoderConfig } from "../lib/transcoder/mod.ts";
import { initialTranscoderParams } from "../lib/transcoder/transcoder.ts";
import { deadFeatureFeeds, transcoderStepSpec } from "../lib/transcoder/_training_step.ts";
import {
  cpuInfo,
  describeBlas,
  findTorchPython,
  fmt,
  medianSeconds,
  openblasCoreTypes,
  peakGflops,
  printTable,
  referenceEnv,
  runTorchReference,
  tuneOpenBlas,
} from "./bench_util.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";
import type { GraphBenchResult } from "./bench_graph.ts";

/** The sections of the benchmark, in the order they run. */
const SECTIONS = ["forward", "train", "circuits", "eval", "graph"] as const;

/** The command line of `deno task bench`. */
export const BENCH_COMMAND = {
  name: "deno task bench",
  summary:
    "Throughput of this project's graphs against PyTorch CPU on the same shapes, in the same run.",
  options: {
    repeats: {
      type: "integer",
      default: 5,
      min: 1,
      help: "timed runs per measurement, after one warm-up",
    },
    batch: { type: "integer", default: 8, min: 1, help: "sequences per batch" },
    pos: {
      type: "integer",
      default: 128,
      min: 1,
      max: GPT2_SMALL.n_ctx,
      help: "tokens per sequence",
    },
    threads: {
      type: "integer",
      min: 1,
      help: "CPU threads for onnxruntime and PyTorch (default: all cores)",
    },
    only: {
      type: "string",
      arg: "list",
      help: `sections to run, comma-separated: ${SECTIONS.join(", ")} (default: all)`,
    },
    "no-torch": { type: "boolean", help: "skip the PyTorch reference" },
  },
} as const satisfies CommandSpec;

/** What every section needs: the options and the shared runtime. */
interface Bench {
  repeats: number;
  /** Sequences per batch. */
  b: number;
  /** Tokens per sequence. */
  p: number;
  threads: number;
  torch: boolean;
  runtime: Runtime;
  /** The environment of the PyTorch references: the fastest OpenBLAS kernel found. */
  torchEnv: Record<string, string>;
  /** The machine's peak float32 GFLOP/s. */
  peak: number;
}

/** Runs `deno task bench` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(BENCH_COMMAND, args, bench);
}

/** `--only`, checked: the sections to run. */
function parseSections(only: string | undefined): Set<string> {
  const sections = new Set(only === undefined ? SECTIONS : only.split(",").map((x) => x.trim()));
  for (const s of sections) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      throw new UsageError(`--only: unknown section "${s}" (expected ${SECTIONS.join(", ")})`);
    }
  }
  return sections;
}

const ref = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The size of the large matmul that measures the practical ceiling. */
const N = 2048;

async function bench(values: OptionValues<typeof BENCH_COMMAND.options>): Promise<void> {
  const sections = parseSections(values.only);
  const threads = values.threads ?? navigator.hardwareConcurrency;
  const cpu = cpuInfo();
  const peak = peakGflops({ cores: threads, flags: cpu.flags, mhz: cpu.mhz });
  const ctx: Bench = {
    repeats: values.repeats,
    b: values.batch,
    p: values.pos,
    threads,
    torch: !values["no-torch"],
    runtime: new Runtime({ threads }),
    torchEnv: referenceEnv(),
    peak: peak.gflops,
  };
  console.log(`# transcoder-circuits benchmark (${new Date().toISOString().slice(0, 10)})`);
  console.log(
    `CPU: ${navigator.hardwareConcurrency} cores; onnxruntime-node CPU provider, ${threads} threads; median of ${ctx.repeats} runs\n`,
  );
  console.log(`CPU: ${cpu.model}; peak ${fmt(peak.gflops)} GFLOP/s float32 = ${peak.formula}`);
  const ceiling = await matmulCeiling(ctx);
  console.log(
    `Ceiling: one [${N}, ${N}] x [${N}, ${N}] matmul: ${fmt(ceiling)} GFLOP/s (ours, ${
      fmt(100 * ceiling / peak.gflops, 2)
    }% of peak)\n`,
  );
  if (ctx.torch && findTorchPython()) {
    // The reference must run on the fastest kernel the CPU supports, or the ratios mean nothing.
    const tuned = await tuneOpenBlas(ref("./reference/blas_matmul.py"), {
      threads,
      n: N,
      candidates: openblasCoreTypes(cpu.flags),
    });
    ctx.torchEnv = tuned.env;
    console.log("## PyTorch's BLAS kernel (OPENBLAS_CORETYPE), fastest kept\n");
    printTable(
      ["OPENBLAS_CORETYPE", `PyTorch [${N}]^3 matmul GFLOP/s`, "% of peak"],
      tuned.trials.map((t) => [
        (t.coreType || "(OpenBLAS's own detection)") + (t === tuned.best ? "  <- kept" : ""),
        t.error ? `failed: ${t.error.slice(0, 60)}` : fmt(t.gflops),
        fmt(100 * t.gflops / peak.gflops, 2),
      ]),
    );
    console.log(
      `\nOurs (onnxruntime): ${fmt(ceiling)} GFLOP/s; PyTorch on ${
        tuned.best.coreType || "its own detection"
      }: ${fmt(tuned.best.gflops)} GFLOP/s\n`,
    );
  }
  if (sections.has("forward")) await benchForward(ctx, ceiling);
  if (sections.has("train")) await benchTrain(ctx);
  if (sections.has("circuits")) await benchCircuits(ctx);
  if (sections.has("eval")) await benchEval(ctx);
  if (sections.has("graph")) await benchAttributionGraphs(ctx, ceiling);
}

// ---- the practical ceiling: a large matmul ------------------------------------------------
async function matmulCeiling({ runtime, repeats }: Bench): Promise<number> {
  const mm = new Graph();
  mm.output("c", mm.matmul(mm.input("a", "float32", [N, N]), mm.input("b", "float32", [N, N])));
  const mmCompiled = await runtime.compile(mm);
  const rng = new Rng(0);
  const mmFeeds = { a: randn([N, N], rng), b: randn([N, N], rng) };
  const mmSeconds = await medianSeconds(() => mmCompiled.run(mmFeeds), repeats);
  return 2 * N ** 3 / mmSeconds / 1e9;
}

// ---- GPT-2 small forward ---------------------------------------------------------------
async function benchForward(ctx: Bench, ceiling: number) {
  const { repeats, b, p, threads } = ctx;
  const cfg = GPT2_SMALL;
  const rssStart = Deno.memoryUsage().rss;
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 0), { threads });
  let weightBytes = 0;
  for (const t of model.weights.values()) weightBytes += t.data.byteLength;
  const rows = Array.from(
    { length: b },
    (_, i) => Array.from({ length: p }, (_, j) => (i * 7919 + j * 104729) % cfg.d_vocab),
  );
  const tcHooks = Array.from(
    { length: cfg.n_layers },
    (_, l) => [`blocks.${l}.ln2.hook_normalized`, `blocks.${l}.hook_mlp_out`],
  ).flat();
  const work: [string, () => Promise<unknown>, number][] = [];
  // FLOPs per token: blocks (QKV, O, MLP), attention (scores and mix over p keys), unembedding.
  const d = cfg.d_model;
  const blockFlops = cfg.n_layers * (2 * (4 * d * d + 2 * d * cfg.d_mlp) + 4 * p * d);
  work.push([
    "(a) forward to the mean loss",
    () => model.loss(rows),
    blockFlops + 2 * d * cfg.d_vocab,
  ]);
  work.push([
    "(b) forward to the final residual",
    () =>
      model.runWithCache(rows, {
        names: [`blocks.${cfg.n_layers - 1}.hook_resid_post`],
        returnLogits: false,
      }),
    blockFlops,
  ]);
  work.push([
    "(c) runWithCache, 2 transcoder hooks x 12 layers",
    () => model.runWithCache(rows, { names: tcHooks, returnLogits: false }),
    blockFlops,
  ]);
  const ours: number[] = [];
  for (const [, fn] of work) ours.push(await medianSeconds(fn, repeats));
  const rssAfter = Deno.memoryUsage().rss;
  // Memory per extra compiled graph: 6 more requests on a short prompt.
  const short = rows[0].slice(0, 8);
  for (let l = 0; l < 6; l++) {
    await model.runWithCache(short, { names: [`blocks.${l}.hook_mlp_out`], returnLogits: false });
  }
  const rssPerGraph = (Deno.memoryUsage().rss - rssAfter) / 6;

  let torch: Record<string, unknown> | string = "skipped (--no-torch)";
  if (ctx.torch) {
    torch = await runTorchReference(ref("./reference/bench_torch.py"), {
      threads,
      repeats,
      batch: b,
      pos: p,
      matmul: N,
      model: {
        n_layers: cfg.n_layers,
        d_model: d,
        n_heads: cfg.n_heads,
        d_mlp: cfg.d_mlp,
        d_vocab: cfg.d_vocab,
        n_ctx: cfg.n_ctx,
      },
    }, ctx.torchEnv);
  }
  const torchSeconds = typeof torch === "string"
    ? [NaN, NaN, NaN]
    : [torch.loss_s, torch.resid_s, torch.hooks_s] as number[];

  console.log(
    `## GPT-2 small shape (12 layers, d_model 768, random weights), batch ${b} x ${p} tokens\n`,
  );
  const tokens = b * p;
  printTable(
    ["work", "ours tok/s", "PyTorch tok/s", "ratio", "ours GFLOP/s", "% of peak"],
    work.map(([name, , flops], i) => [
      name,
      fmt(tokens / ours[i]),
      fmt(tokens / torchSeconds[i]),
      `${fmt(torchSeconds[i] / ours[i], 2)}x`,
      fmt(flops * tokens / ours[i] / 1e9),
      fmt(100 * flops * tokens / ours[i] / 1e9 / ctx.peak, 2),
    ]),
  );
  console.log();
  printTable(["ceiling: one large matmul", "ours GFLOP/s", "PyTorch GFLOP/s", "peak GFLOP/s"], [[
    `[${N}, ${N}] x [${N}, ${N}]`,
    fmt(ceiling),
    fmt(typeof torch === "string" ? NaN : torch.matmul_gflops as number),
    fmt(ctx.peak),
  ]]);
  console.log();
  if (typeof torch === "string") console.log(`PyTorch: ${torch}`);
  else {console.log(
      `PyTorch ${torch.torch}, ${torch.threads} threads, BLAS: ${
        describeBlas(torch.blas as string[])
      }, OPENBLAS_CORETYPE=${ctx.torchEnv.OPENBLAS_CORETYPE ?? "(unset)"}`,
    );}
  console.log(
    `Memory: ${fmt(weightBytes / 1e6)} MB of weights; RSS ${
      fmt(rssStart / 1e6)
    } MB before loading, ${fmt(rssAfter / 1e6)} MB after ` +
      `compiling and running 3 graphs; each further compiled graph adds ${
        fmt(rssPerGraph / 1e6, 2)
      } MB ` +
      `(${model.compiledGraphCount} graphs share one copy of the weights).`,
  );
}

// ---- training steps --------------------------------------------------------------------
async function benchTrain(ctx: Bench) {
  const { repeats, runtime, threads } = ctx;
  // (1) one transcoder training step in GPT-2 small's shape, 10% of features dead (ghost grads
  // on), as train-transcoder runs it: the 2458 dead features gathered into a capacity of 4096.
  const tc = { d_in: 768, d_sae: 24576, batch: 4096, dead_fraction: 0.1 };
  const ghostCapacity = 4096;
  const spec = transcoderStepSpec({
    d_in: tc.d_in,
    d_sae: tc.d_sae,
    d_out: tc.d_in,
    batch: tc.batch,
    l1Coefficient: 1.4e-4,
    useGhostGrads: true,
    ghostCapacity,
  });
  const trainer = await Trainer.create(
    runtime,
    spec,
    initialState(initialTranscoderParams({ ...tc, d_out: tc.d_in }, 0)),
    {
      name: "constant",
      lr: 4e-4,
      totalSteps: 1e9,
    },
  );
  const r = new Rng(1);
  const dead = new Uint8Array(tc.d_sae);
  dead.fill(1, 0, tc.d_sae * tc.dead_fraction);
  const feeds = {
    x: randn([tc.batch, tc.d_in], r),
    y: randn([tc.batch, tc.d_in], r),
    ...deadFeatureFeeds(dead, ghostCapacity),
  };
  const tcSeconds = await medianSeconds(() => trainer.step(feeds), repeats);
  // (2) one training step of the tiny language model (the embedded default's shape)
  const lmCfg = gpt2Config({ n_layers: 4, d_model: 96, n_heads: 4, n_ctx: 128 });
  const lmBatch = 16;
  const lm = await Trainer.create(
    runtime,
    lmStepSpec(lmCfg, lmBatch, { weightDecay: 0.1, maxGradNorm: 1 }),
    initialState(initialLmParams(lmCfg, 0)),
    {
      name: "constant",
      lr: 1e-3,
      totalSteps: 1e9,
    },
  );
  const tokens = {
    dtype: "int32" as const,
    shape: [lmBatch, lmCfg.n_ctx],
    data: Int32Array.from({ length: lmBatch * lmCfg.n_ctx }, (_, i) => (i * 7919) % lmCfg.d_vocab),
  };
  const lmSeconds = await medianSeconds(() => lm.step({ tokens }), repeats);
  let torch: Record<string, unknown> | string = "skipped (--no-torch)";
  if (ctx.torch) {
    torch = await runTorchReference(ref("./reference/bench_torch_train.py"), {
      threads,
      repeats,
      transcoder: tc,
      lm: {
        model: {
          n_layers: 4,
          d_model: 96,
          n_heads: 4,
          d_mlp: 384,
          d_vocab: lmCfg.d_vocab,
          n_ctx: lmCfg.n_ctx,
        },
        batch: lmBatch,
      },
    }, ctx.torchEnv);
  }
  const t = typeof torch === "string"
    ? { transcoder_step_s: NaN, lm_step_s: NaN }
    : torch as Record<string, number>;
  // FLOPs of the transcoder step: forward 2 matmuls, backward 4, ghost forward and backward 3 on
  // the gathered capacity.
  const tcFlops = 2 * tc.batch * tc.d_in * tc.d_sae * (6 + (3 * ghostCapacity) / tc.d_sae);
  console.log(`## Training steps\n`);
  printTable(["work", "ours tok/s", "PyTorch tok/s", "ratio", "ours GFLOP/s", "% of peak"], [
    [
      `transcoder step, d_in ${tc.d_in}, d_sae ${tc.d_sae}, batch ${tc.batch} (ghost grads, 10% dead)`,
      fmt(tc.batch / tcSeconds),
      fmt(tc.batch / t.transcoder_step_s),
      `${fmt(t.transcoder_step_s / tcSeconds, 2)}x`,
      fmt(tcFlops / tcSeconds / 1e9),
      fmt(100 * tcFlops / tcSeconds / 1e9 / ctx.peak, 2),
    ],
    [
      `tiny LM step (4 layers, d_model 96, batch ${lmBatch} x ${lmCfg.n_ctx})`,
      fmt(lmBatch * lmCfg.n_ctx / lmSeconds),
      fmt(lmBatch * lmCfg.n_ctx / t.lm_step_s),
      `${fmt(t.lm_step_s / lmSeconds, 2)}x`,
      "-",
      "-",
    ],
  ]);
  console.log();
  if (typeof torch === "string") console.log(`PyTorch: ${torch}`);
}

// ---- GPT-2 small with its 12 transcoders spliced in, and circuit path search -------------
async function benchCircuits({ repeats, b, p, threads }: Bench) {
  const cfg = GPT2_SMALL;
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 0), { threads });
  const tcs = Array.from({ length: cfg.n_layers }, (_, l) =>
    new Transcoder(
      mlpTranscoderConfig(l, { d_in: 768, d_sae: 24576 }),
      initialTranscoderParams({ d_in: 768, d_sae: 24576, d_out: 768 }, l),
      model.runtime,
    ));
  let bytes = 0;
  for (const t of model.weights.values()) bytes += t.data.byteLength;
  for (const tc of tcs) for (const t of tc.params.values()) bytes += t.data.byteLength;
  const rows = Array.from(
    { length: b },
    (_, i) => Array.from({ length: p }, (_, j) => (i * 7919 + j * 104729) % cfg.d_vocab),
  );
  const all = new Map(tcs.map((t) => [t.layer, t.asReplacement()]));
  const spliced = await medianSeconds(() => model.loss(rows, { mlpReplacements: all }), repeats);
  const rss = Deno.memoryUsage().rss;
  const prompt = rows[0].slice(0, 20);
  let t0 = performance.now();
  const ctx = await CircuitContext.create(model, tcs, prompt);
  const ctxSeconds = (performance.now() - t0) / 1000;
  // Dashboards: every feature of layer 8 in one pass, against the reference's method (one model
  // pass per feature) on the same rows. Shift the random encoder biases so that L0 is some tens,
  // as in real transcoders (pre-activations of these random weights have a std of about 0.25).
  const tc8 = tcs[8];
  tc8.b_enc.data.fill(-0.7);
  const dashRows = {
    dtype: "int32" as const,
    shape: [16, p],
    data: Int32Array.from([...rows.flat(), ...rows.flat()].slice(0, 16 * p)),
  };
  const dashRepeats = Math.min(repeats, 3);
  const allFeatures = await medianSeconds(
    () => computeFeatureStats(model, tc8, dashRows, { batchSize: 8, quiet: true }),
    dashRepeats,
  );
  const oneFeature = await medianSeconds(
    () => featureScores(model, tc8, dashRows, 0, { batchSize: 8 }),
    dashRepeats,
  );
  const stats = await computeFeatureStats(model, tc8, dashRows, { batchSize: 8, quiet: true });
  const z = ctx.featureActs(8, -1);
  let f = 0;
  for (let j = 1; j < z.length; j++) if (z[j] > z[f]) f = j;
  t0 = performance.now();
  const paths = greedyTopPaths(ctx, transcoderFeatureVector(tcs[8], f), {
    numIters: 3,
    numBranches: 15,
  });
  const searchSeconds = (performance.now() - t0) / 1000;
  console.log(`## GPT-2 small with all 12 transcoders (24576 features each, random weights)\n`);
  printTable(["work", "result"], [
    [
      `weights fed to one graph (model + 12 transcoders)`,
      `${fmt(bytes / 1e9, 3)} GB (over protobuf's 2 GB limit)`,
    ],
    [
      `mean loss, all 12 MLPs replaced, batch ${b} x ${p}`,
      `${fmt(b * p / spliced)} tok/s (RSS ${fmt(rss / 1e9, 3)} GB)`,
    ],
    [`circuit context of a 20-token prompt (forward + 12 encodes)`, `${fmt(ctxSeconds, 3)} s`],
    [
      `greedy path search, 3 iterations x 15 branches, from mlp8tc[${f}]`,
      `${fmt(searchSeconds, 3)} s (${paths.flat().length} paths kept)`,
    ],
    [
      `dashboards: all 24576 features of layer 8, one pass over ${16 * p} tokens (L0 ${
        fmt(stats.meanL0, 3)
      })`,
      `${fmt(allFeatures, 3)} s, ${fmt((16 * p) / allFeatures)} tok/s`,
    ],
    [
      `dashboards, the reference's method: one pass per feature`,
      `${fmt(oneFeature, 3)} s per feature: ${
        fmt((oneFeature * 24576) / 3600, 3)
      } h for all 24576, ` +
      `${fmt((oneFeature * 24576) / allFeatures)}x longer`,
    ],
  ]);
  console.log();
}

// ---- transcoder evaluation on the embedded tiny model ---------------------------------------
async function benchEval(ctx: Bench) {
  const { repeats, b, p, threads } = ctx;
  const loaded = await loadPretrained("tiny", { threads });
  const model = loaded.model, transcoders = loaded.transcoders.filter((t) => t !== undefined);
  const cfg = model.cfg, pos = Math.min(p, cfg.n_ctx);
  const rows = {
    dtype: "int32" as const,
    shape: [b, pos],
    data: Int32Array.from({ length: b * pos }, (_, i) => (i * 104729 + 7919) % cfg.d_vocab),
  };
  const evalRepeats = Math.min(repeats, 3);
  const ours = await medianSeconds(
    () => evaluateTranscoders(model, transcoders, rows, { batchSize: b, quiet: true }),
    evalRepeats,
  );
  let torch: Record<string, unknown> | string = "skipped (--no-torch)";
  if (ctx.torch) {
    torch = await runTorchReference(ref("./reference/bench_torch_eval.py"), {
      threads,
      repeats: evalRepeats,
      batch: b,
      pos,
      d_sae: transcoders[0].cfg.d_sae,
      model: {
        n_layers: cfg.n_layers,
        d_model: cfg.d_model,
        n_heads: cfg.n_heads,
        d_mlp: cfg.d_mlp,
        d_vocab: cfg.d_vocab,
        n_ctx: cfg.n_ctx,
      },
    }, ctx.torchEnv);
  }
  const torchSeconds = typeof torch === "string" ? NaN : torch.eval_s as number;
  // Per token: the clean pass and 2 + 2 x n_layers compared passes, each dominated by the
  // unembedding (the tiny model's blocks are a tenth of it), plus the clean pass's expected
  // unembedding vector (one more unembedding-sized product).
  const passes = 1 + 2 + 2 * cfg.n_layers;
  const flops = (passes + 1) * 2 * cfg.d_model * cfg.d_vocab;
  console.log(
    `## Transcoder evaluation (deno task eval): the embedded tiny model and its ${transcoders.length} transcoders, batch ${b} x ${pos} tokens\n`,
  );
  printTable(["work", "ours tok/s", "PyTorch tok/s", "ratio", "ours GFLOP/s", "% of peak"], [[
    `clean pass + ${passes - 1} compared passes (CE, KL)`,
    fmt(b * pos / ours),
    fmt(b * pos / torchSeconds),
    `${fmt(torchSeconds / ours, 2)}x`,
    fmt(flops * b * pos / ours / 1e9),
    fmt(100 * flops * b * pos / ours / 1e9 / ctx.peak, 2),
  ]]);
  console.log();
  if (typeof torch === "string") console.log(`PyTorch: ${torch}`);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

// ---- attribution graphs ---------------------------------------------------------------------
/** Runs tasks/bench_graph.ts in a child process (its peak memory its own); returns its result. */
async function graphRun(which: "tiny" | "gpt2", threads: number): Promise<GraphBenchResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ref("./bench_graph.ts"), which, String(threads)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  if (!out.success) throw new Error(`bench_graph.ts ${which} failed (status ${out.code})`);
  return JSON.parse(lines.at(-1)!) as GraphBenchResult;
}

async function benchAttributionGraphs(ctx: Bench, ceiling: number) {
  console.log(
    "## Attribution graphs: edges, pruning, scores and JSON, each in its own process (peak RSS its own)\n",
  );
  const runs = [await graphRun("tiny", ctx.threads), await graphRun("gpt2", ctx.threads)];
  const label = (r: GraphBenchResult) =>
    r.model === "tiny"
      ? `tiny model, ${r.tokens} tokens`
      : `GPT-2 small shape, 12 x 24576-feature transcoders, ${r.tokens} tokens`;
  printTable(
    [
      "graph",
      "active / nodes",
      "total s",
      "rows s",
      "influence s",
      "prune s",
      "JSON s",
      "rows/s",
      "edge GFLOP/s",
      "% of matmul ceiling",
      "peak RSS GB",
    ],
    runs.map((r) => [
      label(r),
      `${r.activeFeatures} / ${r.featureNodes}`,
      fmt(r.totalSeconds, 3),
      fmt(r.rowSeconds, 3),
      fmt(r.influenceSeconds, 2),
      fmt(r.pruneSeconds, 2),
      fmt(r.jsonSeconds, 2),
      fmt(r.rows / (r.rowSeconds + r.influenceSeconds)),
      fmt(r.flops / r.rowSeconds / 1e9),
      fmt(100 * r.flops / r.rowSeconds / 1e9 / ceiling, 2),
      fmt(r.peakRssBytes / 1e9, 3),
    ]),
  );
  console.log();
  for (const r of runs) {
    console.log(
      `${label(r)}: ${r.passes} reverse passes, ${
        fmt(r.flops / 1e12, 3)
      } TFLOP; pruned to ${r.prunedNodes} nodes and ${r.prunedLinks} links ` +
        `(JSON ${fmt(r.jsonBytes / 1e6, 3)} MB); replacement ${
          fmt(r.replacement, 3)
        }, completeness ${fmt(r.completeness, 3)}`,
    );
  }
  console.log();
}

/**
 * A GPU provider (WebGPU, or CUDA with `TC_PARITY_PROVIDER=cuda`, as `deno task gpu-check` runs
 * it) against the CPU provider on the embedded tiny model, graph kind by graph kind: forward with
 * every hook, patches and stop-at-layer; weights kept on the device; loss, per-token loss and KL;
 * transcoder encode/decode and all layers spliced; the dashboard probe with its in-graph TopK;
 * transcoder and language-model training steps; the reverse passes of an attribution graph; and
 * then `--provider` through the tasks. Float32 kernels sum in another order, so each comparison
 * has a tolerance (stated in each test). WebGPU runs where an adapter exists (a GPU, or Mesa's
 * lavapipe on the CPU, as in CI: `.ci/run` installs it and sets TC_REQUIRE_WEBGPU=1); elsewhere
 * it prints how to install lavapipe.
 *
 * Everything that uses WebGPU is in this one file: onnxruntime-node's WebGPU provider fails
 * ("CommandEncoder is already finished") when two threads of a process run sessions at once, and
 * `deno test --parallel` runs test files as threads of one process.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { Runtime } from "../../lib/graph/session.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { loadPretrained } from "../../lib/weights/pretrained.ts";
import { computeFeatureStats } from "../../lib/dashboards/feature_stats.ts";
import { attributionGraph } from "../../lib/attribution/mod.ts";
import { Transcoder } from "../../lib/transcoder/transcoder.ts";
import { transcoderStepSpec } from "../../lib/transcoder/_training_step.ts";
import { initialState, Trainer } from "../../lib/train/trainer.ts";
import { initialLmParams, lmStepSpec } from "../../lib/train/lm_training.ts";
import { gpt2Config } from "../../lib/model/config.ts";
import { gpuAvailable, PARITY_PROVIDER } from "../helpers/gpu_provider.ts";
import { PLACEMENT_MARK } from "../../tasks/gpu_check.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { main as demo } from "../../tasks/demo.ts";
import { main as evaluate } from "../../tasks/eval.ts";
import { main as dashboards } from "../../tasks/dashboards.ts";
import { main as graph } from "../../tasks/graph.ts";
import { main as trainTranscoder } from "../../tasks/train_transcoder.ts";
import { main as sweep } from "../../tasks/sweep.ts";
import { main as trainModel } from "../../tasks/train_model.ts";
import { startCompareInterp } from "../../tasks/compare_interp.ts";
import { runCaptured } from "../helpers/captured.ts";

// `deno task gpu-check --placements` reads onnxruntime's verbose log (where each node ran),
// with a marker before each test, written to the same stream in order.
const VERBOSE = Deno.env.get("TC_ORT_VERBOSE") === "1";
if (VERBOSE) ort.env.logLevel = "verbose";
// (through /dev/stderr: `deno test` captures Deno.stderr, not onnxruntime's own writes to fd 2).
const log = VERBOSE ? Deno.openSync("/dev/stderr", { write: true }) : undefined;
const mark = (name: string) =>
  log?.writeSync(new TextEncoder().encode(`${PLACEMENT_MARK}${name}\n`));

const P = PARITY_PROVIDER;
const available = await gpuAvailable(P, `the ${P} parity tests`);
const cpu = await loadPretrained("tiny", { provider: "cpu" });
const gpu = available ? await loadPretrained("tiny", { provider: P }) : undefined;
const prompt = "The Congress of the United States shall have power";
const tokens = cpu.model.toTokens(prompt);

/**
 * max |a - b| / max(|b|, floor) over the finite entries: the error relative to the tensor's
 * scale. Non-finite entries (the causal mask's -inf in attention scores) must be equal.
 */
function scaledError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let err = 0, scale = floor;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i])) {
      if (a[i] !== b[i]) return Infinity;
      continue;
    }
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}
const f32 = (t: Tensor) => t.data as Float32Array;

function parity(name: string, fn: () => Promise<void>) {
  Deno.test(`${P} = cpu: ${name}`, async () => {
    if (!gpu) {
      console.error(`note: "${name}" needs the ${P} provider (see the note above)`);
      return;
    }
    mark(name);
    await fn();
  });
}

parity(
  "forward with every hook, a patch and stop-at-layer (1e-4 of each tensor's scale)",
  async () => {
    const a = await cpu.model.runWithCache(tokens), b = await gpu!.model.runWithCache(tokens);
    for (const name of a.cache.keys()) {
      const e = scaledError(f32(b.cache.get(name)), f32(a.cache.get(name)));
      assert.ok(e < 1e-4, `${name}: ${e}`);
    }
    assert.ok(scaledError(f32(b.logits!), f32(a.logits!)) < 1e-4);
    const zero = {
      dtype: "float32" as const,
      shape: [1, tokens.shape[1], 96],
      data: new Float32Array(tokens.shape[1] * 96),
    };
    const patches = { "blocks.1.hook_mlp_out": zero };
    const pa = await cpu.model.run(tokens, { patches }),
      pb = await gpu!.model.run(tokens, { patches });
    assert.ok(scaledError(f32(pb), f32(pa)) < 1e-4);
    const sa = await cpu.model.runWithCache(tokens, { stopAtLayer: 2 });
    const sb = await gpu!.model.runWithCache(tokens, { stopAtLayer: 2 });
    const last = "blocks.1.hook_resid_post";
    assert.ok(scaledError(f32(sb.cache.get(last)), f32(sa.cache.get(last))) < 1e-4);
  },
);

parity(
  "weights stay on the device: each uploaded once, then only the tokens come from host memory",
  async () => {
    // A runtime of its own, so that its counts start at zero.
    const { model, transcoders } = await loadPretrained("tiny", { provider: P });
    const t = model.runtime.traffic;
    const first = await model.run(tokens);
    if (P === "cuda") {
      // onnxruntime-node binds no CUDA device tensors: every input is copied on every run.
      assert.deepEqual([t.uploads, t.deviceInputs], [0, 0]);
      assert.ok(t.hostInputs > 10, `${t.hostInputs} inputs`); // the tokens and the weights
      return;
    }
    const used = t.uploads;
    assert.ok(used > 10 && used <= model.weights.size, `${used} of ${model.weights.size}`);
    assert.deepEqual([t.hostInputs, t.deviceInputs], [1, used]); // the tokens, the weights
    const uploaded = t.uploadBytes;
    // Poison the host copies: a run that still read them would give NaN logits.
    const saved = [...model.weights.values()].map((w) => w.data.slice());
    for (const w of model.weights.values()) w.data.fill(NaN);
    const again = await model.run(tokens);
    [...model.weights.values()].forEach((w, i) => w.data.set(saved[i]));
    assert.deepEqual(f32(again), f32(first)); // bit for bit: the device copies were used
    assert.deepEqual([t.uploads, t.uploadBytes, t.hostInputs], [used, uploaded, 2]);
    // Another graph (a cache of two hooks) reuses the same device copies.
    await model.runWithCache(tokens, { names: ["blocks.1.hook_mlp_out"] });
    assert.equal(t.uploads, used);
    // Spliced transcoders are weights too: uploaded once, on their first use.
    const spliced = {
      mlpReplacements: new Map(transcoders.map((x) => [x!.layer, x!.asReplacement()])),
    };
    await model.loss(tokens, spliced);
    const withTc = t.uploads;
    assert.ok(withTc > used);
    await model.loss(tokens, spliced);
    assert.equal(t.uploads, withTc);
    // The CPU provider reads host memory: nothing is uploaded.
    assert.equal(cpu.model.runtime.traffic.uploads, 0);
  },
);

parity(
  "loss, per-token loss and KL against a zero-ablated pass (1e-5 nats, 1e-4 per token)",
  async () => {
    const compareWith = [new Map([[2, "zero" as const]])];
    const a = await cpu.model.forward(tokens, { loss: "mean", compareWith });
    const b = await gpu!.model.forward(tokens, { loss: "mean", compareWith });
    assert.ok(Math.abs(a.loss! - b.loss!) < 1e-5, `loss ${a.loss} vs ${b.loss}`);
    const [ca, cb] = [a.comparisons![0], b.comparisons![0]];
    assert.ok(Math.abs(ca.loss - cb.loss) < 1e-5 && Math.abs(ca.kl - cb.kl) < 1e-5);
    const ta = await cpu.model.loss(tokens, { perToken: true });
    const tb = await gpu!.model.loss(tokens, { perToken: true });
    for (let i = 0; i < ta.data.length; i++) {
      assert.ok(Math.abs((ta.data[i] as number) - (tb.data[i] as number)) < 1e-4);
    }
  },
);

parity(
  "transcoders: encode, decode and every layer spliced (1e-4 of scale; CE 1e-5 nats)",
  async () => {
    const hook = "blocks.2.ln2.hook_normalized";
    const { cache } = await cpu.model.runWithCache(tokens, { names: [hook] });
    const x = cache.get(hook) as Tensor<"float32">;
    const tc = cpu.transcoders[2]!, onGpu = gpu!.transcoders[2]!;
    const [za, zb] = [await tc.encode(x), await onGpu.encode(x)];
    assert.ok(scaledError(f32(zb), f32(za)) < 1e-4);
    assert.ok(scaledError(f32(await onGpu.decode(za)), f32(await tc.decode(za))) < 1e-4);
    const all = (set: readonly (Transcoder | undefined)[]) =>
      new Map(set.map((t) => [t!.layer, t!.asReplacement()]));
    const la = await cpu.model.loss(tokens, { mlpReplacements: all(cpu.transcoders) });
    const lb = await gpu!.model.loss(tokens, { mlpReplacements: all(gpu!.transcoders) });
    assert.ok(Math.abs(la - lb) < 1e-5, `spliced loss ${la} vs ${lb}`);
  },
);

parity(
  "the dashboard probe with in-graph TopK: the same firing counts and top activations",
  async () => {
    const [p, q] = [prompt, "We the people of the United States, in order to form a more perfect"]
      .map((t) => cpu.model.toTokens(t).data.subarray(0, 10));
    const rows = { dtype: "int32" as const, shape: [2, 10], data: Int32Array.from([...p, ...q]) };
    const a = await computeFeatureStats(cpu.model, cpu.transcoders[1]!, rows, { quiet: true });
    const b = await computeFeatureStats(gpu!.model, gpu!.transcoders[1]!, rows, { quiet: true });
    let differ = 0;
    for (let f = 0; f < 2048; f++) {
      if (a.frequency(f) !== b.frequency(f)) differ++;
      const [ta, tb] = [a.topExamples(f, 1)[0], b.topExamples(f, 1)[0]];
      if (ta && tb) assert.ok(Math.abs(ta.value - tb.value) < 1e-4 * Math.max(1, ta.value));
    }
    // A feature whose pre-activation is within rounding of 0 may fire on one provider only.
    assert.ok(differ <= 2, `${differ} features fire on a different number of tokens`);
  },
);

parity(
  "three transcoder training steps: losses 1e-5 relative, parameters 1e-4 of scale",
  async () => {
    const o = {
      d_in: 96,
      d_sae: 256,
      d_out: 96,
      batch: 64,
      l1Coefficient: 1e-3,
      useGhostGrads: false,
    };
    const { cache } = await cpu.model.runWithCache(tokens, {
      names: ["blocks.1.ln2.hook_normalized", "blocks.1.hook_mlp_out"],
    });
    const rows = (name: string) => {
      const src = cache.get(name).data as Float32Array, n = src.length / 96;
      const data = Float32Array.from(
        { length: 64 * 96 },
        (_, i) => src[(Math.floor(i / 96) % n) * 96 + (i % 96)],
      );
      return { dtype: "float32" as const, shape: [64, 96], data };
    };
    const feeds = { x: rows("blocks.1.ln2.hook_normalized"), y: rows("blocks.1.hook_mlp_out") };
    const init =
      Transcoder.random({ ...o, hook_name: "x", hook_layer: 1, out_hook_name: "y" }, 3).params;
    const schedule = { name: "constant" as const, lr: 1e-3, totalSteps: 3 };
    const train = async (provider: "cpu" | typeof P) => {
      const state = initialState(
        new Map([...init].map(([k, v]) => [k, { ...v, data: v.data.slice() }])),
      );
      const t = await Trainer.create(
        new Runtime({ provider }),
        transcoderStepSpec(o),
        state,
        schedule,
      );
      const losses: number[] = [];
      for (let k = 0; k < 3; k++) {
        losses.push((await t.step(feeds)).loss);
      }
      return { losses, params: t.state.params };
    };
    const [a, b] = [await train("cpu"), await train(P)];
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(a.losses[k] - b.losses[k]) <= 1e-5 * Math.abs(a.losses[k]), `step ${k}`);
    }
    for (const [name, p] of a.params) {
      const e = scaledError(f32(b.params.get(name)!), f32(p));
      assert.ok(e < 1e-4, `${name}: ${e}`);
    }
  },
);

parity(
  "an attribution graph's reverse passes: the same nodes, adjacency 1e-3 of its scale",
  async () => {
    const opts = { maxFeatureNodes: 64 };
    const a = await attributionGraph(cpu.model, cpu.transcoders, prompt, opts);
    const b = await attributionGraph(gpu!.model, gpu!.transcoders, prompt, opts);
    assert.deepEqual(b.logitTargets.map((t) => t.tokenId), a.logitTargets.map((t) => t.tokenId));
    assert.deepEqual(b.selectedFeatures, a.selectedFeatures);
    const e = scaledError(b.adjacency, a.adjacency);
    assert.ok(e < 1e-3, `adjacency: ${e}`);
  },
);

parity(
  "three language-model training steps (AdamW): losses 1e-5 relative, parameters 1e-4 of scale",
  async () => {
    const cfg = gpt2Config({ n_layers: 2, d_model: 32, n_heads: 2, d_vocab: 64, n_ctx: 16 });
    const batch = {
      dtype: "int32" as const,
      shape: [2, 16],
      data: Int32Array.from({ length: 32 }, (_, i) => (i * 11 + 3) % 64),
    };
    const schedule = { name: "constant" as const, lr: 3e-3, totalSteps: 3 };
    const train = async (provider: "cpu" | typeof P) => {
      const spec = lmStepSpec(cfg, 2, { weightDecay: 0.1 });
      const t = await Trainer.create(
        new Runtime({ provider }),
        spec,
        initialState(initialLmParams(cfg, 5)),
        schedule,
      );
      const losses: number[] = [];
      for (let k = 0; k < 3; k++) losses.push((await t.step({ tokens: batch })).loss);
      return { losses, params: t.state.params };
    };
    const [a, b] = [await train("cpu"), await train(P)];
    for (let k = 0; k < 3; k++) {
      assert.ok(
        Math.abs(a.losses[k] - b.losses[k]) <= 1e-5 * Math.abs(a.losses[k]),
        `step ${k}: ${a.losses[k]} vs ${b.losses[k]}`,
      );
    }
    assert.ok(a.losses[2] < a.losses[0], "the steps learn");
    for (const [name, p] of a.params) {
      // The key bias has a zero gradient (a softmax ignores a shift shared by a query's scores):
      // its "gradient" is rounding noise, which Adam scales up to full steps on either provider.
      if (name.endsWith("attn.b_K")) continue;
      const e = scaledError(f32(b.params.get(name)!), f32(p));
      assert.ok(e < 1e-4, `${name}: ${e}`);
    }
  },
);

// `--provider` through the tasks, on small workloads: each runs to completion and writes what it
// writes on the CPU.
Deno.test(`every task runs with --provider ${P}`, async () => {
  if (!gpu) return; // the note above says how to get an adapter
  mark("every task with --provider (run in-process)");
  const dir = await Deno.makeTempDir({ prefix: "tasks_webgpu_" });
  const onGpu = ["--provider", P];
  const ok = async (
    name: string,
    main: (a: readonly string[]) => Promise<number>,
    args: string[],
  ) => {
    const r = await runCaptured(main, [...onGpu, ...args]);
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
    // Two steps of a one-layer model on a small corpus, then its end of run: validation,
    // greedy samples (generation on the provider), export.
    const corpus = join(dir, "corpus");
    await Deno.mkdir(corpus);
    for (let i = 0; i < 20; i++) {
      await Deno.writeTextFile(join(corpus, `doc${i}.txt`), `${prompt}, number ${i}. `.repeat(20));
    }
    const lm = await ok("train-model", trainModel, [
      ...["--corpus", corpus, "--validation", "0.1", "--epochs", "0.02", "--warmup", "0"],
      ...["--layers", "1", "--d-model", "16", "--heads", "2", "--n-ctx", "16", "--batch", "2"],
      ...["--out", join(dir, "lm"), "--export", join(dir, "lm-export")],
    ]);
    assert.match(lm, /validation loss [\d.]+ nats vs unigram baseline/);
    assert.ok(existsSync(join(dir, "lm-export", "model.safetensors")));
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
      ...onGpu,
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

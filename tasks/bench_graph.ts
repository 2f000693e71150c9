/**
 * One attribution-graph benchmark run, in its own process so that its peak memory is its own:
 * `deno run -A tasks/bench_graph.ts tiny|gpt2 [threads] [batch]` builds the full graph (edges, pruning,
 * scores, JSON) and prints one line of JSON with the timings, the work and the peak RSS.
 *
 * - `tiny`: the embedded tiny model and its transcoders, a 128-token prompt (the start of the
 *   builtin corpus's validation split).
 * - `gpt2`: GPT-2 small's shape with random weights and 12 random full-size transcoders (24576
 *   features each, encoder biases shifted so that about 16 features fire per layer and position,
 *   as a TopK-16 transcoder), a 64-token prompt, `maxFeatureNodes` 8192.
 *
 * @module
 */
import { loadPretrained } from "../lib/weights/mod.ts";
import { GPT2_SMALL, modelFromStateDict, randomStateDict } from "../lib/model/mod.ts";
import type { GPT2Config, HookedModel } from "../lib/model/mod.ts";
import type { RuntimeOptions } from "../lib/graph/mod.ts";
import { mlpTranscoderConfig, Transcoder } from "../lib/transcoder/mod.ts";
import { initialTranscoderParams } from "../lib/transcoder/transcoder.ts";
import { loadPackedCorpus } from "../lib/train/mod.ts";
import {
  attributionGraph,
  graphScores,
  graphToJson,
  nodeCounts,
  pruneGraph,
} from "../lib/attribution/mod.ts";

/** What one run measured. */
export interface GraphBenchResult {
  model: string;
  tokens: number;
  activeFeatures: number;
  featureNodes: number;
  rows: number;
  passes: number;
  /** Seconds: the graph (setup, rows, packaging), pruning and scores, JSON (built and serialised). */
  graphSeconds: number;
  rowSeconds: number;
  influenceSeconds: number;
  pruneSeconds: number;
  jsonSeconds: number;
  totalSeconds: number;
  /** Floating-point operations of the reverse passes. */
  flops: number;
  jsonBytes: number;
  prunedNodes: number;
  prunedLinks: number;
  replacement: number;
  completeness: number;
  peakRssBytes: number;
}

/** The peak resident set of this process (VmHWM), in bytes. */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * A model of this shape with random weights and one random transcoder per layer on its runtime
 * (`dSae` features, default 24576), whose encoder biases are shifted so that about 16 of 24576
 * features fire per token, as a TopK-16 transcoder (also `deno task gpu-check`'s workload).
 */
export function randomModelAndTranscoders(
  cfg: GPT2Config,
  { dSae = 24576, ...runtime }: RuntimeOptions & { dSae?: number },
): { model: HookedModel; transcoders: Transcoder[] } {
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 0), runtime);
  const transcoders = Array.from({ length: cfg.n_layers }, (_, l) => {
    const dims = { d_in: cfg.d_model, d_sae: dSae, d_out: cfg.d_model };
    const tc = new Transcoder(
      mlpTranscoderConfig(l, dims),
      initialTranscoderParams(dims, l),
      model.runtime,
    );
    // Pre-activations of these random weights have a std of about 0.25: a shift of -0.8 lets
    // about 16 of 24576 fire per token.
    tc.b_enc.data.fill(-0.8);
    return tc;
  });
  return { model, transcoders };
}

async function setup(
  which: string,
  threads?: number,
): Promise<{ model: HookedModel; transcoders: Transcoder[]; prompt: number[] }> {
  if (which === "tiny") {
    const { model, transcoders } = await loadPretrained("tiny", { threads });
    const rows = await loadPackedCorpus({ source: "builtin", nCtx: 128, split: "validation" });
    const row = Array.from((rows.data as Int32Array).subarray(0, 128));
    const prompt = row[0] === 50256 ? row : row.slice(0, 127); // 128 tokens with BOS
    return { model, transcoders: transcoders as Transcoder[], prompt };
  }
  const { model, transcoders } = randomModelAndTranscoders(GPT2_SMALL, { threads });
  const prompt = Array.from({ length: 63 }, (_, j) => (j * 104729 + 7) % GPT2_SMALL.d_vocab);
  return { model, transcoders, prompt };
}

/** Builds, prunes and exports one graph; returns what it measured. */
export async function benchGraph(
  which: string,
  threads?: number,
  batchSize?: number,
): Promise<GraphBenchResult> {
  const { model, transcoders, prompt } = await setup(which, threads);
  const t0 = performance.now();
  const g = await attributionGraph(model, transcoders, prompt, {
    maxFeatureNodes: 8192,
    batchSize,
  });
  const t1 = performance.now();
  const pruned = pruneGraph(g);
  const scores = graphScores(g, { influence: pruned.influence });
  const t2 = performance.now();
  const json = graphToJson(g, pruned, { slug: which, nodeThreshold: 0.8 });
  const text = JSON.stringify(json);
  const t3 = performance.now();
  const c = nodeCounts(g);
  return {
    model: which,
    tokens: g.tokens.length,
    activeFeatures: g.activeFeatures.length / 3,
    featureNodes: c.features,
    rows: c.features + c.logits,
    passes: g.timings.passes,
    graphSeconds: (t1 - t0) / 1000,
    rowSeconds: g.timings.logitRows + g.timings.featureRows - g.timings.influence,
    influenceSeconds: g.timings.influence,
    pruneSeconds: (t2 - t1) / 1000,
    jsonSeconds: (t3 - t2) / 1000,
    totalSeconds: (t3 - t0) / 1000,
    flops: g.timings.flops,
    jsonBytes: text.length,
    prunedNodes: json.nodes.length,
    prunedLinks: json.links.length,
    replacement: scores.replacement,
    completeness: scores.completeness,
    peakRssBytes: peakRss(),
  };
}

if (import.meta.main) {
  const [which = "tiny", threads, batch] = Deno.args;
  if (which !== "tiny" && which !== "gpt2") {
    console.error(`error: expected "tiny" or "gpt2", got "${which}"`);
    Deno.exit(2);
  }
  const result = await benchGraph(
    which,
    threads ? Number(threads) : undefined,
    batch ? Number(batch) : undefined,
  );
  console.log(JSON.stringify(result));
}

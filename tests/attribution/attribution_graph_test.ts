/**
 * Attribution graphs against interventions. With attention patterns, every LayerNorm scale and
 * every MLP output frozen to the clean pass (the freezing the graph's edges assume), adding a
 * source once more (a feature's decoder vector times its activation, an error vector, a token
 * embedding) changes every feature node's encoder pre-activation and every target's read value
 * (a demeaned logit) by exactly the source's adjacency column. Tolerance: 1e-4 of the column's
 * largest change, plus 1e-6 absolute for float32 rounding of the frozen forward pass.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import type { HookedModel, Patches } from "../../lib/model/hooked_model.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import type { Transcoder } from "../../lib/transcoder/transcoder.ts";
import { loadPretrained } from "../../lib/weights/pretrained.ts";
import { attributionGraph } from "../../lib/attribution/attribution_graph.ts";
import { type AttributionGraph, nodeCounts } from "../../lib/attribution/graph_types.ts";
import { demeanedUnembedding, logitDifferenceTarget } from "../../lib/attribution/targets.ts";
import { randomTranscoder } from "../helpers/random_transcoders.ts";

const f32 = (t: Tensor) => t.data as Float32Array;

/** A source node as a perturbation of the frozen pass. */
type Source =
  | { kind: "feature"; node: number }
  | { kind: "error"; layer: number; pos: number }
  | { kind: "token"; pos: number };

/**
 * The change of every node's read value when `source` is added once more, everything frozen:
 * `[N]` (zero for error and token nodes, which read nothing).
 */
async function measuredColumn(
  model: HookedModel,
  tcs: Transcoder[],
  graph: AttributionGraph,
  source: Source,
  readVectors: Float32Array[],
): Promise<Float64Array> {
  const { n_layers: L, d_model: d } = model.cfg;
  const T = graph.tokens.length;
  const tokens = graph.tokens;
  const frozen: string[] = ["ln_final.hook_scale"];
  for (let l = 0; l < L; l++) {
    for (const h of ["attn.hook_pattern", "ln1.hook_scale", "ln2.hook_scale", "hook_mlp_out"]) {
      frozen.push(`blocks.${l}.${h}`);
    }
  }
  const reads = [...tcs.map((tc) => tc.cfg.hook_name), "ln_final.hook_normalized"];
  const { cache: clean } = await model.runWithCache(tokens, { names: [...frozen, ...reads] });
  const patches: Record<string, Tensor<"float32">> = {};
  for (const name of frozen) patches[name] = clean.get(name);
  const add = (name: string, pos: number, v: ArrayLike<number>, scale: number) => {
    const t = { ...patches[name], data: f32(patches[name]).slice() };
    for (let i = 0; i < d; i++) t.data[pos * d + i] += v[i] * scale;
    patches[name] = t;
  };
  const embedPatch: Record<string, Patches[string]> = {};
  if (source.kind === "feature") {
    const k = graph.selectedFeatures[source.node];
    const [l, p, f] = graph.activeFeatures.subarray(3 * k, 3 * k + 3);
    add(
      `blocks.${l}.hook_mlp_out`,
      p,
      f32(tcs[l].W_dec).subarray(f * d, (f + 1) * d),
      graph.activations[k],
    );
  } else if (source.kind === "error") {
    // The error is the MLP output minus the reconstruction, computed here independently.
    const { layer: l, pos: p } = source;
    const x = clean.get(tcs[l].cfg.hook_name);
    const recon = f32(await tcs[l].decode(await tcs[l].encode(x)));
    const mlp = f32(clean.get(`blocks.${l}.hook_mlp_out`));
    const e = Float32Array.from({ length: d }, (_, i) => mlp[p * d + i] - recon[p * d + i]);
    add(`blocks.${l}.hook_mlp_out`, p, e, 1);
  } else {
    const WE = f32(model.W_E), tok = tokens[source.pos];
    const delta = new Float32Array(T * d);
    delta.set(WE.subarray(tok * d, (tok + 1) * d), source.pos * d);
    embedPatch.hook_embed = {
      mode: "add",
      value: { dtype: "float32", shape: [1, T, d], data: delta },
    };
  }
  const { cache: moved } = await model.runWithCache(tokens, {
    names: reads,
    patches: { ...patches, ...embedPatch },
  });
  const counts = nodeCounts(graph);
  const out = new Float64Array(counts.total);
  const readAt = (hook: string, pos: number, v: Float32Array) => {
    const a = f32(clean.get(hook)), b = f32(moved.get(hook));
    let s = 0;
    for (let i = 0; i < d; i++) s += (b[pos * d + i] - a[pos * d + i]) * v[i];
    return s;
  };
  graph.selectedFeatures.forEach((k, i) => {
    const l = graph.activeFeatures[3 * k], p = graph.activeFeatures[3 * k + 1];
    out[i] = readAt(tcs[l].cfg.hook_name, p, readVectors[i]);
  });
  const logit0 = counts.total - counts.logits;
  for (let k = 0; k < counts.logits; k++) {
    out[logit0 + k] = readAt("ln_final.hook_normalized", T - 1, readVectors[counts.features + k]);
  }
  return out;
}

/** Read vectors of the feature nodes (encoder columns), then of the K targets. */
function readVectors(
  tcs: Transcoder[],
  graph: AttributionGraph,
  targetVectors: Float32Array[],
): Float32Array[] {
  const out: Float32Array[] = [];
  for (const k of graph.selectedFeatures) {
    const l = graph.activeFeatures[3 * k], f = graph.activeFeatures[3 * k + 2];
    const { d_in, d_sae } = tcs[l].cfg, W = f32(tcs[l].W_enc);
    out.push(Float32Array.from({ length: d_in }, (_, i) => W[i * d_sae + f]));
  }
  return [...out, ...targetVectors];
}

/** Checks the adjacency columns of the given sources against interventions. */
async function checkColumns(
  model: HookedModel,
  tcs: Transcoder[],
  graph: AttributionGraph,
  targetVectors: Float32Array[],
  sources: { source: Source; column: number }[],
) {
  const counts = nodeCounts(graph), N = counts.total;
  const reads = readVectors(tcs, graph, targetVectors);
  let worst = 0, checked = 0;
  for (const { source, column } of sources) {
    const measured = await measuredColumn(model, tcs, graph, source, reads);
    let scale = 0;
    for (const x of measured) scale = Math.max(scale, Math.abs(x));
    for (let t = 0; t < N; t++) {
      const a = graph.adjacency[t * N + column];
      const err = Math.abs(a - measured[t]);
      const tol = 1e-4 * scale + 1e-6;
      assert.ok(
        err <= tol,
        `${JSON.stringify(source)} -> node ${t}: adjacency ${a}, intervention ${
          measured[t]
        } (err ${err})`,
      );
      worst = Math.max(worst, err / (scale || 1));
      checked++;
    }
  }
  return { worst, checked };
}

/** The strongest feature nodes of the graph's logit rows, and a few others. */
function sourcesToCheck(graph: AttributionGraph, nFeatures: number) {
  const c = nodeCounts(graph), N = c.total;
  const T = graph.tokens.length, L = graph.nLayers;
  const byStrength = Array.from({ length: c.features }, (_, i) => i).sort((a, b) => {
    let sa = 0, sb = 0;
    for (let k = 0; k < c.logits; k++) {
      sa += Math.abs(graph.adjacency[(N - c.logits + k) * N + a]);
      sb += Math.abs(graph.adjacency[(N - c.logits + k) * N + b]);
    }
    return sb - sa;
  });
  const out: { source: Source; column: number }[] = byStrength.slice(0, nFeatures).map((i) => ({
    source: { kind: "feature", node: i },
    column: i,
  }));
  for (const [l, p] of [[0, 1], [L - 1, T - 1], [Math.floor(L / 2), Math.floor(T / 2)]]) {
    out.push({ source: { kind: "error", layer: l, pos: p }, column: c.features + l * T + p });
  }
  for (const p of [0, 1, T - 1]) {
    out.push({ source: { kind: "token", pos: p }, column: c.features + c.errors + p });
  }
  return out;
}

Deno.test("random model: every checked adjacency column equals a frozen intervention", async () => {
  const cfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 4, n_ctx: 12, d_vocab: 50 });
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 3, 0.3));
  const tcs = [0, 1, 2].map((l) => randomTranscoder(l, 40 + l, { encShift: -0.3 }));
  const tokens = [1, 5, 9, 13, 2, 44, 7, 30];
  // Batches run on prompt prefixes (3 prefix lengths): a target depends on its prefix only.
  const graph = await attributionGraph(model, tcs, tokens, {
    batchSize: 4,
    maxNLogits: 3,
    positionBuckets: 3,
  });
  const c = nodeCounts(graph);
  assert.equal(graph.droppedFeatures, 0);
  assert.ok(c.features > 20, `only ${c.features} active features`);
  assert.equal(graph.tokens.length, 8); // no BOS prepended for a vocabulary without one
  const targets = graph.logitTargets.map((t) => demeanedUnembedding(model, t.tokenId));
  const { worst, checked } = await checkColumns(
    model,
    tcs,
    graph,
    targets,
    sourcesToCheck(graph, 8),
  );
  assert.ok(checked > 0);
  console.log(
    `random model: ${checked} entries checked, worst relative error ${worst.toExponential(2)}`,
  );
});

Deno.test("tiny model: adjacency columns equal frozen interventions, with custom targets", async () => {
  const { model, transcoders } = await loadPretrained("tiny");
  const tcs = transcoders as Transcoder[];
  const diff = logitDifferenceTarget(model, " mat", " dog");
  const graph = await attributionGraph(model, tcs, "The cat sat on the", {
    targets: [diff],
    maxFeatureNodes: 100000,
  });
  assert.equal(graph.logitTargets[0].label, diff.label);
  assert.equal(graph.logitTargets[0].tokenId, model.cfg.d_vocab);
  const { worst, checked } = await checkColumns(
    model,
    tcs,
    graph,
    [diff.vector],
    sourcesToCheck(graph, 6),
  );
  console.log(
    `tiny model: ${checked} entries checked, worst relative error ${worst.toExponential(2)}`,
  );
});

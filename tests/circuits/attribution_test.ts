/**
 * Attributions against interventions: on a random tiny processed model with random transcoders
 * (random biases too), every edge that greedy search and topContribs produce (transcoder
 * features, attention heads from other source tokens, embeddings; one to three hops deep)
 * equals the change in its parent's reading when the source is actually removed with attention
 * patterns, LayerNorm scales, attention outputs and other transcoder activations frozen.
 * Tolerance: 1e-4 relative to the larger of |measured| and 1e-3 |root activation|. The
 * reference's formula (decoder rows not made mean-free) misses by more than 1e-3 on some
 * transcoder edges, as our verification of it predicted.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { randomTranscoder } from "../helpers/random_transcoders.ts";
import { CircuitContext } from "../../lib/circuits/context.ts";
import { attnHeadContribs, topContribs, transcoderIxG } from "../../lib/circuits/attribution.ts";
import {
  greedyTopPaths,
  rootFeatureVector,
  transcoderFeatureVector,
} from "../../lib/circuits/paths.ts";
import { checkEdge, checkPath } from "../../lib/circuits/intervention.ts";
import type { FeatureVector } from "../../lib/circuits/feature_vector.ts";
import { flattenPaths } from "../../lib/circuits/filters.ts";

const cfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 4, n_ctx: 12, d_vocab: 50 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 7, 0.3));
const transcoders = [0, 1, 2].map((l) => randomTranscoder(l, 10 + l, { biasSeed: 20 + l }));
const tokens = [1, 5, 9, 13, 2, 44, 7, 30];

function mostActive(ctx: CircuitContext, layer: number, token: number): number {
  const z = ctx.featureActs(layer, token);
  let best = 0;
  for (let j = 1; j < z.length; j++) if (z[j] > z[best]) best = j;
  return best;
}

Deno.test("every edge equals the effect of removing its source under frozen attention and LayerNorm", async () => {
  const ctx = await CircuitContext.create(model, transcoders, tokens);
  const root = rootFeatureVector(
    ctx,
    transcoderFeatureVector(transcoders[2], mostActive(ctx, 2, -1)),
  );
  const scale = 1e-3 * Math.abs(root.contrib!);
  const edges: [FeatureVector, FeatureVector][] = [];
  for (
    const path of flattenPaths(
      greedyTopPaths(ctx, root, { numIters: 3, numBranches: 6, rawAttribution: true }),
    )
  ) {
    edges.push([path[path.length - 2], path[path.length - 1]]);
  }
  // Also every source of the root and of its strongest attention child from another token.
  const children = topContribs(ctx, root, 40, { ignoreBos: false });
  for (const c of children) edges.push([root, c]);
  const attnChild = children.find((c) =>
    c.componentPath.at(-1)!.type === "attn" && c.token !== ctx.pos(-1)
  );
  assert.ok(attnChild, "no attention source from another token");
  for (const c of topContribs(ctx, attnChild, 20)) edges.push([attnChild, c]);
  const kinds = new Set<string>();
  for (const [parent, child] of edges) {
    const r = await checkEdge(ctx, parent, child);
    const last = child.componentPath.at(-1)!;
    kinds.add(`${parent.componentPath.at(-1)!.type}<-${last.type}`);
    assert.ok(
      Math.abs(r.attribution - r.measured) <= 1e-4 * Math.max(Math.abs(r.measured), scale),
      `${last.type}${last.layer}@${child.token} -> ${
        parent.componentPath.at(-1)!.type
      }${parent.layer}: attribution ${r.attribution} vs measured ${r.measured}`,
    );
  }
  for (const k of ["mlp<-mlp", "mlp<-attn", "mlp<-embed", "attn<-mlp", "attn<-embed"]) {
    assert.ok(kinds.has(k), `no ${k} edge was checked`);
  }
});

Deno.test("the reference's formula (decoder rows not mean-free) misses transcoder edges", async () => {
  const ctx = await CircuitContext.create(model, transcoders, tokens, { meanFreeDecoders: false });
  const root = rootFeatureVector(
    ctx,
    transcoderFeatureVector(transcoders[2], mostActive(ctx, 2, -1)),
  );
  let worst = 0;
  for (
    const c of topContribs(ctx, root, 20).filter((c) => c.componentPath.at(-1)!.type === "mlp")
  ) {
    worst = Math.max(worst, (await checkEdge(ctx, root, c)).relativeError);
  }
  assert.ok(worst > 1e-3, `largest relative error ${worst}`);
});

Deno.test("ixg and head contributions sum with the rest to the pre-activation of a feature", async () => {
  // Completeness: embed + all features' ixg + all heads' contributions + errors and biases
  // reconstruct v . resid_mid (v = root vector, mean-free residual stream).
  const ctx = await CircuitContext.create(model, transcoders, tokens);
  const root = rootFeatureVector(
    ctx,
    transcoderFeatureVector(transcoders[2], mostActive(ctx, 2, -1)),
  );
  const t = ctx.pos(-1), v = root.vector, d = 16;
  let total = 0;
  const x = ctx.resid(2, "resid_mid", t);
  for (let i = 0; i < d; i++) total += v[i] * x[i];
  let parts = 0;
  const e = ctx.resid(0, "resid_pre", t);
  for (let i = 0; i < d; i++) parts += v[i] * e[i];
  for (let l = 0; l < 2; l++) {
    parts += transcoderIxG(ctx, l, t, v).reduce((a, b) => a + b, 0);
    const mlp = ctx.row(`blocks.${l}.hook_mlp_out`, t),
      out = ctx.tcOut[l]!.subarray(t * d, (t + 1) * d);
    const zDec = new Float64Array(d); // tc_out - b_dec_out = z W_dec
    for (let i = 0; i < d; i++) zDec[i] = out[i] - transcoders[l].b_dec_out.data[i];
    let mean = 0;
    for (let i = 0; i < d; i++) mean += zDec[i] / d;
    for (let i = 0; i < d; i++) parts += v[i] * (mlp[i] - zDec[i] + mean); // error + bias + mean correction
  }
  for (let l = 0; l <= 2; l++) {
    for (const row of attnHeadContribs(ctx, l, t, v)) parts += row.reduce((a, b) => a + b, 0);
    const bO = ctx.weight(`blocks.${l}.attn.b_O`);
    for (let i = 0; i < d; i++) parts += v[i] * bO[i];
  }
  assert.ok(Math.abs(parts - total) < 1e-4 * Math.abs(total), `${parts} vs ${total}`);
});

Deno.test("checkPath checks a path's last edge", async () => {
  const ctx = await CircuitContext.create(model, transcoders, tokens);
  const paths = greedyTopPaths(
    ctx,
    transcoderFeatureVector(transcoders[1], mostActive(ctx, 1, -1)),
    { numIters: 2, numBranches: 3, rawAttribution: true },
  );
  const r = await checkPath(ctx, paths[1][0]);
  assert.ok(r.relativeError < 1e-4);
  await assert.rejects(
    checkPath(ctx, [paths[0][0][0]]),
    /a path needs at least two nodes to check/,
  );
});

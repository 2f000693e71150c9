/**
 * The circuit data model's printed ids (the reference's formats), filters, greedy search
 * invariants, graphs with summed edges, error nodes and token sums, and bad input.
 */
import assert from "node:assert/strict";
import {
  componentString,
  type FeatureVector,
  featureVectorString,
  formatContrib,
  pathString,
} from "../../lib/circuits/feature_vector.ts";
import { matchesFilter, pathsViaFilter } from "../../lib/circuits/filters.ts";
import {
  addErrorNodes,
  edgeEnds,
  edgeKey,
  pathsToGraph,
  rawTopFeaturesAmongPaths,
  sumOverTokens,
} from "../../lib/circuits/graph.ts";
import { CircuitContext } from "../../lib/circuits/context.ts";
import {
  directionFeatureVector,
  greedyTopPaths,
  logitDifference,
  rootFeatureVector,
  transcoderFeatureVector,
} from "../../lib/circuits/paths.ts";
import { topContribs } from "../../lib/circuits/attribution.ts";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { mlpTranscoderConfig, Transcoder } from "../../lib/transcoder/transcoder.ts";

const fv = (
  path: FeatureVector["componentPath"],
  layer: number,
  sublayer: FeatureVector["sublayer"],
  token: number,
  contrib?: number,
): FeatureVector => ({
  componentPath: path,
  vector: new Float64Array(0),
  layer,
  sublayer,
  token,
  contrib,
  error: 0,
});

Deno.test("ids and contributions print as the reference prints them", () => {
  assert.equal(
    componentString({ layer: 8, type: "mlp", token: -1, featureType: "tc", featureIndex: 89 }),
    "mlp8tc[89]@-1",
  );
  assert.equal(componentString({ layer: 2, type: "attn", head: 2, token: 8 }), "attn2[2]@8");
  assert.equal(componentString({ layer: 0, type: "embed", token: 9 }), "embed0@9");
  const root = fv(
    [{ layer: 8, type: "mlp", token: -1, featureType: "tc", featureIndex: 89 }],
    8,
    "resid_mid",
    -1,
    7.57,
  );
  const child = fv(
    [...root.componentPath, {
      layer: 0,
      type: "mlp",
      token: 9,
      featureType: "tc",
      featureIndex: 8829,
    }],
    0,
    "resid_mid",
    9,
    0.8468,
  );
  const grand = fv(
    [...child.componentPath, { layer: 0, type: "attn", head: 5, token: 9 }],
    0,
    "resid_pre",
    9,
    0.66,
  );
  assert.equal(featureVectorString(root), "mlp8tc[89]@-1: 7.6");
  assert.equal(featureVectorString(grand), "mlp8tc[89]mlp0tc[8829]attn0[5]@9: 0.66");
  assert.equal(
    pathString([root, child, grand]),
    "mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85 <- attn0[5]@9: 0.66",
  );
  assert.equal(featureVectorString(fv([], 3, "resid_post", 4)), "*resid_post3@4");
  assert.deepEqual([15.2, 0.35, -0.031, 1e-5, 100].map(formatContrib), [
    "1.5e+01",
    "0.35",
    "-0.031",
    "1e-05",
    "1e+02",
  ]);
});

Deno.test("filters compare layers and tokens with any operator, components with eq/ne; path filters", () => {
  const a = fv(
    [{ layer: 8, type: "mlp", token: -1, featureType: "tc", featureIndex: 1 }, {
      layer: 2,
      type: "attn",
      head: 1,
      token: 4,
    }],
    2,
    "resid_pre",
    4,
    1,
  );
  assert.ok(matchesFilter({ layer: 2 }, a));
  assert.ok(matchesFilter({ layer: 1, layerOp: "gt", token: 4, tokenOp: "le" }, a));
  assert.ok(!matchesFilter({ layer: 2, layerOp: "lt" }, a));
  assert.ok(matchesFilter({ type: "attn", head: 1 }, a));
  assert.ok(matchesFilter({ featureType: "tc", featureTypeOp: "ne" }, a));
  assert.throws(
    () => matchesFilter({ head: 1, headOp: "gt" as "eq" }, a),
    /filter headOp must be "eq" or "ne", got "gt"/,
  );
  const root = fv(
    [{ layer: 8, type: "mlp", token: -1, featureType: "tc", featureIndex: 1 }],
    8,
    "resid_mid",
    -1,
    5,
  );
  const tc2 = fv(
    [{ layer: 2, type: "mlp", token: 9, featureType: "tc", featureIndex: 7 }],
    2,
    "resid_mid",
    9,
    1,
  );
  const emb = fv([{ layer: 0, type: "embed", token: 9 }], 0, "resid_pre", 9, 0.5);
  const paths = [[[root, tc2]], [[root, tc2, emb], [root, a, emb]]];
  assert.equal(pathsViaFilter(paths, { notInfix: [{ layer: 2, featureType: "tc" }] }).length, 1);
  assert.equal(pathsViaFilter(paths, { suffix: [{ layer: 0 }] }).length, 2);
  assert.equal(
    pathsViaFilter(paths, { infix: [{ type: "mlp", layer: 2 }, { type: "embed" }] }).length,
    1,
  );
  assert.equal(pathsViaFilter(paths, { suffix: [{ token: 9, tokenOp: "ne" }] }).length, 0);
});

Deno.test("paths merge into a graph with summed edges, node totals, error nodes and token sums", () => {
  const root = fv(
    [{ layer: 2, type: "mlp", token: -1, featureType: "tc", featureIndex: 1 }],
    2,
    "resid_mid",
    -1,
    5,
  );
  const x = fv(
    [{ layer: 1, type: "mlp", token: 3, featureType: "tc", featureIndex: 4 }],
    1,
    "resid_mid",
    3,
    2,
  );
  const y = fv(
    [{ layer: 0, type: "mlp", token: 3, featureType: "tc", featureIndex: 6 }],
    0,
    "resid_mid",
    3,
    1,
  );
  const y2 = { ...y, contrib: 0.5 }; // the same node reached through x
  const e = fv([{ layer: 0, type: "embed", token: 2 }], 0, "resid_pre", 2, 0.25);
  const g = pathsToGraph([[[root, x], [root, y]], [[root, x, y2], [root, x, e]]]);
  assert.equal(g.edges.get(edgeKey("mlp1tc[4]@3", "mlp2tc[1]@-1")), 2); // the prefix root <- x counts once
  assert.equal(g.edges.get(edgeKey("mlp0tc[6]@3", "mlp2tc[1]@-1")), 1);
  assert.equal(g.edges.get(edgeKey("mlp0tc[6]@3", "mlp1tc[4]@3")), 0.5);
  assert.equal(g.nodes.get("mlp0tc[6]@3")!.contrib, 1.5); // sum of its outgoing edges
  assert.equal(g.nodes.get("mlp2tc[1]@-1")!.contrib, 5); // the root keeps its activation
  assert.deepEqual(edgeEnds(edgeKey("a@1", "b@2")), ["a@1", "b@2"]);
  const summed = sumOverTokens(g);
  assert.ok(summed.nodes.has("mlp0tc[6]") && summed.edges.has(edgeKey("mlp0tc[6]", "mlp1tc[4]")));
  const top = rawTopFeaturesAmongPaths([[root, x, y2], [root, y], [root, x, e]], { topK: 2 });
  assert.deepEqual(top.map((t) => [t.id, t.contrib]), [["mlp0tc[6]@3", 1.5], ["embed0@2", 0.25]]);
});

/** A 2-layer random model with a random transcoder per layer, on a 6-token prompt. */
async function smallCircuit() {
  const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, n_ctx: 12, d_vocab: 50 });
  const model = modelFromStateDict(cfg, randomStateDict(cfg, 3, 0.3));
  const tcs = [0, 1].map((l) =>
    Transcoder.random(mlpTranscoderConfig(l, { d_in: 16, d_sae: 24 }), l)
  );
  return { model, tcs, ctx: await CircuitContext.create(model, tcs, [3, 8, 1, 40, 22, 9]) };
}

Deno.test("on a model: error nodes balance each node, logit directions and greedy search behave", async () => {
  const { model, tcs, ctx } = await smallCircuit();
  const z = ctx.featureActs(1, -1);
  const f = z.indexOf(Math.max(...z));
  const paths = greedyTopPaths(ctx, transcoderFeatureVector(tcs[1], f), {
    numIters: 2,
    numBranches: 4,
  });
  assert.equal(paths.length, 2);
  assert.ok(paths.every((it) => it.length <= 4));
  for (const it of paths) {
    for (let i = 1; i < it.length; i++) {
      assert.ok(it[i - 1].at(-1)!.contrib! >= it[i].at(-1)!.contrib!);
    }
  }
  // Capped attribution: no contribution exceeds the last transcoder feature's on its path.
  for (const p of paths[1]) {
    assert.ok(
      p[2].contrib! <=
        p.slice(0, 2).filter((n) => n.componentPath.at(-1)!.featureType === "tc").at(-1)!.contrib! +
          1e-12,
    );
  }
  const g = addErrorNodes(ctx, pathsToGraph(paths));
  for (const [id, node] of pathsToGraph(paths).nodes) {
    const incoming = [...g.edges].filter(([k]) => edgeEnds(k)[1] === id).reduce(
      (s, [, c]) => s + c,
      0,
    );
    if (incoming !== 0) {
      assert.ok(
        Math.abs(incoming - node.contrib!) < 1e-9,
        `${id}: children sum to ${incoming}, node is ${node.contrib}`,
      );
    }
  }
  assert.ok(
    [...g.nodes.keys()].some((k) => k.includes("tc_error")) &&
      [...g.nodes.keys()].some((k) => k.includes("bias_error")),
  );
  const dir = directionFeatureVector(logitDifference(ctx, 3, 4), {
    layer: 1,
    sublayer: "resid_post",
  });
  const r = rootFeatureVector(ctx, dir);
  assert.ok(Number.isFinite(r.contrib!));
  assert.equal(featureVectorString(r, { showContrib: false }), "mlp1@-1"); // as the reference's mlp11@-1
  // Rooting is idempotent: a transcoder root is scaled by its LN2 constant once.
  const tcRoot = rootFeatureVector(ctx, transcoderFeatureVector(tcs[1], 3));
  assert.deepEqual(rootFeatureVector(ctx, tcRoot), tcRoot);
  assert.notDeepEqual(tcRoot.vector, transcoderFeatureVector(tcs[1], 3).vector);
  assert.ok(topContribs(ctx, r, 3).length === 3);
  assert.throws(
    () => logitDifference(ctx, 50, 1),
    /token a = 50 is outside the vocabulary \[0, 50\)/,
  );
  assert.throws(() => transcoderFeatureVector(tcs[0], 24), /feature 24 out of range for d_sae 24/);
  assert.throws(
    () => topContribs(ctx, { ...r, token: 6 }, 3),
    /token position 6 is outside the prompt of 6 tokens/,
  );
  assert.throws(
    () => greedyTopPaths(ctx, r, { numIters: 0 }),
    /numIters must be a positive integer, got 0/,
  );
  const ctx0 = await CircuitContext.create(model, [tcs[1]], [3, 8, 1]);
  assert.throws(() => ctx0.transcoder(0), /no transcoder for layer 0/);
  await assert.rejects(
    CircuitContext.create(model, tcs, [3, 8, 99]),
    /token id 99 at \[0, 2\] is outside the vocabulary/,
  );
});

Deno.test("greedyTopPaths stops at layer-0 resid_pre nodes, as the reference's greedy_get_top_paths", async () => {
  const cfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 4, n_ctx: 12, d_vocab: 50 });
  let extendedBefore = 0;
  for (const seed of [1, 2, 3]) {
    const model = modelFromStateDict(cfg, randomStateDict(cfg, seed, 0.3));
    const tcs = [0, 1, 2].map((l) =>
      Transcoder.random(mlpTranscoderConfig(l, { d_in: 16, d_sae: 32 }), 10 * seed + l)
    );
    const ctx = await CircuitContext.create(model, tcs, [3, 8, 1, 40, 22, 9, 17]);
    for (const layer of [2, 0]) {
      const z = ctx.featureActs(layer, -1);
      const f = z.indexOf(Math.max(...z));
      assert.ok(z[f] > 0, `seed ${seed}: a live layer-${layer} feature`);
      const paths = greedyTopPaths(ctx, transcoderFeatureVector(tcs[layer], f), {
        numIters: 3,
        numBranches: 15,
        rawAttribution: true,
      });
      for (const path of paths.flat()) {
        // Only the last node may be at layer 0, resid_pre (an embedding or a layer-0 head).
        path.slice(0, -1).forEach((n, i) => {
          const stop = n.layer === 0 && n.sublayer === "resid_pre";
          assert.ok(!stop, `seed ${seed}: ${pathString(path)} goes on past node ${i}`);
        });
        if (layer === 0) assert.ok(path.length <= 2, `layer-0 target: ${pathString(path)}`);
      }
      if (layer === 0) {
        // Its later iterations keep no path; graphs and filters take the empty lists in stride.
        assert.deepEqual(paths.slice(1), [[], []]);
        assert.equal(pathsToGraph(paths).nodes.size, 1 + paths[0].length);
      }
      // The paths that stopped are kept by the iteration that found them, not repeated later.
      const ends = paths.flatMap((it, i) =>
        it.filter((p) => p.at(-1)!.layer === 0 && p.at(-1)!.sublayer === "resid_pre").map((p) =>
          [i, pathString(p)] as const
        )
      );
      const later = ends.filter(([i, s]) =>
        ends.some(([j, t]) => j > i && t.startsWith(`${s} <- `))
      );
      extendedBefore += ends.filter(([, s]) => s.includes("attn0")).length;
      assert.deepEqual(later, []);
    }
  }
  assert.ok(extendedBefore > 0, "some path ends at a layer-0 head (the case the rule is about)");
});

Deno.test("a search from a feature that does not fire warns; paths can name their tokens", async () => {
  const { tcs, ctx } = await smallCircuit();
  const z = ctx.featureActs(1, -1);
  const dead = z.indexOf(0), live = z.indexOf(Math.max(...z));
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  greedyTopPaths(ctx, transcoderFeatureVector(tcs[1], live), { warn });
  assert.deepEqual(warnings, []);
  greedyTopPaths(ctx, transcoderFeatureVector(tcs[1], dead), { warn });
  assert.deepEqual(warnings, [
    `greedyTopPaths: mlp1tc[${dead}]@-1 does not fire at position 5 (activation 0), so every path contributes 0; start from a position where it fires (ctx.featureActs(1, t))`,
  ]);
  const tokens = ["<|endoftext|>", " a", " b", " c", " d", " e"];
  const [[path]] = greedyTopPaths(ctx, transcoderFeatureVector(tcs[1], live), { warn });
  const s = pathString(path, { tokens, showContrib: false });
  assert.match(s, new RegExp(`^mlp1tc\\[${live}\\]@-1 " e" <- \\S+@(\\d) "`));
  const t = Number(/ <- \S+@(\d)/.exec(s)![1]);
  assert.ok(s.endsWith(`@${t} ${JSON.stringify(tokens[t])}`), s);
});

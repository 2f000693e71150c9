/**
 * The graph JSON: the invented GPT-2 example of the reference (section 3) rebuilt from an
 * attribution graph and default pruning (same nodes in the same order, every field, the same
 * links; numbers of our own graph, weights within float32 rounding, 1e-6), Cantor ids, node ids
 * that do not collide, the P10 rules on used nodes, a JSON round trip and graph-metadata.json.
 */
import assert from "node:assert/strict";
import {
  addGraphMetadata,
  cantorId,
  type GraphJson,
  graphNodeIds,
  graphToJson,
  writeGraphFiles,
} from "../../lib/attribution/graph_json.ts";
import type { AttributionGraph } from "../../lib/attribution/graph_types.ts";
import { nodeCounts } from "../../lib/attribution/graph_types.ts";
import { pruneGraph } from "../../lib/attribution/prune.ts";

/** The reference's example as written there (section 3), numbers invented. */
const REFERENCE = {
  metadata: {
    slug: "gpt2-cat",
    scan: "gpt2-small-tc",
    transcoder_list: [],
    prompt_tokens: ["<|endoftext|>", "The", " cat"],
    prompt: "<|endoftext|>The cat",
    node_threshold: 0.8,
    schema_version: 1,
  },
  qParams: { pinnedIds: [], supernodes: [], linkType: "both", clickedId: "", sg_pos: "" },
  nodes: [
    {
      node_id: "3_1207_2",
      feature: 733862,
      layer: "3",
      ctx_idx: 2,
      feature_type: "cross layer transcoder",
      token_prob: 0.0,
      is_target_logit: false,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: "3_1207-0",
      clerp: "",
      influence: 0.41,
      activation: 5.2,
    },
    {
      node_id: "7_88_2",
      feature: 4648,
      layer: "7",
      ctx_idx: 2,
      feature_type: "cross layer transcoder",
      token_prob: 0.0,
      is_target_logit: false,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: "7_88-0",
      clerp: "",
      influence: 0.18,
      activation: 2.9,
    },
    {
      node_id: "11_-1_2",
      feature: -1,
      layer: "11",
      ctx_idx: 2,
      feature_type: "mlp reconstruction error",
      token_prob: 0.0,
      is_target_logit: false,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: "11_-1-2",
      clerp: "",
      influence: 0.63,
      activation: null,
    },
    {
      node_id: "E_50256_0",
      feature: 0,
      layer: "E",
      ctx_idx: 0,
      feature_type: "embedding",
      token_prob: 0.0,
      is_target_logit: false,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: "E_50256-0",
      clerp: "",
      influence: 0.96,
      activation: null,
    },
    {
      node_id: "E_464_1",
      feature: 1,
      layer: "E",
      ctx_idx: 1,
      feature_type: "embedding",
      token_prob: 0.0,
      is_target_logit: false,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: "E_464-1",
      clerp: "",
      influence: 0.77,
      activation: null,
    },
    {
      node_id: "E_3797_2",
      feature: 2,
      layer: "E",
      ctx_idx: 2,
      feature_type: "embedding",
      token_prob: 0.0,
      is_target_logit: false,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: "E_3797-2",
      clerp: "",
      influence: 0.30,
      activation: null,
    },
    {
      node_id: "13_3332_2",
      feature: 3332,
      layer: "13",
      ctx_idx: 2,
      feature_type: "logit",
      token_prob: 0.142,
      is_target_logit: true,
      run_idx: 0,
      reverse_ctx_idx: 0,
      jsNodeId: "L_3332-2",
      clerp: 'Output " sat" (p=0.142)',
      influence: null,
      activation: null,
    },
  ],
  links: [
    { source: "E_3797_2", target: "3_1207_2", weight: 4.21 },
    { source: "E_464_1", target: "7_88_2", weight: 0.52 },
    { source: "3_1207_2", target: "7_88_2", weight: 1.37 },
    { source: "7_88_2", target: "13_3332_2", weight: 0.84 },
    { source: "11_-1_2", target: "13_3332_2", weight: -0.19 },
  ],
};

/**
 * An attribution graph whose default pruning gives the example: GPT-2's 12 layers, 3 tokens,
 * the two features of the example plus four decoy features (layer 1) read by the logit, whose
 * share of the influence pulls the 80% node cut down to the error node and which are then
 * pruned (their influence is below it).
 */
function exampleGraph(): AttributionGraph {
  const L = 12, T = 3, S = 6, K = 1, N = S + L * T + T + K;
  const A = new Float32Array(N * N);
  const err = (l: number, p: number) => S + l * T + p, tok = (p: number) => S + L * T + p;
  const logit = N - 1, f1 = 4, f2 = 5;
  const edge = (t: number, s: number, v: number) => (A[t * N + s] = v);
  edge(f1, tok(2), 4.21);
  edge(f2, tok(1), 0.52);
  edge(f2, f1, 1.37);
  edge(logit, f2, 0.84);
  edge(logit, err(11, 2), -0.19);
  for (let d = 0; d < 4; d++) edge(logit, d, 0.15);
  return {
    scan: "gpt2-small-tc",
    nLayers: L,
    tokens: Int32Array.of(50256, 464, 3797),
    tokenStrings: ["<|endoftext|>", "The", " cat"],
    activeFeatures: Int32Array.of(1, 1, 10, 1, 1, 11, 1, 1, 12, 1, 1, 13, 3, 2, 1207, 7, 2, 88),
    activations: Float32Array.of(1, 1, 1, 1, 5.2, 2.9),
    selectedFeatures: Int32Array.from({ length: S }, (_, i) => i),
    logitTargets: [{ tokenId: 3332, label: " sat", probability: 0.142 }],
    adjacency: A,
    droppedFeatures: 0,
  };
}

const linkKey = (l: { source: string; target: string }) => `${l.source}->${l.target}`;

Deno.test("graphToJson rebuilds the reference's example (section 3)", () => {
  const g = exampleGraph();
  const pruned = pruneGraph(g); // defaults 0.8 / 0.98
  const json = graphToJson(g, pruned, { slug: "gpt2-cat", nodeThreshold: 0.8 });
  assert.deepEqual(json.metadata, REFERENCE.metadata);
  assert.deepEqual(json.qParams, REFERENCE.qParams);
  // The same nodes in the same order, every field equal but the numbers of our own graph.
  assert.deepEqual(
    json.nodes.map((n) => Object.keys(n).sort()),
    REFERENCE.nodes.map((n) => Object.keys(n).sort()),
  );
  const strip = (n: { influence: unknown; activation: unknown }) => ({
    ...n,
    influence: typeof n.influence,
    activation: n.activation === null ? null : "number",
  });
  assert.deepEqual(json.nodes.map(strip), REFERENCE.nodes.map(strip));
  // Activations are the features' (float32); influences are cumulative scores in (0, 1].
  assert.ok(Math.abs(json.nodes[0].activation! - 5.2) < 1e-6);
  assert.ok(Math.abs(json.nodes[1].activation! - 2.9) < 1e-6);
  for (const n of json.nodes.slice(0, 6)) assert.ok(n.influence! > 0 && n.influence! <= 1);
  // f2 has the largest influence, then f1 and token 2 (equal), token 1, the error; BOS none.
  const infl = Object.fromEntries(json.nodes.map((n) => [n.node_id, n.influence]));
  assert.ok(infl["7_88_2"]! < infl["3_1207_2"]! && infl["3_1207_2"]! < infl["E_464_1"]!);
  assert.ok(infl["E_464_1"]! < infl["11_-1_2"]! && infl["11_-1_2"]! < 1);
  assert.equal(infl["E_50256_0"], 1); // BOS: no link, kept anyway
  // The same links (the reference lists them in another order) with the raw signed weights.
  const byKey = new Map(json.links.map((l) => [linkKey(l), l.weight]));
  assert.deepEqual([...byKey.keys()].sort(), REFERENCE.links.map(linkKey).sort());
  for (const l of REFERENCE.links) assert.ok(Math.abs(byKey.get(linkKey(l))! - l.weight) < 1e-6);
  // Row-major (target, source) order over the node order: f1's input, f2's (f1, then token 1),
  // then the logit's (f2, then the error).
  assert.deepEqual(json.links.map(linkKey), [
    "E_3797_2->3_1207_2",
    "3_1207_2->7_88_2",
    "E_464_1->7_88_2",
    "7_88_2->13_3332_2",
    "11_-1_2->13_3332_2",
  ]);
  // The decoys were kept by nothing: not in the nodes.
  assert.ok(!json.nodes.some((n) => n.layer === "1"));
});

Deno.test("cantorId: the reference's ids and a true pairing", () => {
  assert.equal(cantorId(3, 1207), 733862);
  assert.equal(cantorId(7, 88), 4648);
  assert.equal(cantorId(0, 0), 0);
  const seen = new Set<number>();
  for (let l = 0; l < 40; l++) for (let f = 0; f < 500; f++) seen.add(cantorId(l, f));
  assert.equal(seen.size, 40 * 500);
  assert.throws(() => cantorId(-1, 3), RangeError);
  assert.throws(() => cantorId(1.5, 3), RangeError);
  assert.throws(() => cantorId(2 ** 30, 2 ** 30), /too big/);
});

Deno.test("node ids: an error at (5, 3) and the feature (layer 0, index 5, position 3) differ", () => {
  const L = 6, T = 4;
  const g = {
    nLayers: L,
    tokens: Int32Array.of(50256, 1, 2, 3),
    activeFeatures: Int32Array.of(0, 3, 5, 5, 3, 0),
    selectedFeatures: Int32Array.of(0, 1),
    logitTargets: [{ tokenId: 5, label: "x", probability: 0.5 }, {
      tokenId: 3,
      label: "y",
      probability: 0.2,
    }],
  };
  const ids = graphNodeIds(g);
  const S = 2;
  assert.equal(ids[0], "0_5_3"); // the feature
  assert.equal(ids[S + 5 * T + 3], "5_-1_3"); // the error (circuit-tracer at 4bb8c0e: "0_5_3")
  assert.equal(new Set(ids).size, ids.length, "every node id is unique");
  assert.equal(ids.length, nodeCounts(g).total);
  assert.deepEqual(ids.slice(-2), ["7_5_3", "7_3_3"]);
});

/** A random small graph with every kind of node. */
function randomGraph(seed: number): AttributionGraph {
  let x = seed;
  const r = () => ((x = (x * 1103515245 + 12345) >>> 0) / 4294967296);
  const L = 3, T = 4, S = 12, K = 3, N = S + L * T + T + K;
  const feats: number[][] = Array.from(
    { length: S },
    () => [Math.floor(r() * L), 1 + Math.floor(r() * 3), Math.floor(r() * 99)],
  );
  feats.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  feats.forEach((f, i) => (f[2] = 100 + i)); // distinct features, still sorted
  const A = new Float32Array(N * N);
  for (let t = 0; t < N; t++) {
    if (t >= S && t < N - K) continue;
    for (let s = 0; s < N - K; s++) {
      const lt = t < S ? feats[t][0] : L,
        ls = s < S ? feats[s][0] : s < S + L * T ? Math.floor((s - S) / T) : -1;
      if (ls < lt && r() < 0.5) A[t * N + s] = r() * 2 - 0.8;
    }
  }
  return {
    scan: "random",
    nLayers: L,
    tokens: Int32Array.from({ length: T }, (_, p) => 10 * p + 1),
    tokenStrings: ["<|endoftext|>", " a", "\n", " b"],
    activeFeatures: Int32Array.from(feats.flat()),
    activations: Float32Array.from({ length: S }, () => r() * 4),
    selectedFeatures: Int32Array.from({ length: S }, (_, i) => i),
    logitTargets: [0.5, 0.3, 0.1].map((p, k) => ({
      tokenId: 40 + k,
      label: `"q${k}"`,
      probability: p,
    })),
    adjacency: A,
    droppedFeatures: 0,
  };
}

Deno.test("graphToJson follows P10 on random graphs: links of kept edges, used nodes only", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const g = randomGraph(seed);
    const p = pruneGraph(g, { nodeThreshold: 0.9, edgeThreshold: 0.95 });
    const json = graphToJson(g, p, { slug: `r${seed}`, nodeThreshold: 0.9 });
    const N = nodeCounts(g).total, ids = graphNodeIds(g);
    const index = new Map(ids.map((id, i) => [id, i]));
    // Links: exactly the kept edges, row-major, raw weights.
    const want: string[] = [];
    for (let t = 0; t < N; t++) {
      for (let s = 0; s < N; s++) if (p.edgeMask[t * N + s]) want.push(`${ids[s]}->${ids[t]}`);
    }
    assert.deepEqual(json.links.map(linkKey), want, `seed ${seed}`);
    for (const l of json.links) {
      assert.equal(l.weight, g.adjacency[index.get(l.target)! * N + index.get(l.source)!]);
    }
    // Nodes: kept, and in a link unless an embedding or a logit; index order; every field set.
    const linked = new Set(json.links.flatMap((l) => [l.source, l.target]));
    const order = json.nodes.map((n) => index.get(n.node_id)!);
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    for (const n of json.nodes) {
      const i = index.get(n.node_id)!;
      assert.equal(p.nodeMask[i], 1);
      if (n.feature_type !== "embedding" && n.feature_type !== "logit") {
        assert.ok(linked.has(n.node_id));
      }
      assert.equal(n.influence, n.feature_type === "logit" ? null : p.cumulativeScores[i]);
      assert.equal(Object.values(n).filter((v) => v === undefined).length, 0);
    }
    assert.equal(json.nodes.filter((n) => n.feature_type === "embedding").length, 4);
    assert.deepEqual(json.nodes.filter((n) => n.is_target_logit).map((n) => n.node_id), ["4_40_3"]);
    assert.equal(json.nodes.find((n) => n.node_id === "4_41_3")!.clerp, 'Output ""q1"" (p=0.300)');
    // A JSON round trip gives the same object.
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
  }
});

Deno.test("graphToJson: hand-made masks; unlinked features and errors are left out", () => {
  const g = randomGraph(3);
  const N = nodeCounts(g).total, ids = graphNodeIds(g);
  const nodeMask = new Uint8Array(N), edgeMask = new Uint8Array(N * N);
  nodeMask.fill(1, 0, 3); // features 0..2, no edges
  nodeMask[12] = 1; // the error (0, 0), no edges
  nodeMask.fill(1, N - 7); // tokens and logits
  edgeMask[(N - 3) * N + 1] = 1; // logit 0 <- feature 1
  edgeMask[(N - 3) * N + 20] = 1; // logit 0 <- a node not kept: no link
  const scores = Float64Array.from({ length: N }, (_, i) => i / N);
  const json = graphToJson(g, { nodeMask, edgeMask, cumulativeScores: scores }, {
    slug: "m",
    nodeThreshold: null,
  });
  assert.deepEqual(json.links.map(linkKey), [`${ids[1]}->${ids[N - 3]}`]);
  assert.deepEqual(json.nodes.map((n) => n.node_id), [ids[1], ...ids.slice(N - 7)]);
  assert.equal(json.metadata.node_threshold, null);
  assert.throws(
    () =>
      graphToJson(g, { nodeMask, edgeMask: new Uint8Array(3), cumulativeScores: scores }, {
        slug: "m",
        nodeThreshold: 0.8,
      }),
    RangeError,
  );
});

Deno.test("graph-metadata.json: entries replaced by slug; files written to a folder", async () => {
  const g = exampleGraph();
  const json = graphToJson(g, pruneGraph(g), {
    slug: "gpt2-cat",
    scan: "gpt2-small-tc",
    nodeThreshold: 0.8,
    info: { creator_name: "test", generator: { name: "transcoder-circuits", version: "0.1.0" } },
  });
  assert.deepEqual(json.metadata.info?.creator_name, "test");
  const other = { ...json.metadata, slug: "other" };
  let index = addGraphMetadata(undefined, json.metadata);
  index = addGraphMetadata(index, other);
  const again = addGraphMetadata(index, { ...json.metadata, prompt: "changed" });
  assert.deepEqual(again.graphs.map((m) => m.slug), ["other", "gpt2-cat"]);
  assert.equal(again.graphs[1].prompt, "changed");
  assert.equal(index.graphs[0].prompt, "<|endoftext|>The cat", "the input is unchanged");
  const dir = await Deno.makeTempDir();
  try {
    await writeGraphFiles(dir, json);
    const second: GraphJson = { ...json, metadata: other };
    await writeGraphFiles(dir, second);
    await writeGraphFiles(dir, json); // again: replaced, not duplicated
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/graph-metadata.json`));
    assert.deepEqual(meta.graphs.map((m: { slug: string }) => m.slug), ["other", "gpt2-cat"]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/gpt2-cat.json`)), json);
    await assert.rejects(
      writeGraphFiles(dir, { ...json, metadata: { ...json.metadata, slug: "../x" } }),
      RangeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

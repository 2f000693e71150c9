/** Tables: top/bottom tokens and features, evaluations and paths, in HTML and text. */
import assert from "node:assert/strict";
import {
  allLayersEvalTable,
  featuresTable,
  layerEvalTable,
  numberedPaths,
  pathsTable,
  tokensTable,
  topBottomFeatures,
  topBottomIndices,
  topBottomTokens,
} from "../../lib/display/tables.ts";
import type { AllLayersEval, LayerEval } from "../../lib/transcoder/evals.ts";
import { attn, embed, mlp0, root, selfContained } from "./fixtures.ts";

Deno.test("topBottomIndices() picks the k largest and smallest, ignoring NaN", () => {
  const r = topBottomIndices([0.5, NaN, -2, 3, 1, -2], 2);
  assert.deepEqual(r.top, [{ index: 3, value: 3 }, { index: 4, value: 1 }]);
  assert.deepEqual(r.bottom, [{ index: 2, value: -2 }, { index: 5, value: -2 }]);
  assert.throws(() => topBottomIndices([1], -1), RangeError);
  const t = topBottomTokens([1, 5, -4], (i) => ["a", " b", "\n"][i], 1);
  assert.deepEqual(t, {
    top: [{ token: " b", value: 5, id: 1 }],
    bottom: [{ token: "\n", value: -4, id: 2 }],
  });
  assert.deepEqual(topBottomFeatures([0.1, 0.3], 1).top, [{ feature: 1, value: 0.3 }]);
});

Deno.test("tokensTable() shows de-embeddings with the reference's headers and signed values", () => {
  const t = tokensTable({
    top: [{ token: " rifles", value: 10.275 }, { token: " rifle", value: 10.147 }],
    bottom: [{ token: "<aters>", value: -3.79 }],
  }, "deembeddings");
  assert.ok(
    t.html.includes("Most-negative de-embedding tokens") &&
      t.html.includes("Most-positive de-embedding tokens"),
  );
  assert.ok(t.html.includes("&lt;aters&gt;") && !t.html.includes("<aters>"));
  assert.ok(t.html.includes("+10.275") && t.html.includes("-3.790"));
  assert.ok(selfContained(t.html));
  const lines = t.text.split("\n");
  assert.equal(lines.length, 4); // header, rule, two rows
  assert.match(lines[2], /^"<aters>"\s+-3\.790\s+" rifles"\s+\+10\.275$/);
  assert.match(lines[3], /^\s+" rifle"\s+\+10\.147$/);
  assert.ok(tokensTable({ top: [], bottom: [] }).text.startsWith("Bottom logit tokens"));
});

Deno.test("featuresTable() names features by layer", () => {
  const t = featuresTable({
    top: [{ feature: 7620, value: 0.085 }],
    bottom: [{ feature: 3, value: -0.04, label: "x<y" }],
  }, { layer: 2 });
  assert.ok(t.text.includes("Most-positive transcoder features"));
  assert.match(t.text, /x<y\s+-0\.040\s+mlp2tc\[7620\]\s+\+0\.085/);
  assert.ok(t.html.includes("x&lt;y"));
});

const layerEval = (layer: number): LayerEval => ({
  layer,
  l0: 12.345,
  nmse: 0.12345,
  explainedVariance: 0.87654,
  ceClean: 3.5928,
  ceReplaced: 3.7,
  ceZeroAblated: 10.9406,
  ceScore: 0.98543,
  kl: 0.0668,
  deadFeatures: 7,
  liveFeatures: 1000,
  logFrequencies: new Float32Array(1024),
});

Deno.test("layerEvalTable() and allLayersEvalTable() print every metric", () => {
  const t = layerEvalTable([layerEval(0), layerEval(8)]);
  for (
    const s of [
      "L0",
      "CE score",
      "12.35",
      "0.1235",
      "0.8765",
      "3.5928",
      "10.9406",
      "0.9854",
      "0.0668",
      "1000/1024",
    ]
  ) {
    assert.ok(t.text.includes(s), s);
    assert.ok(t.html.includes(s), s);
  }
  assert.equal(t.text.split("\n").length, 4);
  const all: AllLayersEval = {
    layers: [0, 1, 2],
    ceClean: 3.5928,
    ceReplaced: 4.2337,
    ceZeroAblated: 10.9406,
    ceScore: 0.9,
    kl: 0.668,
  };
  const a = allLayersEvalTable(all);
  for (const s of ["All layers replaced (0, 1, 2)", "4.2337", "0.6680", "KL(clean || replaced)"]) {
    assert.ok(a.text.includes(s), s);
  }
});

Deno.test("pathsTable() prints paths as the reference's print_all_paths", () => {
  const nested = [[[root, mlp0], [root, attn]], [[root, mlp0, embed]]];
  assert.deepEqual(numberedPaths(nested).map((p) => p.label), ["[0][0]", "[0][1]", "[1][0]"]);
  const t = pathsTable(nested);
  assert.equal(
    t.text,
    [
      "Path [0][0]: mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85",
      "Path [0][1]: mlp8tc[89]@-1: 7.6 <- attn2[2]@8: 0.35",
      "Path [1][0]: mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85 <- embed0@9: 0.52",
    ].join("\n"),
  );
  assert.ok(t.html.includes("3 paths") && t.html.includes("attn2[2]@8") && t.html.includes("0.35"));
  assert.equal(
    pathsTable([[root, mlp0]]).text,
    "Path [0]: mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85",
  );
  const limited = pathsTable(nested, { limit: 1 });
  assert.ok(limited.text.endsWith("… 2 more paths"));
  assert.ok(pathsTable(nested, { limit: 2 }).text.endsWith("… 1 more path"));
  // A single path (a list of feature vectors) is a list of one path, not an empty table.
  assert.equal(
    pathsTable([root, mlp0]).text,
    "Path [0]: mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85",
  );
});

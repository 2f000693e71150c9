/** Charts render headlessly to SVG with the expected marks; the graph is laid out by layer. */
import assert from "node:assert/strict";
import { graphText } from "../../lib/display/circuit_text.ts";
import { graphLayout, layerToFloat } from "../../lib/circuits/graph_layout.ts";
import {
  heatmapSvg,
  heatmapText,
  histogramBins,
  histogramSvg,
  histogramText,
  NEGATIVE_COLOR,
  POSITIVE_COLOR,
  scatterSvg,
  scatterText,
} from "../../lib/display/charts.ts";
import { edgeKey } from "../../lib/circuits/graph.ts";
import { attn, countInGroup, embed, mlp0, root, smallGraph, tcErr } from "./fixtures.ts";

Deno.test("charts need no DOM globals", () => {
  assert.equal("document" in globalThis, false);
  assert.ok(histogramSvg([1, 2, 3]).startsWith("<svg"));
});

Deno.test("histogramBins() counts every finite value once and can split at zero", () => {
  const b = histogramBins([0, 1, 1, 2, NaN, Infinity], { bins: 2 });
  assert.deepEqual(b.map((x) => x.count), [1, 3]);
  const s = histogramBins([-1, -0.3, 0.2, 2], { bins: 3, splitAtZero: true });
  assert.equal(s.reduce((a, x) => a + x.count, 0), 4);
  assert.ok(s.some((x) => x.x1 === 0) && s.every((x) => x.x1 <= 0 || x.x0 >= 0));
  assert.deepEqual(histogramBins([5, 5]), [{ x0: 4.5, x1: 5.5, count: 2 }]);
  assert.deepEqual(histogramBins([]), []);
  assert.throws(() => histogramBins([1], { bins: 0 }), RangeError);
});

Deno.test("histogramSvg() draws one bar per nonempty bin, negative red and positive blue", () => {
  const values = [-2, -1.9, -1, 0.5, 1, 2, 2, 2];
  const svg = histogramSvg(values, { bins: 4, signColors: true, xLabel: "logit effect" });
  const nonEmpty = histogramBins(values, { bins: 4, splitAtZero: true }).filter((b) => b.count > 0);
  assert.ok(svg.startsWith("<svg") && svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  assert.equal(countInGroup(svg, "rect", "rect"), nonEmpty.length);
  const fills = [...svg.matchAll(/<rect fill="(#[0-9a-f]+)"/g)].map((m) => m[1]);
  assert.deepEqual(fills, nonEmpty.map((b) => (b.x1 <= 0 ? NEGATIVE_COLOR : POSITIVE_COLOR)));
  assert.ok(svg.includes("logit effect"));
  // log10 feature frequencies, e.g. from LayerEval.logFrequencies
  const freq = new Float32Array(100).map((_, i) => -1 - (i % 7) * 0.5);
  assert.equal(countInGroup(histogramSvg(freq, { bins: 7 }), "rect", "rect"), 7);
  const text = histogramText(values, { bins: 4, splitAtZero: true });
  assert.ok(text.startsWith("values: 8 finite values") && text.includes("█"));
});

Deno.test("heatmapSvg() draws one cell per [layer][head] entry", () => {
  const m = Array.from({ length: 3 }, (_, l) => Array.from({ length: 4 }, (_, h) => l * 4 + h));
  const svg = heatmapSvg(m, { labels: false });
  assert.ok(svg.startsWith("<svg"));
  assert.equal(countInGroup(svg, "cell", "rect"), 12);
  assert.ok(svg.includes("layer 2, head 3: 11.0000"));
  assert.equal(countInGroup(heatmapSvg(m), "text", "text"), 12);
  assert.throws(() => heatmapSvg([[1, 2], [3]]), /row 1 has 1 values, expected 2/);
  const t = heatmapText(m);
  assert.ok(t.includes("H3") && t.includes("L2") && t.includes("largest: L2H3 11.00"));
});

Deno.test("scatterSvg() draws one dot per value and labels the top ones", () => {
  const v = Array.from(
    { length: 50 },
    (_, i) => (i === 17 ? 0.3 : i === 5 ? 0.2 : 0.01 * Math.sin(i)),
  );
  const svg = scatterSvg(v, { labelTop: 2 });
  assert.ok(
    svg.startsWith("<svg") && svg.includes("Transcoder feature index") &&
      svg.includes("Connection strength"),
  );
  assert.equal(countInGroup(svg, "dot", "circle"), 50);
  assert.ok(svg.includes(">17</text>") && svg.includes(">5</text>"));
  assert.equal(countInGroup(scatterSvg([0, 0, 1], { onlyNonzero: true }), "dot", "circle"), 1);
  assert.ok(scatterText(v).includes("top: 17 (0.3000), 5 (0.2000)"));
});

Deno.test("layerToFloat() follows the reference: resid_mid +0.5, error nodes -0.25", () => {
  assert.equal(layerToFloat(root), 8.5);
  assert.equal(layerToFloat(mlp0), 0.5);
  assert.equal(layerToFloat(attn), 2);
  assert.equal(layerToFloat(embed), 0);
  assert.equal(layerToFloat(tcErr), 8.25);
});

Deno.test("graphLayout() places nodes by layer and token, links child -> parent", () => {
  const g = smallGraph();
  const { nodes, links } = graphLayout(g, { x: "token" });
  const at = (id: string) => nodes.find((n) => n.id === id)!;
  assert.equal(at("mlp8tc[89]@-1").position, 9); // @-1 = the last token seen
  assert.equal(at("attn2[2]@8").x, 8);
  assert.deepEqual(nodes.map((n) => n.layer), [8.5, 0.5, 2, 0, 8.25]);
  for (const n of nodes) assert.ok(Math.abs(n.y - n.layer) <= 0.1 + 1e-12);
  assert.ok(at("mlp8tc[89]tc_error8@-1").x > at("mlp8tc[89]@-1").x);
  assert.equal(links.length, 4);
  const l = links.find((x) => x.child === "embed0@9")!;
  assert.deepEqual([l.x1, l.y1, l.x2, l.y2], [
    at("embed0@9").x,
    at("embed0@9").y,
    at("mlp0tc[8829]@9").x,
    at("mlp0tc[8829]@9").y,
  ]);
  assert.equal(Math.max(...links.map((x) => x.width)), 6); // the largest |edge| gets maxWidth
  assert.ok(Math.abs(links.find((x) => x.child === "attn2[2]@8")!.width - 6 * 0.35 / 0.85) < 1e-12);
  assert.equal(graphLayout(g, { x: "token", nTokens: 12 }).nodes[0].position, 11);
  const bad = { nodes: g.nodes, edges: new Map([[edgeKey("nope@1", "mlp8tc[89]@-1"), 1]]) };
  assert.throws(() => graphLayout(bad), /node not in the graph: "nope@1"/);
});

Deno.test("graphText() lists nodes from the top layer down with their children", () => {
  const g = smallGraph();
  const text = graphText(g);
  assert.ok(
    text.startsWith(
      "Circuit graph: 5 nodes, 4 edges\nmlp8tc[89]@-1: 7.6  (layer 8.5)\n  <- mlp0tc[8829]@9: 0.85",
    ),
  );
  assert.ok(text.includes("mlp0tc[8829]@9: 1.4  (layer 0.5)\n  <- embed0@9: 0.52"));
});

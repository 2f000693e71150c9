/** The one-call wrappers: every result type gets HTML and readable text. */
import assert from "node:assert/strict";
import { graphText } from "../../lib/display/circuit_text.ts";
import { showDashboard } from "../../lib/display/dashboard_html.ts";
import {
  showEval,
  showHeatmap,
  showHistogram,
  showPaths,
  showScatter,
  showTokens,
  showTopFeatures,
  showTopTokens,
} from "../../lib/display/show.ts";
import { Displayable, JUPYTER_DISPLAY } from "../../lib/display/jupyter.ts";
import type { LayerEval } from "../../lib/transcoder/evals.ts";
import {
  attn,
  countInGroup,
  mlp0,
  root,
  selfContained,
  smallGraph,
  statsDashboard,
} from "./fixtures.ts";

const bundleOf = (d: Displayable) => d[JUPYTER_DISPLAY]();

Deno.test("every show* returns a displayable with self-contained HTML and text", () => {
  const evals: LayerEval[] = [{
    layer: 3,
    l0: 20,
    nmse: 0.2,
    explainedVariance: 0.8,
    ceClean: 3.1,
    ceReplaced: 3.3,
    ceZeroAblated: 9,
    ceScore: 0.966,
    kl: 0.05,
    deadFeatures: 2,
    liveFeatures: 60,
    logFrequencies: new Float32Array(64).fill(-2),
  }];
  const all = [
    showTokens(["a", "b"], [0, 1], { current: 1 }),
    showTopTokens({ top: [{ token: "x", value: 1 }], bottom: [{ token: "y", value: -1 }] }, {
      values: [-1, 0.5, 1],
    }),
    showTopFeatures({ top: [{ feature: 4, value: 0.2 }], bottom: [] }, {
      layer: 2,
      values: [0, 0.1, 0, 0, 0.2],
    }),
    showPaths([[[root, mlp0]], [[root, attn]]]),
    showEval({ perLayer: evals, tokens: 4096 }, { frequencyHistograms: true }),
    showDashboard({ ...statsDashboard(), topExamples: [], bands: [] }),
    showHistogram([1, 2, 3], { title: "h" }),
    showHeatmap([[1, 2]]),
    showScatter([1, 2, 3]),
  ];
  for (const d of all) {
    assert.ok(d instanceof Displayable);
    const b = bundleOf(d);
    assert.deepEqual(Object.keys(b).sort(), ["text/html", "text/plain"]);
    assert.ok(b["text/html"]!.length > 0 && b["text/plain"].length > 0);
    assert.ok(selfContained(b["text/html"]!));
  }
});

Deno.test("show* text fallbacks contain the key numbers", () => {
  assert.equal(
    String(showTokens({ tokens: ["He", " was", " caught"], values: [0, 0, 19.97], current: 2 })),
    "He was[[ caught]](19.97)",
  );
  const tt = showTopTokens({ top: [{ token: " caught", value: 9.371 }], bottom: [] }, {
    kind: "deembeddings",
    values: [-1, 9.371],
  });
  assert.ok(
    tt.text.includes('" caught"') && tt.text.includes("+9.371") &&
      tt.text.includes("de-embedding score: 2 finite values"),
  );
  assert.equal(countInGroup(tt.html, "rect", "rect"), 2);
  const tf = showTopFeatures({ top: [{ feature: 15119, value: 0.353 }], bottom: [] }, {
    layer: 2,
    values: [0, 0.353],
  });
  assert.ok(
    tf.text.includes("mlp2tc[15119]") && tf.text.includes("+0.353") &&
      tf.text.includes("top: 1 (0.3530)"),
  );
  assert.ok(showPaths([[root, mlp0]]).text.includes("mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85"));
  assert.ok(graphText(smallGraph()).startsWith("Circuit graph: 5 nodes, 4 edges"));
  const e = showEval({
    layers: [0, 1],
    ceClean: 3.5928,
    ceReplaced: 4.2337,
    ceZeroAblated: 10.9406,
    ceScore: 0.9,
    kl: 0.668,
  });
  assert.ok(e.text.includes("4.2337") && e.text.includes("0.6680"));
  assert.ok(showHeatmap([[1.5, 2.25]], { title: "OV norms" }).text.startsWith("OV norms\n"));
  assert.throws(() => showTokens(["a"]), /one value per token/);
});

Deno.test("showHistogram() gives its bins to the text rendering too", () => {
  const xs = Array.from({ length: 40 }, (_, i) => i / 4);
  const lines = showHistogram(xs, { bins: 5 }).text.split("\n");
  assert.equal(lines.filter((l) => l.startsWith("[")).length, 5);
});

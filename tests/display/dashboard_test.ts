/** `showDashboard`: a `FeatureDashboard` as HTML and text, every part the data has. */
import assert from "node:assert/strict";
import { showDashboard } from "../../lib/display/dashboard_html.ts";
import { interpolateColor } from "../../lib/display/format.ts";
import { countInGroup, fullDashboard, selfContained, statsDashboard } from "./fixtures.ts";

Deno.test("showDashboard() shows frequency, collapsible bands and example headers", () => {
  const d = showDashboard(statsDashboard());
  assert.ok(d.html.includes(">mlp8tc[89]</h3>")); // the default title
  assert.ok(d.html.includes("Firing frequency: 0.1137% (14 tokens; log10 -2.944)"));
  assert.ok(d.html.includes("max 8.620, mean 3.100, std 1.200; q50 2.900, q90 7.250"));
  assert.equal((d.html.match(/<details/g) ?? []).length, 3);
  assert.equal((d.html.match(/<details open/g) ?? []).length, 1); // only the top examples
  assert.ok(d.html.includes("<summary") && d.html.includes("Between 4.31 and 8.62: 12.50%"));
  assert.ok(d.html.includes("Between 0.00 and 4.31: 87.50%") && d.html.includes("no examples"));
  assert.ok(
    d.html.includes("Example 7, token 120: 5.50") && d.html.includes("Example 9, token 103: 4.40"),
  );
  assert.ok(d.html.includes("&lt;A&gt;") && !d.html.includes("<A>"));
  assert.ok(selfContained(d.html));
  // The whole stored context is shown (30 tokens), unless `window` crops it.
  const top = d.html.slice(d.html.indexOf("Example 5"), d.html.indexOf("</details>"));
  assert.equal((top.match(/<span title=/g) ?? []).length, 30);
  const cropped = showDashboard(statsDashboard(), { window: 5 }).html;
  const topCropped = cropped.slice(cropped.indexOf("Example 5"), cropped.indexOf("</details>"));
  assert.equal((topCropped.match(/<span title=/g) ?? []).length, 11); // 5 before, it, 5 after
  assert.ok(top.includes('title="8.62" style="background-color:#ff8c00'));
  // One colour scale for the whole dashboard (0 to the max activation): 5.5 of 8.62 is lighter.
  const c = interpolateColor(5.5, 0, 8.62);
  assert.equal(c, "#ffb55c");
  assert.ok(d.html.includes(`title="5.50" style="background-color:${c}`));
  // No optional part without its data.
  for (
    const s of ["<svg", "Activation histogram", "Direct logit effects", "De-embeddings", "OV "]
  ) {
    assert.ok(!d.html.includes(s) && !d.text.includes(s), s);
  }
});

Deno.test("showDashboard() text lists the summary, the top examples and the bands", () => {
  const d = showDashboard(statsDashboard(), { window: 1, frequencyLabel: "Sparsity" });
  assert.equal(
    d.text,
    [
      "mlp8tc[89]",
      "Sparsity: 0.1137% (14 tokens; log10 -2.944)",
      "max 8.620, mean 3.100, std 1.200; q50 2.900, q90 7.250",
      "",
      "Top examples",
      "  Example 5, token 120: 8.62: … w19(0.50)[[<A>]](8.62) w21…",
      "Between 4.31 and 8.62: 12.50%",
      "  Example 7, token 120: 5.50: … w19(0.50)[[<A>]](5.50) w21…",
      "  Example 9, token 103: 4.40: … w2(0.50)[[<A>]](4.40) w4…",
      "Between 0.00 and 4.31: 87.50%",
    ].join("\n"),
  );
  assert.ok(d.ansi!.includes("\x1b[48;2;"));
  assert.equal(
    (showDashboard(statsDashboard(), { openBands: true }).html.match(/<details open/g) ?? [])
      .length,
    3,
  );
  const h2 = showDashboard(statsDashboard(), { headerLevel: 2 }).html;
  assert.ok(h2.includes(">mlp8tc[89]</h2>"));
});

Deno.test("showDashboard() scales its numbers to small activations", () => {
  const small = statsDashboard();
  small.summary = { ...small.summary, max: 0.0034, mean: 0.0012, std: 0.0008, quantiles: [] };
  small.topExamples = [{ ...small.topExamples[0], value: 0.0034 }];
  small.bands = [{ low: 0.0017, high: 0.0034, fraction: 1, examples: [] }];
  const text = showDashboard(small).text;
  assert.ok(text.includes("max 0.003400, mean 0.001200, std 0.000800"), text);
  assert.ok(text.includes("Example 5, token 120: 0.00340:"));
  assert.ok(text.includes("Between 0.00170 and 0.00340: 100.00%"));
});

Deno.test("showDashboard() shows every optional part the dashboard has", () => {
  const d = showDashboard(fullDashboard());
  assert.ok(d.html.includes(">digits &lt;after&gt; L</h3>"));
  assert.ok(d.html.includes("fires on a digit after a capital letter"));
  // Activation histogram: bins [2, 4), [4, 8), [8, 16) on a log10 axis, two of them nonempty.
  assert.ok(d.html.includes("Activation histogram (log-spaced bins)"));
  assert.ok(d.html.includes("log10 activation"));
  // Bars: 2 activation bins, 5 logit-effect bins; heatmap cells: 4 OV norms.
  assert.equal(countInGroup(d.html, "rect", "rect"), 2 + 5);
  assert.ok(d.html.includes(`fill="#d62728"`) && d.html.includes(`fill="#1f77b4"`));
  assert.equal(countInGroup(d.html, "cell", "rect"), 4);
  assert.ok(selfContained(d.html));
  const text = d.text;
  const expect = [
    "digits <after> L\nfires on a digit after a capital letter\nFiring frequency: 0.1137%",
    [
      "Activation histogram (log-spaced bins)",
      "firing activations: 14 finite values",
      "[2.000,  4.000)  3 ███████████",
      "[4.000,  8.000)  0 ",
      "[8.000, 16.000] 11 ████████████████████████████████████████",
    ].join("\n"),
    "Top examples\n  Example 5, token 120: 8.62:",
    "Direct logit effects (W_dec[i] W_U)",
    "Bottom logit tokens   Value  Top logit tokens   Value",
    '" the"               -0.500  " guns"           +1.250',
    "logit effects on all tokens: 54 finite values",
    "De-embeddings (W_E W_enc[:, i])",
    '"aters"                            -3.790  " rifles"                          +10.275',
    "Through head 1.1 (OV norm 4.000)",
    '" x"                               -1.000  " L"                               +2.500',
    "OV de-embedding norms ||OV[l,h] W_enc[:, i]||\n     H0   H1\nL0 1.00 2.00\nL1 3.00 4.00",
  ];
  let at = 0;
  for (const s of expect) {
    const i = text.indexOf(s, at);
    assert.ok(i >= at, `missing, or out of order: ${s}\n---\n${text}`);
    at = i + s.length;
  }
});

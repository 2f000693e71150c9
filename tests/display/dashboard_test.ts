/** The activation-examples dashboard and the feature card, from plain data. */
import assert from "node:assert/strict";
import { showDashboard, showFeatureCard } from "../../lib/display/dashboard_html.ts";
import { interpolateColor } from "../../lib/display/format.ts";
import { countInGroup, selfContained } from "./fixtures.ts";

const example = (n: number, pos: number, v: number, example: number) => ({
  tokens: Array.from({ length: n }, (_, i) => (i === pos ? "<A>" : ` w${i}`)),
  values: Array.from({ length: n }, (_, i) => (i === pos ? v : i === pos - 1 ? 0.5 : 0)),
  position: pos,
  example,
  token: pos + 100,
});

const data = {
  title: "mlp8tc[89]",
  firingFrequency: 0.001137,
  maxActivation: 8.62,
  topExamples: [example(30, 20, 8.62, 5)],
  bands: [
    {
      low: 4.31,
      high: 8.62,
      fraction: 0.125,
      examples: [example(30, 20, 5.5, 7), example(30, 3, 4.4, 9)],
    },
    { low: 0, high: 4.31, fraction: 0.875, examples: [] },
  ],
};

Deno.test("showDashboard() shows frequency, collapsible bands and example headers", () => {
  const d = showDashboard(data);
  assert.ok(d.html.includes("Firing frequency: 0.1137%"));
  assert.equal((d.html.match(/<details/g) ?? []).length, 3);
  assert.equal((d.html.match(/<details open/g) ?? []).length, 1); // only the top examples
  assert.ok(d.html.includes("<summary") && d.html.includes("Between 4.31 and 8.62: 12.50%"));
  assert.ok(d.html.includes("Between 0.00 and 4.31: 87.50%") && d.html.includes("no examples"));
  assert.ok(
    d.html.includes("Example 7, token 120: 5.50") && d.html.includes("Example 9, token 103: 4.40"),
  );
  assert.ok(d.html.includes("&lt;A&gt;") && !d.html.includes("<A>"));
  assert.ok(selfContained(d.html));
  // window 5: 11 tokens around the activation (5 before, the token, 5 after), or fewer at an edge.
  const firstExample = d.html.slice(d.html.indexOf("Example 5"), d.html.indexOf("</details>"));
  assert.equal((firstExample.match(/<span title=/g) ?? []).length, 11);
  assert.ok(firstExample.includes('title="8.62" style="background-color:#ff8c00'));
  // One colour scale for the whole dashboard: 5.5 of 8.62 is not full orange.
  const c = interpolateColor(5.5, 0, 8.62);
  assert.equal(c, "#ffb55c");
  assert.ok(d.html.includes(`title="5.50" style="background-color:${c}`));
});

Deno.test("showDashboard() text lists the same numbers", () => {
  const d = showDashboard(data, { window: 1, frequencyLabel: "Sparsity" });
  assert.equal(
    d.text,
    [
      "mlp8tc[89]",
      "Sparsity: 0.1137%",
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
    (showDashboard(data, { openBands: true }).html.match(/<details open/g) ?? []).length,
    3,
  );
});

Deno.test("showFeatureCard() combines examples, logit effects, de-embeddings and OV norms", () => {
  const card = showFeatureCard({
    title: "mlp0tc[7829]",
    description: "rifles",
    logFrequency: -2.5,
    dashboard: data,
    logits: { top: [{ token: " guns", value: 1.25 }], bottom: [{ token: " the", value: -0.5 }] },
    logitValues: [-0.5, -0.2, 0.1, 0.3, 1.25],
    deembeddings: {
      top: [{ token: " rifles", value: 10.275 }],
      bottom: [{ token: "aters", value: -3.79 }],
    },
    ovNorms: [[1, 2], [3, 4]],
  });
  for (
    const s of [
      "mlp0tc[7829]",
      "rifles",
      "log10 frequency: -2.500 (0.3162%)",
      "Firing frequency: 0.1137%",
      "Top logit tokens",
      "+1.250",
      "Most-positive de-embedding tokens",
      "+10.275",
      "-3.790",
      "OV de-embedding norms",
      "largest: L1H1 4.00",
    ]
  ) {
    assert.ok(card.text.includes(s), s);
  }
  assert.equal(countInGroup(card.html, "rect", "rect"), 5); // logit histogram bars (5 values, 5 nonempty bins)
  assert.equal(countInGroup(card.html, "cell", "rect"), 4); // OV norm cells
  assert.ok(selfContained(card.html));
});

/** Token highlighting: escaping, colours, the current token, hover values, window cropping. */
import assert from "node:assert/strict";
import { interpolateColor } from "../../lib/display/format.ts";
import { tokensAnsi, tokensHtml, tokensText, windowRange } from "../../lib/display/tokens_html.ts";

const spans = (
  html: string,
) => [...html.matchAll(/<span title="([^"]*)" style="background-color:(#[0-9a-f]{6})/g)];

Deno.test("tokensHtml() escapes a <script> token and quotes", () => {
  const html = tokensHtml({ tokens: ["<script>alert('x')</script>", ' "&'], values: [1, 0] });
  assert.ok(!html.includes("<script>"));
  assert.ok(html.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  assert.ok(html.includes(" &quot;&amp;"));
});

Deno.test("tokensHtml() colours zero white, the max orange and interpolates linearly", () => {
  const s = spans(tokensHtml({ tokens: ["a", "b", "c"], values: [0, 5, 10] }));
  assert.deepEqual(s.map((m) => m[2]), ["#ffffff", "#ffc57f", "#ff8c00"]);
  // Channels truncate like the reference's int(): 0.25 -> (255, 255-0.25*115, 255-0.25*255).
  assert.equal(
    interpolateColor(2.5, 0, 10),
    "#" + [255, 226, 191].map((c) => c.toString(16)).join(""),
  );
});

Deno.test("tokensHtml() honours min/max overrides and clamps outside them", () => {
  const s = spans(tokensHtml({ tokens: ["a", "b", "c"], values: [1, 3, 9] }, { min: 1, max: 3 }));
  assert.deepEqual(s.map((m) => m[2]), ["#ffffff", "#ff8c00", "#ff8c00"]);
  const custom = spans(tokensHtml({ tokens: ["a"], values: [1] }, { max: 1, maxColor: "#0000ff" }));
  assert.equal(custom[0][2], "#0000ff");
  assert.throws(
    () => tokensHtml({ tokens: ["a"], values: [1] }, { maxColor: "orange" }),
    RangeError,
  );
});

Deno.test("tokensHtml() bolds the current token and shows 2-decimal values on hover", () => {
  const html = tokensHtml({
    tokens: ["He", " was", " caught"],
    values: [0, 0.8145, 19.974],
    current: 2,
  });
  const s = spans(html);
  assert.deepEqual(s.map((m) => m[1]), ["0.00", "0.81", "19.97"]);
  assert.equal((html.match(/<b>/g) ?? []).length, 1);
  assert.match(html, /<b> caught<\/b>/);
  // A negative index counts from the end, as the reference's -1.
  assert.match(tokensHtml({ tokens: ["x", "y"], values: [0, 1], current: -1 }), /<b>y<\/b>/);
});

Deno.test("tokensHtml() makes whitespace visible", () => {
  const html = tokensHtml({ tokens: ["a\nb", "\t", ""], values: [0, 0, 0] });
  assert.ok(html.includes("a↵b") && html.includes("⇥") && html.includes("∅"));
  assert.ok(html.includes("white-space:pre"));
});

Deno.test("window crops to ±window tokens around the current one, colours from the full sequence", () => {
  const tokens = Array.from({ length: 20 }, (_, i) => `t${i}`);
  const values = tokens.map((_, i) => (i === 18 ? 10 : i === 10 ? 5 : 0));
  const html = tokensHtml({ tokens, values, current: 10 }, { window: 3 });
  const s = spans(html);
  assert.equal(s.length, 7);
  assert.ok(
    html.includes(">t7<") && html.includes(">t13<") && !html.includes(">t6<") &&
      !html.includes(">t14<"),
  );
  assert.equal(s[3][2], "#ffc57f"); // 5 of max 10, the max being outside the window
  assert.deepEqual(windowRange(20, 1, 3), [0, 5]);
  assert.deepEqual(windowRange(20, 19, 3), [16, 20]);
  assert.equal(tokensText({ tokens, values, current: 10 }, { window: 1 }), "…t9[[t10]](5.00)t11…");
  assert.throws(
    () => tokensHtml({ tokens, values }, { window: 2 }),
    /window needs a current token/,
  );
});

Deno.test("tokensText() marks the current token and shows the nonzero values", () => {
  const seq = { tokens: ["Oh", ",", " 6", "M"], values: [0, 0, 0.12, 7.516], current: 3 };
  assert.equal(tokensText(seq), "Oh, 6(0.12)[[M]](7.52)");
  assert.equal(tokensText(seq, { textValues: "none" }), "Oh, 6[[M]]");
  assert.equal(
    tokensText(seq, { textValues: "all", current: 0 }),
    "[[Oh]](0.00),(0.00) 6(0.12)M(7.52)",
  );
  const ansi = tokensAnsi(seq);
  assert.ok(ansi.includes("\x1b[48;2;255;140;0m") && ansi.includes("\x1b[1mM"));
});

Deno.test("token views reject mismatched lengths and a bad current index", () => {
  assert.throws(() => tokensHtml({ tokens: ["a", "b"], values: [1] }), /2 tokens but 1 values/);
  assert.throws(
    () => tokensHtml({ tokens: ["a"], values: [1], current: 1 }),
    /current token 1 out of range for 1 tokens/,
  );
  assert.throws(() => windowRange(5, 2, -1), /window -1/);
});

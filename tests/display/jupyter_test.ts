/**
 * Displayables: the MIME bundle and text fallbacks, `show` and `print` outside the kernel. In the
 * real kernel: kernel_display_test.ts.
 */
import assert from "node:assert/strict";
import {
  displayable,
  inJupyter,
  JUPYTER_DISPLAY,
  print,
  row,
  show,
  stack,
} from "../../lib/display/jupyter.ts";

Deno.test("displayable() returns the { text/html, text/plain } bundle under Symbol.for('Jupyter.display')", () => {
  const d = displayable("<b>x</b>", "x");
  assert.equal(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
  const bundle = (d as unknown as Record<symbol, () => unknown>)[Symbol.for("Jupyter.display")]();
  assert.deepEqual(bundle, { "text/html": "<b>x</b>", "text/plain": "x" });
  assert.equal(String(d), "x");
  assert.equal(`${d}`, "x");
  assert.equal(Deno.inspect(d), "x"); // console.log prints the text
});

Deno.test("stack() and row() combine html and text", () => {
  const a = displayable("<i>a</i>", "a"), b = displayable("<i>b</i>", "b", "B!");
  const s = stack([a, b], { title: "T" });
  assert.equal(s.text, "T\n=\n\na\n\nb");
  assert.equal(s.ansi, "T\n=\n\na\n\nB!");
  assert.ok(s.html.includes("<h3") && s.html.indexOf("<i>a</i>") < s.html.indexOf("<i>b</i>"));
  assert.ok(row([a, b]).html.includes("display:flex"));
});

Deno.test("show() prints the text outside the kernel", async () => {
  assert.equal(inJupyter(), false);
  const out: string[] = [];
  const print = (t: string) => out.push(t);
  await show(displayable("<b>7.52</b>", "7.52"), { print });
  await show("plain", { print });
  await show({ [JUPYTER_DISPLAY]: () => ({ "text/plain": "custom" }) }, { print });
  await show({ a: 1 }, { print });
  assert.deepEqual(out, ["7.52", "plain", "custom", "{ a: 1 }"]);
});

Deno.test("print() is console.log outside the kernel (the kernel path: kernel_display_test.ts)", async () => {
  const logged: unknown[][] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => logged.push(args);
  try {
    await print("CE score", 0.968);
  } finally {
    console.log = log;
  }
  assert.deepEqual(logged, [["CE score 0.968"]]); // one line, as the kernel prints it
});

/** Displayables: the MIME bundle, text fallbacks, and `show` in a terminal and in a (fake) kernel. */
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

Deno.test("show() emits the raw MIME bundle through Deno.jupyter.display inside the kernel", async () => {
  const calls: [unknown, unknown][] = [];
  const d = Deno as unknown as { jupyter: unknown };
  d.jupyter = {
    display: (obj: unknown, opts: unknown) => (calls.push([obj, opts]), Promise.resolve()),
  };
  try {
    assert.equal(inJupyter(), true);
    await show(displayable("<b>x</b>", "x"));
    await show(42);
  } finally {
    d.jupyter = undefined; // Deno's setter: the getter throws again outside the kernel
  }
  assert.equal(inJupyter(), false);
  assert.deepEqual(calls, [[{ "text/html": "<b>x</b>", "text/plain": "x" }, { raw: true }], [
    42,
    undefined,
  ]]);
});

Deno.test("print() is console.log outside the kernel and a display message (text and <pre>) inside it", async () => {
  const logged: unknown[][] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => logged.push(args);
  try {
    await print("CE score", 0.968);
  } finally {
    console.log = log;
  }
  assert.deepEqual(logged, [["CE score", 0.968]]);

  const calls: [unknown, unknown][] = [];
  const d = Deno as unknown as { jupyter: unknown };
  d.jupyter = {
    display: (obj: unknown, opts: unknown) => (calls.push([obj, opts]), Promise.resolve()),
  };
  try {
    await print("a <b>", 1, { k: [2] });
  } finally {
    d.jupyter = undefined;
  }
  assert.deepEqual(calls, [[{
    "text/plain": "a <b> 1 { k: [ 2 ] }",
    "text/html": '<pre style="margin:0">a &lt;b&gt; 1 { k: [ 2 ] }</pre>',
  }, { raw: true }]]);
});

Deno.test("in the kernel, consecutive outputs are paced: the next waits for the previous one's size", async () => {
  const times: number[] = [];
  const d = Deno as unknown as { jupyter: unknown };
  d.jupyter = { display: () => (times.push(performance.now()), Promise.resolve()) };
  try {
    await show(displayable("x".repeat(100_000), "big")); // ~100 KB: 50 ms + 100 ms
    await print("next");
    await print("and next");
  } finally {
    d.jupyter = undefined;
  }
  assert.equal(times.length, 3);
  assert.ok(times[1] - times[0] >= 140, `waited ${times[1] - times[0]} ms after 100 KB`);
  assert.ok(times[2] - times[1] >= 45, `waited ${times[2] - times[1]} ms after a line`);
});

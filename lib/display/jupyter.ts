/**
 * Rich output in Deno's Jupyter kernel, readable text everywhere else.
 *
 * - A `Displayable` carries an HTML and a plain-text rendering (and optionally an ANSI-coloured
 *   one for terminals). The kernel renders any object with a `[Symbol.for("Jupyter.display")]()`
 *   method returning a MIME bundle, so a displayable left as a cell's value shows as HTML;
 *   `console.log(d)` and `String(d)` give the text.
 * - `show(x)` prints the text in a script or terminal and, inside the kernel (detected by the
 *   presence of `Deno.jupyter`), emits the MIME bundle with `Deno.jupyter.display(bundle, { raw: true })`.
 *
 * @module
 */

import { type KernelBroadcast, OutputFlusher } from "./_iopub_flush.ts";

/**
 * The symbol Deno's Jupyter kernel looks for (`Deno.jupyter.$display`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JUPYTER_DISPLAY } from "./jupyter.ts";
 * JUPYTER_DISPLAY === Symbol.for("Jupyter.display"); // true
 * // Any object with this method renders as rich output when it is a cell's value:
 * const bold = { [JUPYTER_DISPLAY]: () => ({ "text/plain": "x", "text/html": "<b>x</b>" }) };
 * assert.equal(bold[JUPYTER_DISPLAY]()["text/html"], "<b>x</b>");
 * ```
 */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display");

/** A Jupyter MIME bundle. */
export interface MimeBundle {
  /** Plain text (terminals, text-only front ends). */
  "text/plain": string;
  /** Self-contained HTML. */
  "text/html"?: string;
  /** Any other MIME type. */
  [mime: string]: string | object | undefined;
}

/** Anything the Deno kernel can render through the display symbol. */
export interface JupyterDisplayable {
  /** Returns the MIME bundle to render. */
  [JUPYTER_DISPLAY](): MimeBundle | Promise<MimeBundle>;
}

/**
 * A value with HTML and text renderings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Displayable, JUPYTER_DISPLAY } from "./jupyter.ts";
 * const d = new Displayable("<b>CE score</b> 0.968", "CE score 0.968");
 * String(d); // "CE score 0.968"
 * Deno.inspect(d); // "CE score 0.968" (what console.log prints)
 * assert.deepEqual(d[JUPYTER_DISPLAY](), {
 *   "text/html": "<b>CE score</b> 0.968",
 *   "text/plain": "CE score 0.968",
 * });
 * ```
 */
export class Displayable implements JupyterDisplayable {
  /**
   * A value with renderings.
   *
   * @param html self-contained HTML (no external scripts, styles or URLs)
   * @param text plain text for terminals and the `text/plain` MIME type
   * @param ansi optional ANSI-coloured text, used by `show` on a colour terminal
   */
  constructor(readonly html: string, readonly text: string, readonly ansi?: string) {}

  /** The MIME bundle: `{ "text/html", "text/plain" }`. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return { "text/html": this.html, "text/plain": this.text };
  }

  /** The plain text. */
  toString(): string {
    return this.text;
  }

  /** `console.log(d)` in Deno prints the text, not the object. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.text;
  }

  /** Node's `util.inspect` equivalent of the above. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.text;
  }
}

/**
 * Makes a displayable from an HTML and a text rendering.
 *
 * @example
 * ```ts
 * import { displayable, JUPYTER_DISPLAY } from "./jupyter.ts";
 * const d = displayable("<b>7.52</b>", "7.52");
 * d[JUPYTER_DISPLAY](); // { "text/html": "<b>7.52</b>", "text/plain": "7.52" }
 * String(d); // "7.52"
 * ```
 */
export function displayable(html: string, text: string, ansi?: string): Displayable {
  return new Displayable(html, text, ansi);
}

/**
 * Stacks displayables vertically (HTML blocks one after another, texts separated by a blank line).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { displayable, stack } from "./jupyter.ts";
 * const s = stack([displayable("<i>a</i>", "a"), displayable("<i>b</i>", "b")], { title: "Layer 8" });
 * s.text; // "Layer 8\n=======\n\na\n\nb"
 * assert.equal(s.text, "Layer 8\n=======\n\na\n\nb");
 * assert.ok(s.html.startsWith(`<div><h3 style="margin:6px 0">Layer 8</h3>`));
 * ```
 */
export function stack(
  parts: readonly Displayable[],
  { title }: { title?: string } = {},
): Displayable {
  const head = title === undefined ? "" : `<h3 style="margin:6px 0">${escapeText(title)}</h3>`;
  const html = `<div>${head}${
    parts.map((p) => `<div style="margin:6px 0">${p.html}</div>`).join("")
  }</div>`;
  const pre = title === undefined ? [] : [`${title}\n${"=".repeat(title.length)}`];
  const texts = [...pre, ...parts.map((p) => p.text)];
  const ansis = [...pre, ...parts.map((p) => p.ansi ?? p.text)];
  return new Displayable(html, texts.join("\n\n"), ansis.join("\n\n"));
}

/**
 * Lays displayables out side by side in HTML (text stacks them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { displayable, row } from "./jupyter.ts";
 * const r = row([displayable("<i>table</i>", "table"), displayable("<svg></svg>", "chart")]);
 * r.text; // "table\n\nchart"
 * assert.ok(r.html.includes("display:flex") && r.html.includes("<div><svg></svg></div>"));
 * ```
 */
export function row(parts: readonly Displayable[]): Displayable {
  const html = `<div style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start">${
    parts.map((p) => `<div>${p.html}</div>`).join("")
  }</div>`;
  return new Displayable(
    html,
    parts.map((p) => p.text).join("\n\n"),
    parts.map((p) => p.ansi ?? p.text).join("\n\n"),
  );
}

function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The part of `Deno.jupyter` used here (present only inside the kernel). */
export interface DenoJupyter extends KernelBroadcast {
  /** Emits a display message; `raw: true` sends a MIME bundle as given. */
  display(obj: unknown, options?: { raw?: boolean }): Promise<void>;
}

/**
 * `Deno.jupyter` when running inside Deno's Jupyter kernel, else undefined. (Outside the kernel
 * `"jupyter" in Deno` is true but reading it throws, so presence is tested by reading it.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jupyterKernel } from "./jupyter.ts";
 * const kernel = jupyterKernel(); // undefined here: this example runs outside the kernel
 * await kernel?.display({ "text/plain": "hi" }, { raw: true }); // a no-op outside the kernel
 * assert.equal(kernel, undefined);
 * ```
 */
export function jupyterKernel(): DenoJupyter | undefined {
  let j: Partial<DenoJupyter> | undefined;
  try {
    j = (globalThis as { Deno?: { jupyter?: Partial<DenoJupyter> } }).Deno?.jupyter;
  } catch {
    return undefined;
  }
  return j && typeof j.display === "function" && typeof j.broadcast === "function"
    ? j as DenoJupyter
    : undefined;
}

/**
 * Whether code runs inside Deno's Jupyter kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inJupyter } from "./jupyter.ts";
 * inJupyter(); // false (a script or test); true in a notebook cell
 * assert.equal(inJupyter(), false);
 * ```
 */
export function inJupyter(): boolean {
  return jupyterKernel() !== undefined;
}

/**
 * True when the object has a `[Symbol.for("Jupyter.display")]` method.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { displayable, isJupyterDisplayable } from "./jupyter.ts";
 * const custom = { [Symbol.for("Jupyter.display")]: () => ({ "text/plain": "x" }) };
 * [isJupyterDisplayable(displayable("<b>x</b>", "x")), isJupyterDisplayable(custom)]; // [true, true]
 * assert.deepEqual([isJupyterDisplayable("x"), isJupyterDisplayable(null)], [false, false]);
 * ```
 */
export function isJupyterDisplayable(x: unknown): x is JupyterDisplayable {
  return x !== null && (typeof x === "object" || typeof x === "function") &&
    typeof (x as Record<symbol, unknown>)[JUPYTER_DISPLAY] === "function";
}

function useAnsi(): boolean {
  try {
    return !Deno.noColor && Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/** Options of `show`. */
export interface ShowOptions {
  /** Where text goes outside the kernel (default `console.log`). */
  print?: (text: string) => void;
  /** Force plain text even on a colour terminal. */
  plain?: boolean;
}

/**
 * Shows a value: in the Jupyter kernel as rich output (its MIME bundle), elsewhere as text
 * (ANSI-coloured on a colour terminal when the displayable has such a rendering). Values
 * without a display method are printed with `console.log` (or `print`).
 *
 * In the kernel it resolves once the output has been written to the notebook's client (see
 * `flushOutputs`): await it in a cell, so that headless runners (nbconvert) keep every output.
 *
 * @example
 * ```ts
 * import { displayable, show } from "./jupyter.ts";
 * const lines: string[] = [];
 * await show(displayable("<i>hi</i>", "hi"), { print: (t) => lines.push(t) });
 * lines; // ["hi"]
 * ```
 */
export async function show(x: unknown, { print, plain = false }: ShowOptions = {}): Promise<void> {
  const kernel = jupyterKernel();
  if (kernel) {
    const bundle = isJupyterDisplayable(x) ? await x[JUPYTER_DISPLAY]() : undefined;
    await kernel.display(bundle ?? x, { raw: bundle !== undefined });
    await flushKernel(kernel, bundle === undefined ? 256 : JSON.stringify(bundle).length);
    return;
  }
  const out = print ?? ((t: string) => console.log(t));
  if (x instanceof Displayable) {
    out(!plain && print === undefined && useAnsi() && x.ansi ? x.ansi : x.text);
  } else if (isJupyterDisplayable(x)) {
    const b = await x[JUPYTER_DISPLAY]();
    out(typeof b["text/plain"] === "string" ? b["text/plain"] : String(x));
  } else if (typeof x === "string") out(x);
  else if (print) out(Deno.inspect(x));
  else console.log(x);
}

/**
 * Prints a line of text with `console.log`; inside the Jupyter kernel it resolves once the line
 * has been written to the notebook's client (`flushOutputs`), so that a headless runner keeps it.
 * Arguments are joined with spaces; non-strings are formatted with `Deno.inspect`.
 *
 * @example
 * ```ts
 * import { print } from "./jupyter.ts";
 * await print("CE score", 0.968); // prints "CE score 0.968"
 * ```
 */
export async function print(...parts: unknown[]): Promise<void> {
  const text = parts.map((p) => (typeof p === "string" ? p : Deno.inspect(p))).join(" ");
  console.log(text);
  const kernel = jupyterKernel();
  if (kernel) await flushKernel(kernel, text.length);
}

let flusher: OutputFlusher | undefined;

/**
 * Waits until the kernel has written everything the cell emitted so far (displays and printed
 * lines) to its clients. Deno's kernel (2.9.6) publishes a cell's outputs from a queue that it
 * drains concurrently with the cell's end, so without this the last outputs of a cell can
 * arrive after the cell is reported idle, and headless runners (nbconvert) drop them: see
 * docs/notebooks.md. It watches the kernel's IOPub socket for a marker sent after the outputs;
 * where that is impossible it waits a moment instead. `show` and `print` call it; call it at the
 * end of a cell that printed with `console.log`. Resolves true when the watcher saw the outputs
 * written, false after a timed wait, and false at once outside the kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flushOutputs } from "./jupyter.ts";
 * console.log("a line");
 * assert.equal(await flushOutputs(), false); // outside the kernel there is nothing to wait for
 * ```
 */
export function flushOutputs(): Promise<boolean> {
  const kernel = jupyterKernel();
  return kernel ? flushKernel(kernel, 0) : Promise.resolve(false);
}

/** `flushOutputs` after an output of about `bytes` (the fallback waits longer for large ones). */
async function flushKernel(kernel: DenoJupyter, bytes: number): Promise<boolean> {
  flusher ??= new OutputFlusher(kernel);
  if (await flusher.flush()) return true;
  await new Promise((r) => setTimeout(r, FALLBACK_MS + bytes / FALLBACK_BYTES_PER_MS));
  return false;
}

/** The timed wait where the IOPub watcher cannot be used. */
const FALLBACK_MS = 100, FALLBACK_BYTES_PER_MS = 500;

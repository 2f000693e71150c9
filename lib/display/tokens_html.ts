/**
 * Token highlighting: the reference's `make_sequence_html`.
 *
 * 1. Colours: each token's score is mapped linearly from `min` (white, `#ffffff`) to `max`
 *    (orange, `#ff8c00`), channels truncated to integers; `min` defaults to `min(0, scores)` so
 *    that a zero score is white, `max` to the largest score. Colours are computed over the whole
 *    sequence, before any cropping, as in the reference.
 * 2. The current token is bold; hovering a token shows its score with two decimals (`title`).
 * 3. `window` crops to the tokens within `±window` of the current one (`…` marks a cut).
 * 4. Tokens are HTML-escaped and whitespace is made visible: spaces are kept (`white-space:pre`),
 *    `\n` shows as `↵`, `\t` as `⇥`, `\r` as `␍`, an empty token as `∅`.
 *
 * The text rendering joins the tokens, marks the current one as `[[tok]]` and appends each
 * nonzero score as `(7.52)`. A NaN score means "unknown": white, no hover value, not printed.
 *
 * @module
 */
import {
  escapeHtml,
  formatFixed,
  interpolateColor,
  parseHexColor,
  visibleWhitespace,
} from "./format.ts";

/** A token sequence with one score per token (e.g. a feature's activations). */
export interface TokenSequence {
  /** Token strings. */
  tokens: readonly string[];
  /** One score per token. */
  values: ArrayLike<number>;
  /** The position of interest (bold; the centre of `window`); negative counts from the end. */
  current?: number;
}

/** Options of `tokensHtml`, `tokensText` and `tokensAnsi`. */
export interface TokensOptions {
  /** Score mapped to `zeroColor` (default `min(0, ...values)`). */
  min?: number;
  /** Score mapped to `maxColor` (default the largest value). */
  max?: number;
  /** Default `#ff8c00`. */
  maxColor?: string;
  /** Default `#ffffff`. */
  zeroColor?: string;
  /** Overrides the sequence's `current`. */
  current?: number;
  /** Keep only tokens within `±window` of the current token. */
  window?: number;
  /** Which scores the text rendering prints: nonzero ones (default), all or none. */
  textValues?: "nonzero" | "all" | "none";
}

/** A resolved view of a sequence: validated, coloured and cropped. */
interface TokenView {
  start: number;
  end: number;
  current: number | undefined;
  colors: string[];
  tokens: readonly string[];
  values: ArrayLike<number>;
}

/**
 * The `[start, end)` token range kept by `window` around `current` in a sequence of `n` tokens.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { windowRange } from "./tokens_html.ts";
 * windowRange(10, 5, 2); // [3, 8]
 * assert.deepEqual(windowRange(10, 8, 2), [6, 10]); // clipped at the end
 * assert.throws(() => windowRange(10, 5, -1), RangeError);
 * ```
 */
export function windowRange(n: number, current: number, window: number): [number, number] {
  if (!Number.isInteger(window) || window < 0) {
    throw new RangeError(`window ${window} must be a nonnegative integer`);
  }
  return [Math.max(0, current - window), Math.min(n, current + window + 1)];
}

/**
 * The default colour range of scores: `[min(0, ...values), max(...values)]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scoreRange } from "./tokens_html.ts";
 * scoreRange([0.5, 7.52, 2]); // [0, 7.52] (0 stays white)
 * assert.deepEqual(scoreRange([0.5, -1, NaN, 3]), [-1, 3]); // NaN (unknown) is skipped
 * assert.deepEqual(scoreRange([]), [0, 0]);
 * ```
 */
export function scoreRange(values: ArrayLike<number>): [number, number] {
  let lo = 0, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi === -Infinity ? 0 : hi];
}

function view(seq: TokenSequence, opts: TokensOptions): TokenView {
  const { tokens, values } = seq;
  if (tokens.length !== values.length) {
    throw new RangeError(
      `${tokens.length} tokens but ${values.length} values; expected one value per token`,
    );
  }
  const n = tokens.length;
  let current = opts.current ?? seq.current;
  if (current !== undefined) {
    if (!Number.isInteger(current) || current < -n || current >= n) {
      throw new RangeError(`current token ${current} out of range for ${n} tokens`);
    }
    if (current < 0) current += n;
  }
  const [dMin, dMax] = scoreRange(values);
  const min = opts.min ?? dMin, max = opts.max ?? dMax;
  const maxColor = opts.maxColor ?? "#ff8c00", zeroColor = opts.zeroColor ?? "#ffffff";
  parseHexColor(maxColor), parseHexColor(zeroColor); // validate once, up front
  const colors = Array.from(
    { length: n },
    (_, i) => interpolateColor(values[i], min, max, maxColor, zeroColor),
  );
  let start = 0, end = n;
  if (opts.window !== undefined) {
    if (current === undefined) throw new RangeError("window needs a current token to centre on");
    [start, end] = windowRange(n, current, opts.window);
  }
  return { start, end, current, colors, tokens, values };
}

function shownToken(t: string): string {
  return t === "" ? "∅" : visibleWhitespace(t);
}

/**
 * HTML of a highlighted token sequence (inline styles only).
 *
 * @example
 * ```ts
 * import { tokensHtml } from "./tokens_html.ts";
 * const html = tokensHtml({ tokens: ["a", " <b>"], values: [0, 2], current: 1 });
 * html.includes("&lt;b&gt;") && html.includes('title="2.00"') && html.includes("#ff8c00"); // true
 * ```
 */
export function tokensHtml(seq: TokenSequence, opts: TokensOptions = {}): string {
  const v = view(seq, opts);
  const parts: string[] = [];
  const gap = `<span style="color:#999">…</span>`;
  if (v.start > 0) parts.push(gap);
  for (let i = v.start; i < v.end; i++) {
    const body = escapeHtml(shownToken(v.tokens[i]));
    const isCur = i === v.current;
    const style = `background-color:${v.colors[i]};color:#000;white-space:pre;` +
      `border-radius:2px;padding:1px 0;margin:0;${isCur ? "outline:1px solid #555;" : ""}`;
    // NaN marks an unknown score (e.g. context tokens of a stored example): no hover value.
    const x = v.values[i];
    const title = Number.isNaN(x) ? "" : ` title="${formatFixed(x, 2)}"`;
    parts.push(`<span${title} style="${style}">${isCur ? `<b>${body}</b>` : body}</span>`);
  }
  if (v.end < v.tokens.length) parts.push(gap);
  return `<div style="font-family:monospace;font-size:13px;line-height:1.7;white-space:pre-wrap;word-break:break-all">${
    parts.join("")
  }</div>`;
}

/**
 * Plain text of a token sequence: tokens joined, the current one as `[[tok]]`, scores after
 * their tokens as `(7.52)`.
 *
 * @example
 * ```ts
 * import { tokensText } from "./tokens_html.ts";
 * tokensText({ tokens: ["Oh", ",", " 6", "M"], values: [0, 0, 0.12, 7.516], current: 3 });
 * // "Oh, 6(0.12)[[M]](7.52)"
 * ```
 */
export function tokensText(seq: TokenSequence, opts: TokensOptions = {}): string {
  return render(view(seq, opts), opts.textValues ?? "nonzero", (t) => t, (t) => t);
}

/**
 * Like `tokensText`, with ANSI 24-bit background colours for terminals (scores not printed
 * unless `textValues` asks for them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokensAnsi } from "./tokens_html.ts";
 * const s = tokensAnsi({ tokens: ["a", " cat"], values: [0, 2], current: 1 });
 * s.includes("\x1b[48;2;255;140;0m"); // true: the top score gets the orange background
 * assert.equal(s.replace(/\x1b\[[\d;]*m/g, ""), "a[[ cat]]"); // without the colour codes
 * ```
 */
export function tokensAnsi(seq: TokenSequence, opts: TokensOptions = {}): string {
  const v = view(seq, opts);
  return render(v, opts.textValues ?? "none", (t, i) => {
    const [r, g, b] = parseHexColor(v.colors[i]);
    return `\x1b[48;2;${r};${g};${b}m\x1b[38;2;0;0;0m${t}\x1b[0m`;
  }, (t) => `\x1b[1m${t}\x1b[22m`);
}

function render(
  v: TokenView,
  which: "nonzero" | "all" | "none",
  paint: (t: string, i: number) => string,
  bold: (t: string) => string,
): string {
  let s = v.start > 0 ? "…" : "";
  for (let i = v.start; i < v.end; i++) {
    const t = shownToken(v.tokens[i]);
    const x = v.values[i];
    const val = which === "all" || (which === "nonzero" && x !== 0 && !Number.isNaN(x))
      ? `(${formatFixed(x, 2)})`
      : "";
    s += i === v.current ? `[[${paint(bold(t), i)}]]${val}` : paint(t, i) + val;
  }
  return s + (v.end < v.tokens.length ? "…" : "");
}

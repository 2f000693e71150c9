/**
 * Small formatting helpers shared by the display modules: HTML escaping, colour interpolation
 * (the reference's `batch_color_interpolate`), number formats and plain-text tables.
 *
 * @module
 */

const HTML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./format.ts";
 * escapeHtml(`<script>"x" & 'y'</script>`); // "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

/**
 * Parses `#rrggbb` into `[r, g, b]` (0..255).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHexColor } from "./format.ts";
 * parseHexColor("#FF8c00"); // [255, 140, 0]
 * assert.deepEqual(parseHexColor("#1f77b4"), [31, 119, 180]);
 * assert.throws(() => parseHexColor("orange"), RangeError); // only #rrggbb
 * ```
 */
export function parseHexColor(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new RangeError(`colour ${JSON.stringify(hex)} is not of the form #rrggbb`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/**
 * The colour of a score by linear interpolation from `zeroColor` (at `min`) to `maxColor` (at
 * `max`), channels truncated to integers as the reference's `int(x)` does; scores outside
 * `[min, max]` are clamped (the reference would produce out-of-range channels). When
 * `max <= min` a score above `min` gets `maxColor` and any other `zeroColor`.
 *
 * @example
 * ```ts
 * import { interpolateColor } from "./format.ts";
 * [interpolateColor(0, 0, 10), interpolateColor(10, 0, 10), interpolateColor(5, 0, 10)];
 * // ["#ffffff", "#ff8c00", "#ffc57f"]
 * ```
 */
export function interpolateColor(
  score: number,
  min: number,
  max: number,
  maxColor = "#ff8c00",
  zeroColor = "#ffffff",
): string {
  let t: number;
  if (!(max > min)) t = score > min ? 1 : 0;
  else t = Math.min(1, Math.max(0, (score - min) / (max - min)));
  if (Number.isNaN(t)) t = 0;
  const a = parseHexColor(maxColor), z = parseHexColor(zeroColor);
  return "#" + a.map((c, i) => Math.trunc(t * c + (1 - t) * z[i]).toString(16).padStart(2, "0"))
    .join("");
}

/**
 * `x` with a fixed number of decimals and an explicit sign (`+0.240`, `-3.790`), as Python's
 * `:+.3f`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSigned } from "./format.ts";
 * [formatSigned(0.24), formatSigned(-3.79), formatSigned(9.3712, 2)]; // ["+0.240", "-3.790", "+9.37"]
 * assert.deepEqual([formatSigned(0), formatSigned(-Infinity), formatSigned(NaN)], ["+0.000", "-inf", "nan"]);
 * ```
 */
export function formatSigned(x: number, decimals = 3): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "+inf" : "-inf";
  const s = x.toFixed(decimals);
  return s.startsWith("-") ? s : `+${s}`;
}

/**
 * `x` with a fixed number of decimals (`nan`/`inf` spelled out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFixed } from "./format.ts";
 * [formatFixed(3.14159), formatFixed(7.5163, 1), formatFixed(Infinity)]; // ["3.14", "7.5", "inf"]
 * assert.equal(formatFixed(-0.001), "0.00"); // no "-0.00"
 * ```
 */
export function formatFixed(x: number, decimals = 2): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const s = x.toFixed(decimals);
  return s === `-${(0).toFixed(decimals)}` ? s.slice(1) : s;
}

/**
 * A fraction `0..1` as a percentage with `decimals` decimals: `0.000184` -> `"0.0184%"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPercent } from "./format.ts";
 * formatPercent(0.000184); // "0.0184%"
 * assert.equal(formatPercent(0.25, 1), "25.0%");
 * ```
 */
export function formatPercent(fraction: number, decimals = 4): string {
  return `${formatFixed(fraction * 100, decimals)}%`;
}

/** Column alignment of `textTable`. */
export type Align = "left" | "right";

/**
 * A plain-text table with a header row and a rule, columns padded to their widest cell.
 *
 * @example
 * ```ts
 * import { textTable } from "./format.ts";
 * textTable(["token", "value"], [["a", "+1.000"], ["bb", "-0.500"]], ["left", "right"]);
 * // "token   value\n-----  ------\na      +1.000\nbb     -0.500"
 * ```
 */
export function textTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const n = Math.max(headers.length, ...rows.map((r) => r.length));
  const width = Array.from(
    { length: n },
    (_, j) => Math.max(headers[j]?.length ?? 0, ...rows.map((r) => (r[j] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    width.map((w, j) => {
      const c = cells[j] ?? "";
      return (align[j] ?? "left") === "right" ? c.padStart(w) : c.padEnd(w);
    }).join("  ").trimEnd();
  return [line(headers), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * An HTML table (escaped cells; `htmlColumns` columns are inserted as given). Inline styles only,
 * so that it renders the same in any notebook front end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { htmlTable } from "./format.ts";
 * const html = htmlTable(["token", "value"], [["<code>a</code>", "+1.000"], ["<code>b</code>", "<0"]], {
 *   align: ["left", "right"],
 *   htmlColumns: [0], // column 0 holds HTML, inserted as given
 *   caption: "Top & bottom",
 * });
 * html.startsWith("<table"); // true
 * assert.ok(html.includes(">Top &amp; bottom</caption>")); // text is escaped
 * assert.ok(html.includes("><code>a</code></td>") && html.includes(">&lt;0</td>"));
 * ```
 */
export function htmlTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  { align = [], htmlColumns = [], caption }: {
    align?: readonly Align[];
    /** Indices of columns whose cells are already HTML. */
    htmlColumns?: readonly number[];
    caption?: string;
  } = {},
): string {
  const cell = (tag: "td" | "th", c: string, j: number) => {
    const a = (align[j] ?? "left") === "right" ? "right" : "left";
    const body = htmlColumns.includes(j) && tag === "td" ? c : escapeHtml(c);
    return `<${tag} style="text-align:${a};padding:2px 8px;border-bottom:1px solid #ddd">${body}</${tag}>`;
  };
  const cap = caption === undefined
    ? ""
    : `<caption style="caption-side:top;text-align:left;font-weight:bold;padding:2px 0">${
      escapeHtml(caption)
    }</caption>`;
  return `<table style="border-collapse:collapse;font-size:13px;margin:4px 12px 4px 0">${cap}` +
    `<thead><tr>${headers.map((h, j) => cell("th", h, j)).join("")}</tr></thead>` +
    `<tbody>${
      rows.map((r) => `<tr>${r.map((c, j) => cell("td", c, j)).join("")}</tr>`).join("")
    }</tbody></table>`;
}

/**
 * Makes whitespace in a token visible on one line: `\n` -> `↵`, `\t` -> `⇥`, `\r` -> `␍`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { visibleWhitespace } from "./format.ts";
 * visibleWhitespace(" a\r\n\tb"); // " a␍↵⇥b" (spaces are kept)
 * assert.equal(visibleWhitespace("\n\n"), "↵↵");
 * ```
 */
export function visibleWhitespace(token: string): string {
  return token.replace(/\r/g, "␍").replace(/\n/g, "↵").replace(/\t/g, "⇥");
}

/**
 * Tables of results, each as a `Displayable` (HTML table + aligned plain text):
 *
 * - top/bottom tokens: direct logit effects (`W_dec[i] @ W_U`) and de-embeddings (`W_E @ v`),
 *   as the reference's `display_logits_for_feature` and `display_deembeddings_*` show them
 *   ("Most-negative/positive de-embedding tokens", values as `+9.371`);
 * - top/bottom transcoder features: pullbacks ("Most-negative/positive transcoder features");
 * - transcoder evaluations (`LayerEval[]`, `AllLayersEval`);
 * - circuit paths (`FeatureVector[][]`, or greedy search's per-iteration lists), printed with
 *   `pathString` as the reference's `print_all_paths` does: `Path [i][j]: a <- b <- c`.
 *
 * Inputs are plain data; `topBottomTokens` / `topBottomFeatures` build them from a full vector.
 *
 * @module
 */
import {
  type FeatureVector,
  featureVectorString,
  formatContrib,
  type PathCollection,
  pathString,
} from "../circuits/feature_vector.ts";
import type { AllLayersEval, LayerEval } from "../transcoder/evals.ts";
import {
  escapeHtml,
  formatFixed,
  formatSigned,
  htmlTable,
  textTable,
  visibleWhitespace,
} from "./format.ts";
import { Displayable } from "./jupyter.ts";

/**
 * A token with a value (a logit effect, a de-embedding score). `token` is the token's text, or
 * its id with the text in `str` (the shape `lib/dashboards`' `rankTokens` returns).
 */
export interface RankedToken {
  /** The token's text, or its id (then `str` holds the text). */
  token: string | number;
  /** Its value. */
  value: number;
  /** The token's text when `token` is an id. */
  str?: string;
  /** The token id, when known and `token` is the text. */
  id?: number;
}

/**
 * The text of a ranked token: `token` when it is a string, else `str` (or `#id`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankedTokenText } from "./tables.ts";
 * rankedTokenText({ token: " cat", value: 2.5 }); // " cat"
 * rankedTokenText({ token: 3797, str: " cat", value: 2.5 }); // " cat" (rankTokens' shape)
 * assert.equal(rankedTokenText({ token: 3797, value: 2.5 }), "#3797"); // no text known
 * ```
 */
export function rankedTokenText(t: RankedToken): string {
  return typeof t.token === "string" ? t.token : t.str ?? `#${t.token}`;
}

/** A transcoder (or other dictionary) feature with a value (a pullback, an IxG). */
export interface RankedFeature {
  /** The feature index. */
  feature: number;
  /** Its value. */
  value: number;
  /** Overrides the printed name (default `mlp{layer}tc[{feature}]`, or the index alone). */
  label?: string;
}

/** The k largest (`top`, descending) and k smallest (`bottom`, ascending) entries. */
export interface TopBottom<T> {
  /** Largest first. */
  top: T[];
  /** Smallest first. */
  bottom: T[];
}

/**
 * Indices of the k largest and k smallest values (ties broken by lower index; NaN ignored).
 *
 * @example
 * ```ts
 * import { topBottomIndices } from "./tables.ts";
 * topBottomIndices([0.5, -2, 3, 1], 2);
 * // { top: [{ index: 2, value: 3 }, { index: 3, value: 1 }], bottom: [{ index: 1, value: -2 }, { index: 0, value: 0.5 }] }
 * ```
 */
export function topBottomIndices(
  values: ArrayLike<number>,
  k: number,
): TopBottom<{ index: number; value: number }> {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k ${k} must be a nonnegative integer`);
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) idx.push(i);
  const asc = idx.sort((a, b) => values[a] - values[b] || a - b);
  const pick = (i: number) => ({ index: i, value: values[i] });
  const desc = [...asc].sort((a, b) => values[b] - values[a] || a - b);
  return { top: desc.slice(0, k).map(pick), bottom: asc.slice(0, k).map(pick) };
}

/**
 * Top/bottom k tokens of a vocabulary-sized vector, decoded with `decode(id)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTokens, GPT2_VOCAB_SIZE, singleToken } from "../tokenizer/gpt2_tokenizer.ts";
 * import { topBottomTokens } from "./tables.ts";
 * const effects = new Float32Array(GPT2_VOCAB_SIZE); // e.g. a feature's logit effects W_dec[i] @ W_U
 * effects[singleToken(" rifle")] = 2.5;
 * effects[singleToken(" gun")] = 1.25;
 * effects[singleToken(" flower")] = -0.75;
 * const { top, bottom } = topBottomTokens(effects, (id) => decodeTokens([id]), 2);
 * top.map((t) => t.token); // [" rifle", " gun"]
 * assert.deepEqual(bottom[0], { token: " flower", value: -0.75, id: singleToken(" flower") });
 * ```
 */
export function topBottomTokens(
  values: ArrayLike<number>,
  decode: (id: number) => string,
  k = 7,
): TopBottom<RankedToken> {
  const { top, bottom } = topBottomIndices(values, k);
  const tv = ({ index, value }: { index: number; value: number }) => ({
    token: decode(index),
    value,
    id: index,
  });
  return { top: top.map(tv), bottom: bottom.map(tv) };
}

/**
 * Top/bottom k features of a `[d_sae]` vector (e.g. a pullback `W_dec @ v`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topBottomFeatures } from "./tables.ts";
 * const tb = topBottomFeatures([0.5, -2, 3, 1], 1);
 * tb; // { top: [{ feature: 2, value: 3 }], bottom: [{ feature: 1, value: -2 }] }
 * assert.deepEqual(tb, { top: [{ feature: 2, value: 3 }], bottom: [{ feature: 1, value: -2 }] });
 * ```
 */
export function topBottomFeatures(values: ArrayLike<number>, k = 7): TopBottom<RankedFeature> {
  const { top, bottom } = topBottomIndices(values, k);
  const fv = ({ index, value }: { index: number; value: number }) => ({ feature: index, value });
  return { top: top.map(fv), bottom: bottom.map(fv) };
}

/** Labels of a top/bottom table. */
export interface TopBottomLabels {
  /** Header of the negative side (default per `kind`). */
  negative?: string;
  /** Header of the positive side. */
  positive?: string;
  /** Caption above the table. */
  title?: string;
  /** Decimals of the values (default 3, printed with a sign: `+9.371`). */
  decimals?: number;
}

/** Which kind of token table: the headers the reference uses for each. */
export type TokenTableKind = "logits" | "deembeddings";

const TOKEN_HEADERS: Record<TokenTableKind, [string, string]> = {
  logits: ["Bottom logit tokens", "Top logit tokens"],
  deembeddings: ["Most-negative de-embedding tokens", "Most-positive de-embedding tokens"],
};

function tokenCellHtml(t: string): string {
  return `<code style="white-space:pre;background:#f2f2f2;color:#000;padding:0 2px">${
    escapeHtml(visibleWhitespace(t === "" ? "∅" : t))
  }</code>`;
}

/**
 * A token as the text tables print it: JSON-quoted, so spaces and newlines show.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenLiteral } from "./tables.ts";
 * tokenLiteral(" caught"); // '" caught"'
 * assert.equal(tokenLiteral(".\n"), '".\\n"'); // the newline prints as \n
 * ```
 */
export function tokenLiteral(t: string): string {
  return JSON.stringify(t);
}

function sideBySide<T>(
  data: TopBottom<T>,
  headers: [string, string],
  name: (x: T) => [html: string, text: string],
  value: (x: T) => number,
  decimals: number,
  title: string | undefined,
): Displayable {
  const n = Math.max(data.top.length, data.bottom.length);
  const cols = [headers[0], "Value", headers[1], "Value"];
  const align = ["left", "right", "left", "right"] as const;
  const htmlRows: string[][] = [], textRows: string[][] = [];
  for (let i = 0; i < n; i++) {
    const b = data.bottom[i], t = data.top[i];
    const bn = b === undefined ? ["", ""] : name(b), tn = t === undefined ? ["", ""] : name(t);
    const bv = b === undefined ? "" : formatSigned(value(b), decimals);
    const tv = t === undefined ? "" : formatSigned(value(t), decimals);
    htmlRows.push([bn[0], bv, tn[0], tv]);
    textRows.push([bn[1], bv, tn[1], tv]);
  }
  const html = htmlTable(cols, htmlRows, { align, htmlColumns: [0, 2], caption: title });
  const text = (title === undefined ? "" : `${title}\n`) + textTable(cols, textRows, align);
  return new Displayable(html, text);
}

/**
 * A table of the bottom and top tokens side by side (logit effects or de-embeddings).
 *
 * @example
 * ```ts
 * import { tokensTable } from "./tables.ts";
 * const t = tokensTable({ top: [{ token: " caught", value: 9.371 }], bottom: [{ token: "aters", value: -3.79 }] }, "deembeddings");
 * t.text.includes('" caught"') && t.text.includes("+9.371") && t.text.includes("-3.790"); // true
 * ```
 */
export function tokensTable(
  data: TopBottom<RankedToken>,
  kind: TokenTableKind = "logits",
  { negative, positive, title, decimals = 3 }: TopBottomLabels = {},
): Displayable {
  const [n, p] = TOKEN_HEADERS[kind];
  return sideBySide(
    data,
    [negative ?? n, positive ?? p],
    (x) => [tokenCellHtml(rankedTokenText(x)), tokenLiteral(rankedTokenText(x))],
    (x) => x.value,
    decimals,
    title,
  );
}

/**
 * A feature's printed name: its label, `mlp{layer}tc[{i}]` when a layer is given, or the index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { featureName } from "./tables.ts";
 * featureName({ feature: 89, value: 1.2 }, 8); // "mlp8tc[89]"
 * assert.equal(featureName({ feature: 89, value: 1.2 }), "89");
 * assert.equal(featureName({ feature: 89, value: 1.2, label: "digits" }, 8), "digits");
 * ```
 */
export function featureName(f: RankedFeature, layer?: number): string {
  return f.label ?? (layer === undefined ? String(f.feature) : `mlp${layer}tc[${f.feature}]`);
}

/**
 * A table of the most negative and most positive features (pullbacks, IxG connections).
 *
 * @example
 * ```ts
 * import { featuresTable } from "./tables.ts";
 * const t = featuresTable({ top: [{ feature: 7620, value: 0.085 }], bottom: [] }, { layer: 2 });
 * t.text.includes("mlp2tc[7620]") && t.text.includes("+0.085"); // true
 * ```
 */
export function featuresTable(
  data: TopBottom<RankedFeature>,
  { layer, negative, positive, title, decimals = 3 }: TopBottomLabels & { layer?: number } = {},
): Displayable {
  return sideBySide(
    data,
    [
      negative ?? "Most-negative transcoder features",
      positive ?? "Most-positive transcoder features",
    ],
    (x) => {
      const s = featureName(x, layer);
      return [`<code>${escapeHtml(s)}</code>`, s];
    },
    (x) => x.value,
    decimals,
    title,
  );
}

/** The per-layer evaluation columns: header, formatter. */
const EVAL_COLUMNS: [string, (e: LayerEval) => string][] = [
  ["layer", (e) => String(e.layer)],
  ["L0", (e) => formatFixed(e.l0, 2)],
  ["NMSE", (e) => formatFixed(e.nmse, 4)],
  ["expl. var", (e) => formatFixed(e.explainedVariance, 4)],
  ["CE clean", (e) => formatFixed(e.ceClean, 4)],
  ["CE replaced", (e) => formatFixed(e.ceReplaced, 4)],
  ["CE zero-abl.", (e) => formatFixed(e.ceZeroAblated, 4)],
  ["CE score", (e) => formatFixed(e.ceScore, 4)],
  ["KL", (e) => formatFixed(e.kl, 4)],
  ["dead", (e) => String(e.deadFeatures)],
  ["live", (e) => `${e.liveFeatures}/${e.logFrequencies.length}`],
];

/**
 * A table of per-layer transcoder evaluations (one row per layer), e.g. the `perLayer` of
 * `evaluateTranscoders(model, transcoders, rows)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerEvalTable } from "./tables.ts";
 * const t = layerEvalTable([{
 *   layer: 8, l0: 84.2, nmse: 0.1032, explainedVariance: 0.8968, ceClean: 3.2571, ceReplaced: 3.3304,
 *   ceZeroAblated: 4.5032, ceScore: 0.9412, kl: 0.0791, deadFeatures: 12, liveFeatures: 3,
 *   logFrequencies: Float32Array.of(-2.1, -3.5, -3.9, -10), // [d_sae]
 * }]);
 * const lines = t.text.split("\n");
 * lines[0]; // "layer     L0    NMSE  expl. var  CE clean  CE replaced  CE zero-abl.  CE score      KL  dead  live"
 * assert.equal(lines[2], "8      84.20  0.1032     0.8968    3.2571       3.3304        4.5032    0.9412  0.0791    12   3/4");
 * assert.ok(t.html.includes(">0.9412</td>"));
 * ```
 */
export function layerEvalTable(
  evals: readonly LayerEval[],
  { title }: { title?: string } = {},
): Displayable {
  const headers = EVAL_COLUMNS.map(([h]) => h);
  const rows = evals.map((e) => EVAL_COLUMNS.map(([, f]) => f(e)));
  const align = headers.map((_, j) => (j === 0 ? "left" : "right") as "left" | "right");
  return new Displayable(
    htmlTable(headers, rows, { align, caption: title }),
    (title === undefined ? "" : `${title}\n`) + textTable(headers, rows, align),
  );
}

/**
 * A table of the evaluation with every listed layer replaced at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allLayersEvalTable } from "./tables.ts";
 * const t = allLayersEvalTable({
 *   layers: [0, 1, 2], ceClean: 3.2571, ceReplaced: 3.5093, ceZeroAblated: 4.5032, ceScore: 0.8,
 *   kl: 0.2418,
 * });
 * t.text.split("\n")[0]; // "All layers replaced (0, 1, 2)"
 * assert.ok(t.text.includes("CE score               0.8000"));
 * ```
 */
export function allLayersEvalTable(
  all: AllLayersEval,
  { title }: { title?: string } = {},
): Displayable {
  const t = title ?? `All layers replaced (${all.layers.join(", ")})`;
  const rows: string[][] = [
    ["CE clean", formatFixed(all.ceClean, 4)],
    ["CE replaced", formatFixed(all.ceReplaced, 4)],
    ["CE zero-ablated", formatFixed(all.ceZeroAblated, 4)],
    ["CE score", formatFixed(all.ceScore, 4)],
    ["KL(clean || replaced)", formatFixed(all.kl, 4)],
  ];
  const align = ["left", "right"] as const;
  return new Displayable(
    htmlTable(["metric", "value"], rows, { align, caption: t }),
    `${t}\n${textTable(["metric", "value"], rows, align)}`,
  );
}

/**
 * Paths numbered as the reference prints them: `[i][j]` for per-iteration lists, `[j]` for a flat
 * list; a single path (a list of feature vectors) is numbered `[0]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numberedPaths } from "./tables.ts";
 * const fv = (layer: number, idx: number, token: number, contrib: number) => ({
 *   componentPath: [{ layer, type: "mlp" as const, token, featureType: "tc" as const, featureIndex: idx }],
 *   vector: new Float64Array(0), layer, sublayer: "resid_mid" as const, token, contrib, error: 0,
 * });
 * const root = fv(8, 89, -1, 7.57), a = fv(0, 8829, 9, 0.85), b = fv(2, 7620, 9, 0.41);
 * numberedPaths([[root, a], [root, b]]).map((p) => p.label); // ["[0]", "[1]"]
 * // greedy search's per-iteration lists:
 * const perIter = numberedPaths([[[root, a]], [[root, a, b]]]);
 * assert.deepEqual(perIter.map((p) => p.label), ["[0][0]", "[1][0]"]);
 * assert.equal(perIter[1].path.length, 3);
 * ```
 */
export function numberedPaths(
  paths: PathCollection,
): { label: string; path: FeatureVector[] }[] {
  const out: { label: string; path: FeatureVector[] }[] = [];
  const isPath = (x: unknown): x is FeatureVector[] =>
    Array.isArray(x) && (x.length === 0 || !Array.isArray(x[0]));
  const walk = (xs: PathCollection, prefix: string) => {
    xs.forEach((x, i) => {
      if (isPath(x)) {
        if (x.length > 0) out.push({ label: `${prefix}[${i}]`, path: x });
      } else if (Array.isArray(x)) walk(x, `${prefix}[${i}]`);
    });
  };
  const isFeatureVector = (x: unknown) =>
    typeof x === "object" && x !== null && !Array.isArray(x) && "componentPath" in x;
  if (paths.length > 0 && paths.every(isFeatureVector)) walk([paths], "");
  else walk(paths, "");
  return out;
}

function nodeChipHtml(fv: FeatureVector, root: boolean, tokens?: readonly string[]): string {
  const id = featureVectorString(fv, { showFull: false, showContrib: false, tokens });
  const c = fv.contrib === undefined
    ? ""
    : `<span style="color:${fv.contrib < 0 ? "#c0392b" : "#1f5fa8"};margin-left:3px">${
      escapeHtml(formatContrib(fv.contrib))
    }${fv.contribType === "zero_ablation" ? "*" : ""}</span>`;
  const bg = root ? "#ffe3bf" : "#f2f2f2";
  return `<span style="white-space:nowrap;background:${bg};color:#000;border-radius:3px;padding:1px 4px;font-family:monospace">${
    escapeHtml(id)
  }${c}</span>`;
}

/**
 * A table of circuit paths (root first), as `Path [i][j]: a <- b <- c` in text. In HTML each
 * node shows its id and contribution (negative red, positive blue; `*` marks a capped,
 * zero-ablation-style contribution).
 *
 * @example
 * ```ts
 * import { pathsTable } from "./tables.ts";
 * const fv = (layer: number, idx: number, token: number, contrib: number) => ({
 *   componentPath: [{ layer, type: "mlp" as const, token, featureType: "tc" as const, featureIndex: idx }],
 *   vector: new Float64Array(0), layer, sublayer: "resid_mid" as const, token, contrib, error: 0,
 * });
 * pathsTable([[fv(8, 89, -1, 7.57), fv(0, 8829, 9, 0.8468)]]).text;
 * // "Path [0]: mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85"
 * ```
 */
export function pathsTable(
  paths: PathCollection,
  { title, limit, tokens }: {
    title?: string;
    limit?: number;
    /** The prompt's token strings, printed after each node's position. */
    tokens?: readonly string[];
  } = {},
): Displayable {
  let items = numberedPaths(paths);
  const total = items.length;
  if (limit !== undefined) items = items.slice(0, limit);
  const rest = total - items.length;
  const more = rest > 0 ? `… ${rest} more path${rest === 1 ? "" : "s"}` : "";
  const lines = items.map(({ label, path }) => `Path ${label}: ${pathString(path, { tokens })}`);
  const rows = items.map(({ label, path }) => [
    label,
    path.map((fv, i) => nodeChipHtml(fv, i === 0, tokens)).join(
      ` <span style="color:#888">&larr;</span> `,
    ),
  ]);
  const head = title ?? `${total} path${total === 1 ? "" : "s"}`;
  const html = htmlTable(["path", "nodes (contribution)"], rows, {
    htmlColumns: [1],
    caption: head,
  }) + (more ? `<div style="color:#888">${escapeHtml(more)}</div>` : "");
  const text = [...(title === undefined ? [] : [title]), ...lines, ...(more ? [more] : [])].join(
    "\n",
  );
  return new Displayable(html, text);
}

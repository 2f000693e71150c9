/**
 * The circuit data model of the reference's `circuit_analysis.py`: a `Component` (a transcoder
 * feature, an attention head from a source token, the embedding, or an error term) and a
 * `FeatureVector` (a direction in the residual stream at a layer, sublayer and token, reached
 * through a path of components, with its contribution), printed with the reference's ids:
 * `mlp8tc[89]@-1`, `attn2[2]@8`, `embed0@9`; paths joined by ` <- `.
 *
 * @module
 */

/** What a component is. */
export type ComponentType = "mlp" | "attn" | "embed" | "tc_error" | "prune_error" | "bias_error";
/** What kind of feature a component carries. */
export type FeatureType = "none" | "sae" | "tc";
/** Where in a layer a feature vector lives. */
export type Sublayer = "mlp_out" | "resid_post" | "resid_mid" | "resid_pre";
/** How a contribution was computed: the raw linear attribution, or capped (zero-ablation-like). */
export type ContribType = "raw" | "zero_ablation";

/** One node kind of a circuit. */
export interface Component {
  layer: number;
  type: ComponentType;
  /** Token position (negative counts from the end, as in the reference's `-1`). */
  token?: number;
  /** Attention head, for `attn` components. */
  head?: number;
  featureType?: FeatureType;
  featureIndex?: number;
}

/**
 * A direction in the residual stream: reading it (dot product) at its layer, sublayer and token
 * gives a scalar, e.g. a transcoder feature's pre-activation (its encoder column) or a logit
 * difference. `componentPath` is how it was reached from the root (root first).
 */
export interface FeatureVector {
  componentPath: Component[];
  /** `[d_model]` */
  vector: Float64Array;
  layer: number;
  sublayer: Sublayer;
  token: number;
  /** The contribution of this node to its parent (the root's own activation for a root). */
  contrib?: number;
  contribType?: ContribType;
  /** Relative transcoder error at this node, where computed. */
  error: number;
}

/** A path: feature vectors from the root (first) to the deepest source (last). */
export type Path = readonly FeatureVector[];

/**
 * Paths as the circuit functions take them: one path, a list of paths, `greedyTopPaths`' result
 * (per iteration, the paths it kept), or any nesting of such lists. `flattenPaths` lists them.
 */
export type PathCollection = Path | readonly PathCollection[];

/**
 * Formats a number as Python's `f"{x:.2}"` (two significant digits, general format), as the
 * reference prints contributions: `7.6`, `0.85`, `1.5e+01`, `-0.031`.
 *
 * @example
 * ```ts
 * import { formatContrib } from "./feature_vector.ts";
 * [formatContrib(7.57), formatContrib(0.8468), formatContrib(15.2), formatContrib(-0.0312)]; // ["7.6", "0.85", "1.5e+01", "-0.031"]
 * ```
 */
export function formatContrib(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const [mantissa, e] = x.toExponential(1).split("e"); // rounded to 2 significant digits
  const exp = Number(e);
  const strip = (m: string) => m.replace(/\.?0+$/, "");
  if (exp < -4 || exp >= 1) {
    return `${strip(mantissa)}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  const fixed = strip(x.toFixed(Math.max(0, 1 - exp)));
  return fixed.includes(".") ? fixed : `${fixed}.0`;
}

/**
 * A component's id, as the reference prints it: `mlp8tc[89]@-1`, `attn2[2]@8`, `embed0@9`,
 * `tc_error8@-1`.
 *
 * @example
 * ```ts
 * import { componentString } from "./feature_vector.ts";
 * componentString({ layer: 2, type: "attn", head: 2, token: 8 }); // "attn2[2]@8"
 * ```
 */
export function componentString(c: Component, showToken = true): string {
  const attn = c.type === "attn" && c.head !== undefined ? `[${c.head}]` : "";
  const feature = c.featureType !== undefined && c.featureIndex !== undefined
    ? `${c.featureType}[${c.featureIndex}]`
    : "";
  const token = showToken && c.token !== undefined ? `@${c.token}` : "";
  return `${c.type}${c.layer}${attn}${feature}${token}`;
}

/** Options of `featureVectorString`. */
export interface FeatureVectorStringOptions {
  /** Print every component of the path (default true); false prints only the last. */
  showFull?: boolean;
  showContrib?: boolean;
  showLastToken?: boolean;
  /**
   * The prompt's token strings (`model.toStrTokens(prompt)`): the token at each node's position
   * is printed after it, `mlp0tc[942]@26 " to"`.
   */
  tokens?: readonly string[];
}

/** ` " to"`: the token string at position t (negative counts from the end), or "". */
function tokenSuffix(tokens: readonly string[] | undefined, t: number): string {
  if (!tokens) return "";
  const s = tokens[t < 0 ? t + tokens.length : t];
  return s === undefined ? "" : ` ${JSON.stringify(s)}`;
}

/**
 * A feature vector's id as the reference prints it (`mlp8tc[89]@-1: 7.6`).
 *
 * @example
 * ```ts
 * import { featureVectorString } from "./feature_vector.ts";
 * featureVectorString({ componentPath: [{ layer: 8, type: "mlp", token: -1, featureType: "tc", featureIndex: 89 }], vector: new Float64Array(0), layer: 8, sublayer: "resid_mid", token: -1, contrib: 7.57, error: 0 });
 * // "mlp8tc[89]@-1: 7.6"
 * ```
 */
export function featureVectorString(
  fv: FeatureVector,
  { showFull = true, showContrib = true, showLastToken = true, tokens }:
    FeatureVectorStringOptions = {},
): string {
  const token = showLastToken ? `@${fv.token}${tokenSuffix(tokens, fv.token)}` : "";
  let s: string;
  const path = fv.componentPath;
  if (path.length > 0) {
    const prefix = showFull ? path.slice(0, -1).map((c) => componentString(c, false)).join("") : "";
    s = `${prefix}${componentString(path[path.length - 1], false)}${token}`;
  } else {
    s = `*${fv.sublayer}${fv.layer}${token}`;
  }
  if (showContrib && fv.contrib !== undefined) s += `: ${formatContrib(fv.contrib)}`;
  return s;
}

/**
 * A path (root first) as the reference prints it: `mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Component, type FeatureVector, pathString } from "./feature_vector.ts";
 * const node = (c: Component, contrib: number): FeatureVector =>
 *   ({ componentPath: [c], vector: new Float64Array(0), layer: c.layer, sublayer: "resid_mid", token: c.token!, contrib, error: 0 });
 * const path = [
 *   node({ layer: 8, type: "mlp", token: -1, featureType: "tc", featureIndex: 89 }, 7.57),
 *   node({ layer: 0, type: "mlp", token: 9, featureType: "tc", featureIndex: 8829 }, 0.8468),
 * ];
 * pathString(path); // "mlp8tc[89]@-1: 7.6 <- mlp0tc[8829]@9: 0.85"
 * assert.equal(pathString(path, { showContrib: false }), "mlp8tc[89]@-1 <- mlp0tc[8829]@9");
 * // With the prompt's token strings, each node names its token:
 * const tokens = Array.from({ length: 10 }, (_, i) => (i === 9 ? "M" : " x"));
 * pathString(path, { tokens }); // 'mlp8tc[89]@-1 "M": 7.6 <- mlp0tc[8829]@9 "M": 0.85'
 * ```
 */
export function pathString(
  path: readonly FeatureVector[],
  { showContrib = true, showLastToken = true, tokens }: Omit<
    FeatureVectorStringOptions,
    "showFull"
  > = {},
): string {
  return path.map((fv) =>
    featureVectorString(fv, { showFull: false, showContrib, showLastToken, tokens })
  ).join(" <- ");
}

/**
 * The last component of a feature vector's path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lastComponent } from "./feature_vector.ts";
 * const fv = {
 *   componentPath: [
 *     { layer: 3, type: "mlp" as const, token: -1, featureType: "tc" as const, featureIndex: 7 },
 *     { layer: 1, type: "attn" as const, head: 2, token: 4 },
 *   ],
 *   vector: new Float64Array(0), layer: 1, sublayer: "resid_pre" as const, token: 4, error: 0,
 * };
 * lastComponent(fv); // { layer: 1, type: "attn", head: 2, token: 4 }
 * assert.equal(lastComponent(fv)?.head, 2);
 * assert.equal(lastComponent({ ...fv, componentPath: [] }), undefined);
 * ```
 */
export function lastComponent(fv: FeatureVector): Component | undefined {
  return fv.componentPath[fv.componentPath.length - 1];
}

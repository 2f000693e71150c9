/**
 * Small hand-made circuit data and feature dashboards shared by the display tests (the
 * walkthrough's feature 89).
 */
import type { Component, FeatureVector } from "../../lib/circuits/feature_vector.ts";
import { type CircuitGraph, edgeKey } from "../../lib/circuits/graph.ts";
import type { DashboardExample, FeatureDashboard } from "../../lib/dashboards/dashboard.ts";

/** A feature vector with one component. */
export function fv(
  c: Component,
  sublayer: FeatureVector["sublayer"],
  contrib: number,
  path: Component[] = [],
): FeatureVector {
  return {
    componentPath: [...path, c],
    vector: new Float64Array(0),
    layer: c.layer,
    sublayer,
    token: c.token ?? -1,
    contrib,
    error: 0,
  };
}

export const tc = (layer: number, featureIndex: number, token: number): Component => ({
  layer,
  type: "mlp",
  token,
  featureType: "tc",
  featureIndex,
});

export const root = fv(tc(8, 89, -1), "resid_mid", 7.57);
export const mlp0 = fv(tc(0, 8829, 9), "resid_mid", 0.8468);
export const attn = fv({ layer: 2, type: "attn", head: 2, token: 8 }, "resid_pre", 0.35);
export const embed = fv({ layer: 0, type: "embed", token: 9 }, "resid_pre", 0.52);
export const tcErr = fv({ layer: 8, type: "tc_error", token: -1 }, "resid_mid", -0.3, [
  tc(8, 89, -1),
]);

/** Four nodes by layer (8.5, 2, 0.5, 0) plus an error node (8.25), four edges. */
export function smallGraph(): CircuitGraph {
  const nodes = new Map<string, FeatureVector>([
    ["mlp8tc[89]@-1", root],
    ["mlp0tc[8829]@9", { ...mlp0, contrib: 1.41 }],
    ["attn2[2]@8", attn],
    ["embed0@9", embed],
    ["mlp8tc[89]tc_error8@-1", tcErr],
  ]);
  const edges = new Map<string, number>([
    [edgeKey("mlp0tc[8829]@9", "mlp8tc[89]@-1"), 0.85],
    [edgeKey("attn2[2]@8", "mlp8tc[89]@-1"), 0.35],
    [edgeKey("embed0@9", "mlp0tc[8829]@9"), 0.52],
    [edgeKey("mlp8tc[89]tc_error8@-1", "mlp8tc[89]@-1"), -0.3],
  ]);
  return { nodes, edges };
}

/** Counts the elements `<tag` inside the `<g aria-label="label">` groups of an SVG. */
export function countInGroup(svg: string, label: string, tag: string): number {
  let n = 0;
  const re = new RegExp(`<g[^>]*aria-label="${label}"[^>]*>([\\s\\S]*?)</g>`, "g");
  for (const m of svg.matchAll(re)) {
    n += (m[1].match(new RegExp(`<${tag}[\\s>]`, "g")) ?? []).length;
  }
  return n;
}

/** True when the HTML loads nothing from outside (no scripts, sources, links or CSS URLs). */
export function selfContained(html: string): boolean {
  return !/<script|\ssrc=|\shref=|url\(|@import|<link/i.test(html);
}

/** A dashboard example: `n` tokens, the example's token `<A>` at `pos`, 0.5 just before it. */
export function dashboardExample(
  n: number,
  pos: number,
  value: number,
  row: number,
): DashboardExample {
  return {
    row,
    pos: pos + 100,
    value,
    start: 100,
    strings: Array.from({ length: n }, (_, i) => (i === pos ? "<A>" : ` w${i}`)),
    acts: Array.from({ length: n }, (_, i) => (i === pos ? value : i === pos - 1 ? 0.5 : 0)),
    focus: pos,
  };
}

/**
 * The walkthrough's feature mlp8tc[89] as a dashboard with only the statistics' parts (what
 * `dashboardFromStats` gives): summary, top examples and two bands, one of them empty.
 */
export function statsDashboard(): FeatureDashboard {
  return {
    layer: 8,
    feature: 89,
    summary: {
      feature: 89,
      count: 14,
      frequency: 0.001137,
      logFrequency: -2.944,
      mean: 3.1,
      std: 1.2,
      max: 8.62,
      quantiles: [{ q: 0.5, value: 2.9 }, { q: 0.9, value: 7.25 }],
    },
    topExamples: [dashboardExample(30, 20, 8.62, 5)],
    bands: [
      {
        low: 4.31,
        high: 8.62,
        fraction: 0.125,
        examples: [dashboardExample(30, 20, 5.5, 7), dashboardExample(30, 3, 4.4, 9)],
      },
      { low: 0, high: 4.31, fraction: 0.875, examples: [] },
    ],
  };
}

/**
 * `statsDashboard()` with every optional part: title, description, the activation histogram
 * (log-spaced bins, firing in three of them), logit effects with their histogram (5 nonempty
 * bins), direct and head de-embeddings, and OV norms of 2 layers x 2 heads.
 */
export function fullDashboard(): FeatureDashboard {
  const tok = (token: number, str: string, value: number) => ({ token, str, value });
  return {
    ...statsDashboard(),
    title: "digits <after> L",
    description: "fires on a digit after a capital letter",
    histogram: {
      edges: Float64Array.from([0, 1, 2, 4, 8, 16, Infinity]),
      counts: Float64Array.from([0, 0, 3, 0, 11, 0]),
    },
    logits: {
      top: [tok(1, " guns", 1.25), tok(2, " rifles", 0.75)],
      bottom: [tok(3, " the", -0.5)],
      histogram: {
        edges: Float64Array.from([-0.6, -0.2, 0.2, 0.6, 1, 1.4]),
        counts: Float64Array.from([4, 40, 7, 2, 1]),
      },
    },
    inputs: {
      direct: { top: [tok(4, " rifles", 10.275)], bottom: [tok(5, "aters", -3.79)] },
      ovNorms: [Float64Array.from([1, 2]), Float64Array.from([3, 4])],
      heads: [{
        layer: 1,
        head: 1,
        norm: 4,
        deembedding: { top: [tok(6, " L", 2.5)], bottom: [tok(7, " x", -1)] },
      }],
    },
  };
}

/** Small hand-made circuit data shared by the display tests (the walkthrough's feature 89). */
import type { Component, FeatureVector } from "../../lib/circuits/feature_vector.ts";
import { type CircuitGraph, edgeKey } from "../../lib/circuits/graph.ts";

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

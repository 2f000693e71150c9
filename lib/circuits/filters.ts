/**
 * Feature filters and path filters (the reference's `FeatureFilter`, `FilterType` and
 * `get_paths_via_filter`): select feature vectors by layer, sublayer, token (any comparison) and
 * by the kind of their last component (equal or not equal), and paths by an infix, a forbidden
 * infix or a suffix of filters.
 *
 * @module
 */
import type {
  ComponentType,
  FeatureType,
  FeatureVector,
  PathCollection,
  Sublayer,
} from "./feature_vector.ts";

/** A comparison: `eq`, `ne`, `gt`, `ge`, `lt`, `le` (value op filter value). */
export type FilterOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le";

/**
 * Conditions on a feature vector; every field given must hold. `layer` and `token` accept any
 * comparison; the others (sublayer and the last component's type, head, feature type and index)
 * only `eq` and `ne`.
 */
export interface FeatureFilter {
  layer?: number;
  layerOp?: FilterOp;
  sublayer?: Sublayer;
  sublayerOp?: "eq" | "ne";
  token?: number;
  tokenOp?: FilterOp;
  type?: ComponentType;
  typeOp?: "eq" | "ne";
  head?: number;
  headOp?: "eq" | "ne";
  featureType?: FeatureType;
  featureTypeOp?: "eq" | "ne";
  featureIndex?: number;
  featureIndexOp?: "eq" | "ne";
}

function compare<T extends number | string>(
  value: T | undefined,
  op: FilterOp,
  target: T,
): boolean {
  if (op === "eq") return value === target;
  if (op === "ne") return value !== target;
  if (value === undefined) return false;
  switch (op) {
    case "gt":
      return value > target;
    case "ge":
      return value >= target;
    case "lt":
      return value < target;
    case "le":
      return value <= target;
  }
}

/**
 * Whether a feature vector satisfies a filter.
 *
 * @example
 * ```ts
 * import { matchesFilter } from "./filters.ts";
 * const fv = { componentPath: [{ layer: 2, type: "attn" as const, head: 1, token: 4 }], vector: new Float64Array(0), layer: 2, sublayer: "resid_pre" as const, token: 4, error: 0 };
 * matchesFilter({ layer: 1, layerOp: "gt", type: "attn" }, fv); // true
 * ```
 */
export function matchesFilter(f: FeatureFilter, fv: FeatureVector): boolean {
  const last = fv.componentPath[fv.componentPath.length - 1];
  if (f.layer !== undefined && !compare(fv.layer, f.layerOp ?? "eq", f.layer)) return false;
  if (f.token !== undefined && !compare(fv.token, f.tokenOp ?? "eq", f.token)) return false;
  const eqNe = <T extends number | string>(
    value: T | undefined,
    op: "eq" | "ne" | undefined,
    target: T | undefined,
    name: string,
  ) => {
    if (target === undefined) return true;
    if (op !== undefined && op !== "eq" && op !== "ne") {
      throw new RangeError(`filter ${name}Op must be "eq" or "ne", got "${op}"`);
    }
    return compare(value, op ?? "eq", target);
  };
  return eqNe(fv.sublayer, f.sublayerOp, f.sublayer, "sublayer") &&
    eqNe(last?.type, f.typeOp, f.type, "type") &&
    eqNe(last?.head, f.headOp, f.head, "head") &&
    eqNe(last?.featureType, f.featureTypeOp, f.featureType, "featureType") &&
    eqNe(last?.featureIndex, f.featureIndexOp, f.featureIndex, "featureIndex");
}

/** Whether the filters match a contiguous run of the path's nodes. */
function hasInfix(path: readonly FeatureVector[], filters: readonly FeatureFilter[]): boolean {
  for (let i = 0; i + filters.length <= path.length; i++) {
    if (filters.every((f, j) => matchesFilter(f, path[i + j]))) return true;
  }
  return false;
}

/** Options of `pathsViaFilter`. */
export interface PathFilterOptions {
  /** Keep paths with a contiguous run of nodes matching these filters. */
  infix?: readonly FeatureFilter[];
  /** Drop paths with such a run. */
  notInfix?: readonly FeatureFilter[];
  /** Keep paths whose last nodes match these filters. */
  suffix?: readonly FeatureFilter[];
}

/**
 * Paths (nested lists, as greedy search returns them, are flattened) that satisfy the filters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Component, FeatureVector } from "./feature_vector.ts";
 * import { pathsViaFilter } from "./filters.ts";
 * const node = (c: Component): FeatureVector =>
 *   ({ componentPath: [c], vector: new Float64Array(0), layer: c.layer, sublayer: "resid_mid", token: c.token!, error: 0 });
 * const root = node({ layer: 3, type: "mlp", token: -1, featureType: "tc", featureIndex: 7 });
 * const viaTc = [root, node({ layer: 2, type: "mlp", token: -1, featureType: "tc", featureIndex: 5 }), node({ layer: 0, type: "embed", token: -1 })];
 * const viaAttn = [root, node({ layer: 1, type: "attn", head: 0, token: 2 })];
 * // Greedy search's per-iteration lists work too: [[viaAttn], [viaTc]].
 * const kept = pathsViaFilter([[viaAttn], [viaTc]], { notInfix: [{ layer: 2, featureType: "tc" }] });
 * assert.deepEqual(kept, [viaAttn]);
 * pathsViaFilter([viaTc, viaAttn], { suffix: [{ type: "embed" }] }).length; // 1 (viaTc)
 * ```
 */
export function pathsViaFilter(
  paths: readonly (readonly FeatureVector[])[] | readonly (readonly (readonly FeatureVector[])[])[],
  { infix, notInfix, suffix }: PathFilterOptions = {},
): FeatureVector[][] {
  return flattenPaths(paths).filter((p) =>
    (!infix || hasInfix(p, infix)) &&
    (!notInfix || !hasInfix(p, notInfix)) &&
    (!suffix || (suffix.length <= p.length && suffix.every((f, j) =>
      matchesFilter(f, p[p.length - suffix.length + j])
    )))
  );
}

/**
 * Flattens the per-iteration lists of paths that greedy search returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FeatureVector } from "./feature_vector.ts";
 * import { flattenPaths } from "./filters.ts";
 * const node = (layer: number): FeatureVector =>
 *   ({ componentPath: [{ layer, type: "embed", token: 0 }], vector: new Float64Array(0), layer, sublayer: "resid_pre", token: 0, error: 0 });
 * const a = [node(2), node(1)], b = [node(2), node(0)], c = [node(2), node(1), node(0)];
 * const perIteration = [[a, b], [c]]; // as greedyTopPaths returns them
 * flattenPaths(perIteration).length; // 3
 * assert.deepEqual(flattenPaths(perIteration), [a, b, c]);
 * assert.deepEqual(flattenPaths([a, b]), [a, b]); // already flat
 * // An iteration that kept no path (every path stopped at layer 0) adds nothing:
 * assert.deepEqual(flattenPaths([[a, b], [c], []]), [a, b, c]);
 * ```
 */
export function flattenPaths(paths: PathCollection): FeatureVector[][] {
  if (paths.length === 0) return []; // an iteration that kept no path
  if (!Array.isArray(paths[0])) return [paths as FeatureVector[]]; // one path
  return (paths as readonly PathCollection[]).flatMap(flattenPaths);
}

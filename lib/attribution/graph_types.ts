/**
 * The data of an attribution graph, as circuit-tracer's `Graph` holds it: the prompt, the active
 * transcoder features, the logit targets and the adjacency matrix of direct effects.
 *
 * Node order (rows and columns of `adjacency`, N = S + L*T + T + K):
 *
 * | block | count | node i of the block |
 * | ----- | ----- | ------------------- |
 * | features | S | `activeFeatures` entry `selectedFeatures[i]` |
 * | errors | L*T | layer `floor(i / T)`, position `i % T` |
 * | tokens | T | position i (its embedding) |
 * | logits | K | `logitTargets[i]` |
 *
 * `adjacency[t * N + s]` is the direct effect of source s on target t: the change of t's
 * pre-activation (a feature's encoder pre-activation, or a demeaned logit) per unit of s (s at
 * its activation), through frozen attention patterns, frozen LayerNorm scales and the residual
 * stream, never through an MLP. Rows of error and token nodes are zero (their inputs are never
 * computed).
 *
 * @module
 */

/** A logit target: a token's demeaned logit, or a custom direction. */
export interface LogitTarget {
  /** The token id; custom targets get `d_vocab + i` (as circuit-tracer's virtual ids). */
  tokenId: number;
  /** The token as text, or the custom target's label. */
  label: string;
  /** Its probability at the last position (custom targets: the weight they were given). */
  probability: number;
}

/** An attribution graph of one prompt (see the module doc for the node order). */
export interface AttributionGraph {
  /** The model's name or folder (`metadata.scan` of the JSON export). */
  scan: string;
  /** Number of layers L. */
  nLayers: number;
  /** The prompt's tokens, BOS first: `[T]`. */
  tokens: Int32Array;
  /** Each token as text, BOS included: `[T]`. */
  tokenStrings: string[];
  /**
   * Every active feature at positions 1.. (BOS excluded), sorted by (layer, pos, feature):
   * `[F, 3]` flattened as (layer, pos, feature) triples.
   */
  activeFeatures: Int32Array;
  /** The active features' activations: `[F]`. */
  activations: Float32Array;
  /** Indices into `activeFeatures` of the S features that are nodes, ascending: `[S]`. */
  selectedFeatures: Int32Array;
  /** The K logit targets, most probable first. */
  logitTargets: LogitTarget[];
  /** Direct effects `[N, N]`, row-major: rows are targets, columns sources. */
  adjacency: Float32Array;
  /** Active features given no row and no column (the `maxFeatureNodes` budget). */
  droppedFeatures: number;
}

/** Sizes of the node blocks of a graph. */
export interface NodeCounts {
  /** Feature nodes S. */
  features: number;
  /** Error nodes L*T. */
  errors: number;
  /** Token nodes T. */
  tokens: number;
  /** Logit nodes K. */
  logits: number;
  /** All nodes N. */
  total: number;
}

/**
 * The sizes of a graph's node blocks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeCounts } from "./graph_types.ts";
 * const counts = nodeCounts({ selectedFeatures: new Int32Array(5), nLayers: 2, tokens: new Int32Array(3), logitTargets: [{ tokenId: 1, label: "a", probability: 1 }] });
 * counts.total; // 5 + 2*3 + 3 + 1 = 15
 * assert.equal(counts.total, 15);
 * ```
 */
export function nodeCounts(
  g: Pick<AttributionGraph, "selectedFeatures" | "nLayers" | "tokens" | "logitTargets">,
): NodeCounts {
  const features = g.selectedFeatures.length, t = g.tokens.length;
  const errors = g.nLayers * t, logits = g.logitTargets.length;
  return { features, errors, tokens: t, logits, total: features + errors + t + logits };
}

/**
 * Saving and loading feature statistics: one safetensors file, written atomically (a temporary
 * file renamed into place). Its `__metadata__` holds `format`, `version` and `meta`, a JSON
 * object of the scalar fields (config, corpus, tokens, L0 sum, K, overflow counts). Arrays are
 * tensors; float64 arrays, which safetensors (as read here) does not store, are kept bit-exact as
 * I64 tensors of their bit patterns (listed in `meta.float64`), so a reload is identical.
 *
 * @module
 */
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { NUM_BINS, NUM_BUCKETS } from "./_activation_bins.ts";
import { type FeatureStatsData, LayerFeatureStats } from "./feature_stats.ts";

/**
 * The `format` value in the file's metadata.
 *
 * @example
 * ```ts
 * import { FEATURE_STATS_FORMAT, FEATURE_STATS_VERSION, saveFeatureStats } from "./stats_file.ts";
 * import { LayerFeatureStats } from "./feature_stats.ts";
 * import { readSafetensors } from "../formats/safetensors.ts";
 * import assert from "node:assert/strict";
 * const stats = LayerFeatureStats.empty({
 *   layer: 0, dSae: 4, seqLen: 3, topK: 2, bandSamples: 2, seed: 0, ignoreToken: -1,
 *   transcoderFingerprint: "", modelFingerprint: "",
 * });
 * const dir = await Deno.makeTempDir();
 * try {
 *   await saveFeatureStats(`${dir}/l0.stats.safetensors`, stats);
 *   const { metadata } = await readSafetensors(`${dir}/l0.stats.safetensors`);
 *   metadata.format; // "transcoder-circuits/feature-stats"
 *   assert.equal(metadata.format, FEATURE_STATS_FORMAT);
 *   assert.equal(metadata.version, String(FEATURE_STATS_VERSION)); // "1"
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export const FEATURE_STATS_FORMAT = "transcoder-circuits/feature-stats";
/**
 * The file layout version (stored as a string in the metadata; `loadFeatureStats` refuses others).
 *
 * @example
 * ```ts
 * import { FEATURE_STATS_VERSION } from "./stats_file.ts";
 * import assert from "node:assert/strict";
 * assert.equal(FEATURE_STATS_VERSION, 1);
 * ```
 */
export const FEATURE_STATS_VERSION = 1;

const FLOAT64 = [
  "count",
  "sum",
  "sumSquares",
  "max",
  "hist",
  "topTokens",
  "bandTokens",
] as const;

function bits(a: Float64Array, shape: number[]): Tensor<"int64"> {
  return { dtype: "int64", shape, data: new BigInt64Array(a.buffer, a.byteOffset, a.length) };
}

/**
 * Writes statistics to a safetensors file (atomically).
 *
 * @example
 * ```ts
 * import { loadFeatureStats, saveFeatureStats } from "./stats_file.ts";
 * import { LayerFeatureStats } from "./feature_stats.ts";
 * import assert from "node:assert/strict";
 * const stats = LayerFeatureStats.empty({
 *   layer: 2, dSae: 4, seqLen: 3, topK: 2, bandSamples: 2, seed: 0, ignoreToken: -1,
 *   transcoderFingerprint: "", modelFingerprint: "",
 * });
 * stats.tokens = 6;
 * stats.observe(1, 0.1, 2);
 * stats.observe(1, 0.2, 4);
 * const dir = await Deno.makeTempDir();
 * try {
 *   await saveFeatureStats(`${dir}/layer-2.stats.safetensors`, stats);
 *   const again = await loadFeatureStats(`${dir}/layer-2.stats.safetensors`);
 *   again.sum[1]; // 0.30000000000000004: float64 sums come back bit-exact
 *   assert.equal(again.sum[1], 0.1 + 0.2);
 *   assert.deepEqual(again.topExamples(1), stats.topExamples(1));
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function saveFeatureStats(path: string, stats: LayerFeatureStats): Promise<void> {
  const S = stats.dSae, { topK, bandSamples: R } = stats.config;
  const shapes: Record<(typeof FLOAT64)[number], number[]> = {
    count: [S],
    sum: [S],
    sumSquares: [S],
    max: [S],
    hist: [S, NUM_BINS],
    topTokens: [S, topK],
    bandTokens: [S, NUM_BUCKETS, R],
  };
  const tensors: Record<string, Tensor> = {};
  for (const name of FLOAT64) tensors[name] = bits(stats[name], shapes[name]);
  tensors.topSize = { dtype: "int32", shape: [S], data: stats.topSize };
  tensors.topValues = { dtype: "float32", shape: [S, topK], data: stats.topValues };
  tensors.bandSize = { dtype: "int32", shape: [S, NUM_BUCKETS], data: stats.bandSize };
  tensors.bandValues = { dtype: "float32", shape: [S, NUM_BUCKETS, R], data: stats.bandValues };
  const pr = stats.bandPriority;
  tensors.bandPriority = {
    dtype: "int32",
    shape: [S, NUM_BUCKETS, R],
    data: new Int32Array(pr.buffer, pr.byteOffset, pr.length),
  };
  tensors.rowIndices = { dtype: "int32", shape: [stats.rowIndices.length], data: stats.rowIndices };
  if (stats.tokenRows) tensors.tokenRows = stats.tokenRows;
  const meta = {
    config: stats.config,
    corpus: stats.corpus ?? null,
    tokens: stats.tokens,
    l0Sum: stats.l0Sum,
    maxActive: stats.maxActive,
    maxActiveUsed: stats.maxActiveUsed,
    overflowTokens: stats.overflowTokens,
    droppedActivations: stats.droppedActivations,
    float64: FLOAT64,
  };
  await writeSafetensors(path, tensors, {
    metadata: {
      format: FEATURE_STATS_FORMAT,
      version: String(FEATURE_STATS_VERSION),
      meta: JSON.stringify(meta),
    },
  });
}

/**
 * Reads statistics written by `saveFeatureStats`; a file of another kind or version is an error.
 *
 * @example
 * ```ts
 * import { loadFeatureStats } from "./stats_file.ts";
 * import { writeSafetensors } from "../formats/safetensors.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * try {
 *   // A safetensors file, but not one of feature statistics:
 *   const w = { dtype: "float32", shape: [1], data: new Float32Array([1]) } as const;
 *   await writeSafetensors(`${dir}/w.safetensors`, { w });
 *   await assert.rejects(loadFeatureStats(`${dir}/w.safetensors`), /not a feature-stats file/);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function loadFeatureStats(path: string): Promise<LayerFeatureStats> {
  const file = await readSafetensors(path);
  if (file.metadata.format !== FEATURE_STATS_FORMAT) {
    throw new RangeError(
      `${path}: not a feature-stats file (format ${JSON.stringify(file.metadata.format)})`,
    );
  }
  if (file.metadata.version !== String(FEATURE_STATS_VERSION)) {
    throw new RangeError(
      `${path}: feature-stats version ${file.metadata.version}, expected ${FEATURE_STATS_VERSION}`,
    );
  }
  const meta = JSON.parse(file.metadata.meta);
  const get = (name: string, dtype: string) => {
    const t = file.tensors.get(name);
    if (!t || t.dtype !== dtype) throw new RangeError(`${path}: missing ${dtype} tensor "${name}"`);
    return t;
  };
  const f64 = (name: string) => {
    const d = get(name, "int64").data as BigInt64Array;
    return new Float64Array(d.buffer, d.byteOffset, d.length);
  };
  const prio = get("bandPriority", "int32").data as Int32Array;
  const data: FeatureStatsData = {
    config: meta.config,
    corpus: meta.corpus ?? undefined,
    rowIndices: get("rowIndices", "int32").data as Int32Array,
    tokenRows: file.tensors.has("tokenRows")
      ? get("tokenRows", "int32") as Tensor<"int32">
      : undefined,
    tokens: meta.tokens,
    l0Sum: meta.l0Sum,
    maxActive: meta.maxActive,
    maxActiveUsed: meta.maxActiveUsed,
    overflowTokens: meta.overflowTokens,
    droppedActivations: meta.droppedActivations,
    count: f64("count"),
    sum: f64("sum"),
    sumSquares: f64("sumSquares"),
    max: f64("max"),
    hist: f64("hist"),
    topSize: get("topSize", "int32").data as Int32Array,
    topValues: get("topValues", "float32").data as Float32Array,
    topTokens: f64("topTokens"),
    bandSize: get("bandSize", "int32").data as Int32Array,
    bandValues: get("bandValues", "float32").data as Float32Array,
    bandTokens: f64("bandTokens"),
    bandPriority: new Uint32Array(prio.buffer, prio.byteOffset, prio.length),
  };
  try {
    return new LayerFeatureStats(data);
  } catch (e) {
    throw new RangeError(`${path}: ${(e as Error).message}`);
  }
}

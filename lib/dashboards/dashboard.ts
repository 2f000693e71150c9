/**
 * Feature dashboards as plain data: for each chosen feature of a layer, its summary numbers and
 * histogram, top examples and activation-band examples with their context tokens and the
 * feature's activation on every shown token, direct logit effects and de-embeddings. Display
 * code (the HTML report of `deno task dashboards`, Jupyter rendering) only formats this.
 *
 * The context activations are recomputed with one pass over just the rows the examples come
 * from (all chosen features' columns at once, `featureColumns`).
 *
 * @module
 */
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { featureColumns } from "./feature_scores.ts";
import type {
  ActivationBand,
  FeatureExample,
  FeatureSummary,
  LayerFeatureStats,
} from "./feature_stats.ts";
import { type Deembedding, featureInputAnalysis, type HeadRef } from "./deembeddings.ts";
import { featureLogitEffects, type LogitEffects } from "./logit_effects.ts";

/** An example with its context: tokens `[start, end)` of its row and the activations there. */
export interface DashboardExample extends FeatureExample {
  /** First position shown. */
  start: number;
  ids: Int32Array;
  strings: string[];
  /** The feature's activation on each shown token. */
  acts: Float32Array;
  /** Index of the example's token in `ids`. */
  focus: number;
}

/** One feature's dashboard. */
export interface FeatureDashboard {
  layer: number;
  feature: number;
  summary: FeatureSummary;
  /** Log-spaced histogram of the firing activations (`activation_bins.ts`). */
  histogram: { edges: Float64Array; counts: Float64Array };
  topExamples: DashboardExample[];
  bands: (Omit<ActivationBand, "examples"> & { examples: DashboardExample[] })[];
  /** Direct logit effects (without the full `[d_vocab]` vector). */
  logits: Omit<LogitEffects, "values">;
  /** Direct de-embedding, OV norms `[layer + 1][n_heads]` and de-embeddings through the heads
   * with the largest OV norms (top and bottom tokens only). */
  inputs: {
    direct: Omit<Deembedding, "values">;
    ovNorms: Float64Array[];
    heads: (HeadRef & { norm: number; deembedding: Omit<Deembedding, "values"> })[];
  };
}

/** Options of `buildFeatureDashboards`. */
export interface FeatureDashboardOptions {
  /** Tokens shown on each side of an example (default 8). */
  window?: number;
  /** Top examples shown (default 10). */
  topExamples?: number;
  /** Activation bands and examples per band (default 5 and 4). */
  numBands?: number;
  perBand?: number;
  /** Tokens in logit / de-embedding tables (default 7). */
  k?: number;
  /** Heads with the largest OV norms to de-embed through (default 2). */
  attnK?: number;
  batchSize?: number;
  quiet?: boolean;
}

/**
 * Builds the dashboards of the given features from layer statistics (which must keep their
 * token rows) and the transcoder they were computed with.
 *
 * @example
 * ```ts
 * import { buildFeatureDashboards } from "./dashboard.ts";
 * import { computeFeatureStats } from "./feature_stats.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const tc = transcoders[0]!;
 * const rows = model.toTokens(["The Congress and the people of the State"]);
 * const stats = await computeFeatureStats(model, tc, rows, { quiet: true });
 * const [d] = await buildFeatureDashboards(model, tc, stats, [37], { window: 1, k: 3 });
 * const ex = d.topExamples[0]; // the strongest example, with 1 token of context on each side
 * ex.strings; // ["The", " Congress", " and"]
 * ex.acts; // Float32Array [0, 0.48, 0]: the feature's activation on each shown token
 * d.logits.top.map((t) => t.str); // ["manship", "ors", "ion"]: what it promotes directly
 * d.inputs.direct.top.map((t) => t.str); // [" State", " Congress", " Government"]
 * assert.deepEqual(ex.strings, ["The", " Congress", " and"]);
 * assert.ok(Math.abs(ex.acts[ex.focus] - ex.value) < 1e-6);
 * ```
 */
export async function buildFeatureDashboards(
  model: HookedModel,
  tc: Transcoder,
  stats: LayerFeatureStats,
  features: readonly number[],
  options: FeatureDashboardOptions = {},
): Promise<FeatureDashboard[]> {
  const {
    window = 8,
    topExamples = 10,
    numBands = 5,
    perBand = 4,
    k = 7,
    attnK = 2,
    batchSize = 8,
    quiet = true,
  } = options;
  if (tc.layer !== stats.layer || tc.cfg.d_sae !== stats.dSae) {
    throw new RangeError(
      `the stats are of layer ${stats.layer} (d_sae ${stats.dSae}), the transcoder of layer ${tc.layer} (d_sae ${tc.cfg.d_sae})`,
    );
  }
  if (!stats.tokenRows) {
    throw new RangeError("dashboards need feature stats that keep their token rows");
  }
  for (const f of features) checkFeatureIndex(f, stats.dSae);
  const picked = features.map((f) => ({
    feature: f,
    top: stats.topExamples(f, topExamples),
    bands: stats.bandExamples(f, { numBands, perBand }),
  }));
  // One pass over the rows that the examples come from, for all features' columns.
  const local = new Set<number>();
  for (const p of picked) {
    for (const e of [...p.top, ...p.bands.flatMap((b) => b.examples)]) {
      local.add(stats.localRow(e.row));
    }
  }
  const rowList = [...local].sort((a, b) => a - b);
  const seq = stats.config.seqLen, F = features.length;
  const slot = new Map(rowList.map((r, i) => [r, i]));
  let cols: Float32Array = new Float32Array(0);
  if (rowList.length > 0 && F > 0) {
    const data = new Int32Array(rowList.length * seq);
    rowList.forEach((r, i) =>
      data.set(stats.tokenRows!.data.subarray(r * seq, (r + 1) * seq), i * seq)
    );
    cols = (await featureColumns(
      model,
      tc,
      { dtype: "int32", shape: [rowList.length, seq], data },
      features,
      { batchSize, quiet },
    )).data;
  }
  const withContext = (e: FeatureExample, fIndex: number): DashboardExample => {
    const c = stats.context(e, window);
    const r = slot.get(stats.localRow(e.row))!;
    const acts = new Float32Array(c.end - c.start);
    for (let q = c.start; q < c.end; q++) acts[q - c.start] = cols[(r * seq + q) * F + fIndex];
    return { ...e, start: c.start, ids: c.tokens, strings: c.strings, acts, focus: c.focus };
  };
  return picked.map((p, fIndex) => {
    const { values: _, ...logits } = featureLogitEffects(model, tc, p.feature, { k });
    const a = featureInputAnalysis(model, tc, p.feature, { k, attnK });
    const ranked = ({ top, bottom }: Deembedding) => ({ top, bottom });
    const inputs = {
      direct: ranked(a.direct),
      ovNorms: a.ovNorms,
      heads: a.heads.map((h) => ({
        layer: h.layer,
        head: h.head,
        norm: h.norm,
        deembedding: ranked(h.deembedding),
      })),
    };
    return {
      layer: stats.layer,
      feature: p.feature,
      summary: stats.summary(p.feature),
      histogram: stats.histogram(p.feature),
      topExamples: p.top.map((e) => withContext(e, fIndex)),
      bands: p.bands.map((b) => ({
        ...b,
        examples: b.examples.map((e) => withContext(e, fIndex)),
      })),
      logits,
      inputs,
    };
  });
}

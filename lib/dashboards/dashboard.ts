/**
 * Feature dashboards as plain data: `FeatureDashboard`, the one dashboard type, which
 * `lib/display` renders inline in a notebook (`showDashboard`) and as the static HTML report of
 * `deno task dashboards` (`renderDashboardReport`). It holds a feature's summary numbers, top
 * examples and activation-band examples with their context tokens and the feature's activation
 * on every shown token, and optionally its activation histogram, direct logit effects and their
 * histogram, de-embeddings (direct and through attention heads) and OV norms.
 *
 * `buildFeatureDashboards` fills every part from layer statistics and the transcoder: the
 * context activations are recomputed with one pass over just the rows the examples come from
 * (all chosen features' columns at once, `featureColumns`). `dashboardFromStats`
 * (`lib/display/adapters.ts`) fills the statistics' parts only.
 *
 * @module
 */
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { featureColumns } from "./feature_scores.ts";
import type { FeatureExample, FeatureSummary, LayerFeatureStats } from "./feature_stats.ts";
import type { HeadRef } from "../circuits/weight_products.ts";
import { type Deembedding, featureInputAnalysis } from "./deembeddings.ts";
import { featureLogitEffects } from "./logit_effects.ts";
import type { TokenValue, ValueHistogram } from "./ranking.ts";

/** An example with its context: tokens `[start, end)` of its row and the activations there. */
export interface DashboardExample extends FeatureExample {
  /** First position shown (`pos - focus`). */
  start: number;
  /** Token ids of the shown tokens, when known. */
  ids?: Int32Array;
  /** Text of the shown tokens. */
  strings: readonly string[];
  /** The feature's activation on each shown token (NaN where unknown). */
  acts: ArrayLike<number>;
  /** Index of the example's token in `strings`. */
  focus: number;
}

/** An activation band `low < value <= high`, its share of the firing tokens and examples. */
export interface DashboardBand {
  /** Lower bound (exclusive). */
  low: number;
  /** Upper bound (inclusive). */
  high: number;
  /** Fraction (0..1) of the feature's firing tokens in the band. */
  fraction: number;
  /** Examples in the band, highest value first. */
  examples: DashboardExample[];
}

/** The largest (`top`, largest first) and smallest (`bottom`, smallest first) tokens. */
export interface TokenRanking {
  top: TokenValue[];
  bottom: TokenValue[];
}

/** Direct logit effects `W_dec[i] @ W_U`: top and bottom tokens, and optionally a histogram. */
export interface DashboardLogits extends TokenRanking {
  /** Histogram of the effects on all d_vocab tokens. */
  histogram?: ValueHistogram;
}

/** The de-embedding through one attention head, and the head's OV norm. */
export interface HeadDeembedding extends HeadRef {
  /** `||OV[layer, head] W_enc[:, i]||`. */
  norm: number;
  /** Top and bottom tokens of `W_E OV W_enc[:, i]`. */
  deembedding: TokenRanking;
}

/** What feeds a feature: each part optional. */
export interface DashboardInputs {
  /** Direct de-embedding `W_E @ W_enc[:, i]`. */
  direct?: TokenRanking;
  /** OV de-embedding norms `[layer + 1][n_heads]`. */
  ovNorms?: ArrayLike<number>[];
  /** De-embeddings through the heads with the largest OV norms. */
  heads?: HeadDeembedding[];
}

/**
 * One feature's dashboard: what a notebook shows inline and the report shows per feature. The
 * summary, top examples and bands are always there; every other part is optional.
 */
export interface FeatureDashboard {
  /** The transcoder's layer. */
  layer: number;
  /** The feature index. */
  feature: number;
  /** Heading (default `mlp{layer}tc[{feature}]`). */
  title?: string;
  /** Free text under the title (e.g. an interpretation). */
  description?: string;
  /** Firing count and frequency, mean, std, max and quantiles over the firing tokens. */
  summary: FeatureSummary;
  /** Histogram of the firing activations in the fixed log-spaced bins of `LayerFeatureStats`. */
  histogram?: ValueHistogram;
  /** The strongest examples, highest first. */
  topExamples: DashboardExample[];
  /** Activation bands, highest first. */
  bands: DashboardBand[];
  /** Direct logit effects (without the full `[d_vocab]` vector). */
  logits?: DashboardLogits;
  /** De-embeddings and OV norms. */
  inputs?: DashboardInputs;
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
 * import { showDashboard } from "../display/dashboard_html.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const tc = transcoders[0]!;
 * const rows = model.toTokens(["The Congress and the people of the State"]);
 * const stats = await computeFeatureStats(model, tc, rows, { quiet: true });
 * const [d] = await buildFeatureDashboards(model, tc, stats, [37], { window: 1, k: 3 });
 * const ex = d.topExamples[0]; // the strongest example, with 1 token of context on each side
 * ex.strings; // ["The", " Congress", " and"]
 * ex.acts; // Float32Array [0, 0.48, 0]: the feature's activation on each shown token
 * d.logits?.top.map((t) => t.str); // ["manship", "ors", "ion"]: what it promotes directly
 * d.inputs?.direct?.top.map((t) => t.str); // [" State", " Congress", " Government"]
 * assert.deepEqual(ex.strings, ["The", " Congress", " and"]);
 * assert.ok(Math.abs(ex.acts[ex.focus] - ex.value) < 1e-6);
 * assert.equal(d.inputs?.heads?.length, 2); // the two heads with the largest OV norms
 * // Inline in a notebook (and the same HTML in the report of `deno task dashboards`):
 * const view = showDashboard(d);
 * assert.ok(view.text.includes("Top logit tokens") && view.html.includes("<details open"));
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
    const { top, bottom, histogram } = featureLogitEffects(model, tc, p.feature, { k });
    const a = featureInputAnalysis(model, tc, p.feature, { k, attnK });
    const ranked = ({ top, bottom }: Deembedding): TokenRanking => ({ top, bottom });
    const inputs: DashboardInputs = {
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
      logits: { top, bottom, histogram },
      inputs,
    };
  });
}

/**
 * Feature-detail files, as circuit-tracer's graph viewer loads them on hover or click
 * (`features/{scan}/{cantorId}.json`; circuit-tracer `frontend/feature_models.py`, reference
 * `attribution_graphs.md` section 3), built from this project's saved feature statistics
 * (`LayerFeatureStats`, `lib/dashboards`) and the transcoder:
 *
 * | field | from |
 * | ----- | ---- |
 * | `transcoder_id` | the option (default `mlp{layer}tc`, this project's name of the layer's transcoder) |
 * | `index` | `cantorId(layer, feature)`: the graph node's `feature` and the file's name |
 * | `examples_quantiles` | "Top activations" (the top examples), then one group per activation band, highest first (`bandExamples`), each example a window of tokens around its token |
 * | `top_logits`, `bottom_logits` | the tokens of the largest and smallest direct logit effects `W_dec[i] @ W_U` (`featureLogitEffects`) |
 * | `act_min`, `act_max` | 0 (the activations are >= 0) and the largest activation |
 * | `quantile_values` | the 1st, 2nd, ..., 100th percentiles of the firing activations (from the histogram; the viewer finds a node's percentile as the first value >= its activation) |
 * | `histogram` | the firing tokens per equal-width bin of `[act_min, act_max]` (the viewer's layout), spread from the statistics' log-spaced bins in proportion to log width |
 * | `activation_frequency` | the fraction of tokens where the feature fires |
 *
 * An example's `tokens_acts_list` is the feature's activation on each token of its window:
 * recomputed by `featureDetails` / `writeFeatureDetails` (one pass over the examples' rows);
 * `featureDetail` alone knows only the example's own token (`scores` can supply the others) and
 * writes 0 elsewhere. `train_token_ind` is the example's token in the window.
 * `is_repeated_datapoint` marks an example already shown in an earlier group (band examples
 * may repeat top examples).
 *
 * @module
 */
import { histogramMass, NUM_BINS } from "../dashboards/_activation_bins.ts";
import { featureColumns } from "../dashboards/feature_scores.ts";
import type { FeatureExample, LayerFeatureStats } from "../dashboards/feature_stats.ts";
import { featureLogitEffects } from "../dashboards/logit_effects.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import { cantorId } from "./graph_json.ts";

/** One example as the viewer shows it: a window of tokens and the feature's activations. */
export interface FeatureDetailExample {
  /** The feature's activation on each token of `tokens`. */
  tokens_acts_list: number[];
  /** Index in `tokens` of the example's token. */
  train_token_ind: number;
  /** Whether an earlier group already showed this token. */
  is_repeated_datapoint: boolean;
  /** The window's tokens as text. */
  tokens: string[];
}

/** A named group of examples. */
export interface FeatureDetailQuantile {
  quantile_name: string;
  examples: FeatureDetailExample[];
}

/** A feature-detail file (`features/{scan}/{index}.json`). */
export interface FeatureDetail {
  transcoder_id: string;
  /** `cantorId(layer, feature)`. */
  index: number;
  examples_quantiles: FeatureDetailQuantile[];
  top_logits: string[];
  bottom_logits: string[];
  act_min: number;
  act_max: number;
  /** The 1st .. 100th percentiles of the firing activations `[100]` (by default). */
  quantile_values: number[];
  /** Firing tokens per equal-width bin of `[act_min, act_max]`. */
  histogram: number[];
  activation_frequency: number;
}

/** Options of `featureDetail`. */
export interface FeatureDetailOptions {
  /** `transcoder_id` (default `mlp{layer}tc`). */
  transcoderId?: string;
  /** Top examples (default 10). */
  topExamples?: number;
  /** Activation bands (default 5) and examples per band (default 5). */
  numBands?: number;
  perBand?: number;
  /** Tokens shown either side of an example's token (default 16). */
  window?: number;
  /** Bins of `histogram` (default 50). */
  histogramBins?: number;
  /** Percentiles in `quantile_values` (default 100: 1%, 2%, ..., 100%). */
  quantiles?: number;
  /** The top and bottom logit tokens (`featureLogitEffects(...).top` / `.bottom`); default none. */
  logits?: { top: readonly { str: string }[]; bottom: readonly { str: string }[] };
  /**
   * The feature's activation on every token of an example's window (`[end - start]` for
   * positions `start .. end - 1` of the example's row), when known.
   */
  scores?: (example: FeatureExample, start: number, end: number) => ArrayLike<number> | undefined;
}

/**
 * The feature-detail record of one feature from layer statistics that keep their token rows
 * (see the module notes; pure: the logit tokens and the window activations come in options).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { featureDetail } from "./feature_details.ts";
 * import { LayerFeatureStats } from "../dashboards/feature_stats.ts";
 * const stats = LayerFeatureStats.empty({
 *   layer: 2, dSae: 4, seqLen: 3, topK: 2, bandSamples: 2, seed: 0, ignoreToken: -1,
 *   transcoderFingerprint: "", modelFingerprint: "",
 * });
 * stats.tokenRows = { dtype: "int32", shape: [2, 3], data: Int32Array.of(464, 3797, 3332, 464, 3290, 3332) };
 * stats.rowIndices = Int32Array.of(0, 1);
 * stats.tokens = 6;
 * stats.observe(1, 2.0, 1); // feature 1 fires on " cat" (row 0, position 1) and " dog"
 * stats.observe(1, 1.0, 4);
 * const d = featureDetail(stats, 1, { window: 1, histogramBins: 4 });
 * d.index; // 6 = cantorId(2, 1)
 * d.examples_quantiles[0].examples[0].tokens; // ["The", " cat", " sat"]
 * assert.deepEqual(d.examples_quantiles[0].examples[0].tokens_acts_list, [0, 2, 0]);
 * assert.equal(d.examples_quantiles[0].examples[0].train_token_ind, 1);
 * assert.equal(d.act_max, 2);
 * assert.equal(d.activation_frequency, 2 / 6);
 * assert.ok(Math.abs(d.histogram.reduce((a, b) => a + b) - 2) < 1e-9); // both firing tokens
 * assert.equal(d.quantile_values.length, 100);
 * ```
 */
export function featureDetail(
  stats: LayerFeatureStats,
  feature: number,
  options: FeatureDetailOptions = {},
): FeatureDetail {
  const {
    transcoderId = `mlp${stats.layer}tc`,
    topExamples = 10,
    numBands = 5,
    perBand = 5,
    window = 16,
    histogramBins = 50,
    quantiles = 100,
    logits,
    scores,
  } = options;
  checkFeatureIndex(feature, stats.dSae);
  for (const [name, v, min] of [["histogramBins", histogramBins, 1], ["quantiles", quantiles, 1]]) {
    if (!Number.isInteger(v) || (v as number) < (min as number)) {
      throw new RangeError(`featureDetail: ${name} must be an integer >= ${min}, got ${v}`);
    }
  }
  if (!stats.tokenRows) {
    throw new RangeError("featureDetail: the feature stats do not keep their token rows");
  }
  const seen = new Set<string>();
  const example = (e: FeatureExample): FeatureDetailExample => {
    const c = stats.context(e, window);
    const known = scores?.(e, c.start, c.end);
    if (known !== undefined && known.length !== c.end - c.start) {
      throw new RangeError(
        `featureDetail: ${known.length} scores for a window of ${c.end - c.start} tokens`,
      );
    }
    const acts = Array.from(
      { length: c.end - c.start },
      (_, q) => (known ? Number(known[q]) || 0 : q === c.focus ? e.value : 0),
    );
    const key = `${e.row}:${e.pos}`;
    const repeated = seen.has(key);
    return {
      tokens_acts_list: acts,
      train_token_ind: c.focus,
      is_repeated_datapoint: repeated,
      tokens: [...c.strings],
    };
  };
  const groups: FeatureDetailQuantile[] = [];
  const addGroup = (name: string, list: FeatureExample[]) => {
    const examples = list.map(example);
    for (const e of list) seen.add(`${e.row}:${e.pos}`);
    groups.push({ quantile_name: name, examples });
  };
  if (topExamples > 0) addGroup("Top activations", stats.topExamples(feature, topExamples));
  for (const b of stats.bandExamples(feature, { numBands, perBand })) {
    const pct = (100 * b.fraction).toFixed(b.fraction < 0.01 ? 2 : 1);
    addGroup(
      `Activations in (${b.low.toPrecision(3)}, ${
        b.high.toPrecision(3)
      }]: ${pct}% of firing tokens`,
      b.examples,
    );
  }
  const max = stats.maxActivation(feature);
  const hist = stats.histogram(feature).counts;
  if (hist.length !== NUM_BINS) throw new Error("featureDetail: unexpected histogram layout");
  const histogram = Array.from({ length: histogramBins }, (_, j) => {
    if (!(max > 0)) return 0;
    const lo = (max * j) / histogramBins,
      hi = j === histogramBins - 1 ? max : (max * (j + 1)) / histogramBins;
    return histogramMass(hist, 0, lo, hi, max);
  });
  const qs = Array.from({ length: quantiles }, (_, k) => (k + 1) / quantiles);
  return {
    transcoder_id: transcoderId,
    index: cantorId(stats.layer, feature),
    examples_quantiles: groups,
    top_logits: logits ? logits.top.map((t) => t.str) : [],
    bottom_logits: logits ? logits.bottom.map((t) => t.str) : [],
    act_min: 0,
    act_max: max,
    quantile_values: stats.quantiles(feature, qs),
    histogram,
    activation_frequency: stats.frequency(feature),
  };
}

/** Options of `featureDetails`. */
export interface FeatureDetailsOptions extends Omit<FeatureDetailOptions, "logits" | "scores"> {
  /** Tokens in `top_logits` and `bottom_logits` (default 10). */
  k?: number;
  /** Features whose window activations are computed in one pass (default 32). */
  featuresPerPass?: number;
  /** Rows per forward pass (default 8). */
  batchSize?: number;
}

/**
 * The feature-detail records of some features of one layer: the statistics' parts, the direct
 * logit effects, and each example window's activations recomputed with one pass over the
 * examples' rows (per `featuresPerPass` features).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { featureDetails } from "./feature_details.ts";
 * import { computeFeatureStats } from "../dashboards/feature_stats.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The Congress and the people of the State"]); // [1, 9]
 * const stats = await computeFeatureStats(model, transcoders[0]!, rows, { quiet: true });
 * const [d] = await featureDetails(model, transcoders[0]!, stats, [37], { window: 1, k: 3 });
 * const top = d.examples_quantiles[0].examples[0];
 * top.tokens; // ["The", " Congress", " and"]
 * top.tokens_acts_list; // [0, 0.48, 0]: the feature's activation on each shown token
 * assert.deepEqual(top.tokens, ["The", " Congress", " and"]);
 * assert.equal(d.top_logits.length, 3);
 * assert.equal(d.act_max, stats.maxActivation(37));
 * ```
 */
export async function featureDetails(
  model: HookedModel,
  tc: Transcoder,
  stats: LayerFeatureStats,
  features: readonly number[],
  options: FeatureDetailsOptions = {},
): Promise<FeatureDetail[]> {
  const {
    k = 10,
    featuresPerPass = 32,
    batchSize = 8,
    topExamples = 10,
    numBands = 5,
    perBand = 5,
  } = options;
  if (tc.layer !== stats.layer || tc.cfg.d_sae !== stats.dSae) {
    throw new RangeError(
      `featureDetails: the stats are of layer ${stats.layer} (d_sae ${stats.dSae}), the transcoder of layer ${tc.layer} (d_sae ${tc.cfg.d_sae})`,
    );
  }
  if (!stats.tokenRows) {
    throw new RangeError("featureDetails: the feature stats do not keep their token rows");
  }
  if (!Number.isInteger(featuresPerPass) || featuresPerPass < 1) {
    throw new RangeError(`featuresPerPass must be a positive integer, got ${featuresPerPass}`);
  }
  for (const f of features) checkFeatureIndex(f, stats.dSae);
  const seq = stats.config.seqLen;
  const out: FeatureDetail[] = [];
  for (let g0 = 0; g0 < features.length; g0 += featuresPerPass) {
    const group = features.slice(g0, g0 + featuresPerPass);
    // The local rows of every example these features show.
    const local = new Set<number>();
    for (const f of group) {
      const shown = [
        ...(topExamples > 0 ? stats.topExamples(f, topExamples) : []),
        ...stats.bandExamples(f, { numBands, perBand }).flatMap((b) => b.examples),
      ];
      for (const e of shown) local.add(stats.localRow(e.row));
    }
    const rowList = [...local].sort((a, b) => a - b);
    const slot = new Map(rowList.map((r, i) => [r, i]));
    const F = group.length;
    let cols: Float32Array = new Float32Array(0);
    if (rowList.length > 0) {
      const data = new Int32Array(rowList.length * seq);
      rowList.forEach((r, i) =>
        data.set(stats.tokenRows!.data.subarray(r * seq, (r + 1) * seq), i * seq)
      );
      cols = (await featureColumns(
        model,
        tc,
        { dtype: "int32", shape: [rowList.length, seq], data },
        group,
        { batchSize, quiet: true },
      )).data;
    }
    group.forEach((f, fi) => {
      const fx = featureLogitEffects(model, tc, f, { k, bins: 1 });
      out.push(featureDetail(stats, f, {
        ...options,
        logits: fx,
        scores: (e, start, end) => {
          const r = slot.get(stats.localRow(e.row))!;
          return Float32Array.from(
            { length: end - start },
            (_, q) => cols[(r * seq + start + q) * F + fi],
          );
        },
      }));
    });
  }
  return out;
}

/** Options of `writeFeatureDetails`. */
export interface WriteFeatureDetailsOptions extends FeatureDetailsOptions {
  /** The graph's `metadata.scan`: files go to `{dir}/features/{scan}/`. */
  scan: string;
  model: HookedModel;
  /** The transcoders, found by their layer (missing layers may be undefined). */
  transcoders: readonly (Transcoder | undefined)[];
  /** Feature statistics, found by their layer (each must keep its token rows). */
  stats: readonly (LayerFeatureStats | undefined)[];
  /** The (layer, feature) pairs to write. */
  features: readonly (readonly [number, number])[];
  /** `transcoder_id` of a layer (default `mlp{layer}tc`). */
  transcoderIdOf?: (layer: number) => string;
}

/**
 * Writes `{dir}/features/{scan}/{cantorId(layer, feature)}.json` for each (layer, feature) pair
 * (duplicates once), the files the viewer fetches for the graph's feature nodes, and returns
 * their paths in the order given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFeatureDetails } from "./feature_details.ts";
 * import { computeFeatureStats } from "../dashboards/feature_stats.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The Congress and the people of the State"]);
 * const stats = [await computeFeatureStats(model, transcoders[0]!, rows, { quiet: true })];
 * const dir = await Deno.makeTempDir();
 * try {
 *   const paths = await writeFeatureDetails(dir, { scan: "tiny", model, transcoders, stats, features: [[0, 37]] });
 *   assert.deepEqual(paths, [`${dir}/features/tiny/740.json`]); // cantorId(0, 37) = 37 * 38 / 2 + 37
 *   const d = JSON.parse(await Deno.readTextFile(paths[0]));
 *   assert.equal(d.index, 740);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function writeFeatureDetails(
  dir: string,
  options: WriteFeatureDetailsOptions,
): Promise<string[]> {
  const { scan, model, transcoders, stats, features, transcoderIdOf, ...rest } = options;
  if (!scan || /[\/\\]/.test(scan) || scan === "." || scan === "..") {
    throw new RangeError(`writeFeatureDetails: scan "${scan}" is not a usable folder name`);
  }
  const folder = `${dir}/features/${scan}`;
  await Deno.mkdir(folder, { recursive: true });
  const byLayer = new Map<number, Set<number>>();
  for (const [l, f] of features) {
    if (!byLayer.has(l)) byLayer.set(l, new Set());
    byLayer.get(l)!.add(f);
  }
  for (const [layer, set] of [...byLayer].sort((a, b) => a[0] - b[0])) {
    const tc = transcoders.find((t) => t?.layer === layer);
    const st = stats.find((s) => s?.layer === layer);
    if (!tc) throw new RangeError(`writeFeatureDetails: no transcoder of layer ${layer}`);
    if (!st) throw new RangeError(`writeFeatureDetails: no feature stats of layer ${layer}`);
    const list = [...set].sort((a, b) => a - b);
    const details = await featureDetails(model, tc, st, list, {
      ...rest,
      transcoderId: transcoderIdOf?.(layer) ?? rest.transcoderId,
    });
    for (const d of details) {
      await Deno.writeTextFile(`${folder}/${d.index}.json`, JSON.stringify(d));
    }
  }
  return features.map(([l, f]) => `${folder}/${cantorId(l, f)}.json`);
}

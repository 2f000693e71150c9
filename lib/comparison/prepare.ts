/**
 * Preparing a blind comparison of two dictionaries (transcoders or SAEs, one `Transcoder` class)
 * of one model over the same token rows:
 *
 * 1. Each dictionary's feature statistics in one streaming pass (`computeFeatureStats`, with its
 *    progress line on stderr); a dictionary given twice is computed once.
 * 2. The sample and the key (`sampling.ts`): n live features of each with at least 4 activating
 *    examples, shuffled into 2n items.
 * 3. Each sampled feature's dashboard (`buildFeatureDashboards`: top examples and activation
 *    bands, with the feature's activation on every context token), blinded (`items.ts`).
 *
 * @module
 */
import { tensorFingerprint } from "../dashboards/fingerprint.ts";
import { computeFeatureStats, type LayerFeatureStats } from "../dashboards/feature_stats.ts";
import { buildFeatureDashboards } from "../dashboards/dashboard.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Transcoder, TRANSCODER_PARAMS } from "../transcoder/transcoder.ts";
import { blindView, type ItemView } from "./items.ts";
import { type ComparisonSample, type DictionaryLabel, sampleComparison } from "./sampling.ts";
import type { DictionaryInfo } from "./session.ts";

/**
 * A fingerprint of a dictionary's weights (all five parameters), to tell whether a session was
 * made with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dictionaryFingerprint } from "./prepare.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * const a = Transcoder.random(mlpTranscoderConfig(0, { d_in: 4, d_sae: 8 }), 1);
 * const b = Transcoder.random(mlpTranscoderConfig(0, { d_in: 4, d_sae: 8 }), 2);
 * dictionaryFingerprint(a).length; // 16 hex digits
 * assert.notEqual(dictionaryFingerprint(a), dictionaryFingerprint(b));
 * ```
 */
export function dictionaryFingerprint(tc: Transcoder): string {
  return tensorFingerprint(TRANSCODER_PARAMS.map((name) => tc.params.get(name)!));
}

/**
 * What a session records of a dictionary: its source, fingerprint, kind (an SAE reads and
 * reconstructs the same hook) and hooks.
 *
 * @example
 * ```ts
 * import { dictionaryInfo } from "./prepare.ts";
 * import { loadTranscoder } from "../transcoder/load.ts";
 * const info = dictionaryInfo("tiny:2", await loadTranscoder("tiny:2"));
 * info.kind; // "transcoder"
 * info.hookName; // "blocks.2.ln2.hook_normalized"
 * ```
 */
export function dictionaryInfo(source: string, tc: Transcoder): DictionaryInfo {
  return {
    source,
    fingerprint: dictionaryFingerprint(tc),
    kind: tc.cfg.hook_name === tc.cfg.out_hook_name ? "SAE" : "transcoder",
    hookName: tc.cfg.hook_name,
    outHookName: tc.cfg.out_hook_name,
    dSae: tc.cfg.d_sae,
  };
}

/** Options of `prepareComparison`. */
export interface PrepareOptions {
  /** Features per dictionary. */
  n: number;
  seed: number;
  /** Top examples shown per feature (default 10). */
  examples?: number;
  /** Activation bands, and examples per band (default 5 and 4). */
  bands?: number;
  perBand?: number;
  /** Context tokens either side of an example (default 8). */
  window?: number;
  /** Rows per forward pass (default 8). */
  batchSize?: number;
  /** No progress on stderr (default false). */
  quiet?: boolean;
}

/** A prepared comparison: the sample (with the key) and the blinded view of each item. */
export interface PreparedComparison {
  sample: ComparisonSample;
  items: ItemView[];
  /** Tokens the statistics were computed on. */
  tokens: number;
}

/**
 * Computes both dictionaries' statistics over `rows`, samples the comparison and builds the
 * blinded items (see the module notes); a SamplingError when a dictionary has fewer than n
 * usable live features.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareComparison } from "./prepare.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The Congress and the people of the State of the Union"]);
 * const dicts = { A: transcoders[0]!, B: transcoders[1]! };
 * const { sample, items } = await prepareComparison(model, dicts, rows, { n: 2, seed: 0, quiet: true });
 * sample.key.length; // 4 items, in random order
 * assert.equal(items.length, 4);
 * assert.ok(items.every((v) => v.top.length >= 4)); // each feature fired on at least 4 tokens
 * ```
 */
export async function prepareComparison(
  model: HookedModel,
  dicts: Record<DictionaryLabel, Transcoder>,
  rows: Tensor<"int32">,
  opts: PrepareOptions,
): Promise<PreparedComparison> {
  const { examples = 10, bands = 5, perBand = 4, window = 8, batchSize = 8, quiet = false } = opts;
  const statsOf = (tc: Transcoder) => computeFeatureStats(model, tc, rows, { batchSize, quiet });
  const stats: Partial<Record<DictionaryLabel, LayerFeatureStats>> = {};
  stats.A = await statsOf(dicts.A);
  stats.B = dictionaryFingerprint(dicts.B) === dictionaryFingerprint(dicts.A)
    ? stats.A
    : await statsOf(dicts.B);
  const sample = sampleComparison(stats.A, stats.B, opts);
  const views = {} as Record<DictionaryLabel, Map<number, ItemView>>;
  for (const label of ["A", "B"] as const) {
    const features = sample[label].features;
    const cards = await buildFeatureDashboards(model, dicts[label], stats[label]!, features, {
      window,
      topExamples: examples,
      numBands: bands,
      perBand,
      batchSize,
    });
    views[label] = new Map(cards.map((d) => [d.feature, blindView(d)]));
  }
  const items = sample.key.map((k) => views[k.dictionary].get(k.feature)!);
  return { sample, items, tokens: stats.A.tokens };
}

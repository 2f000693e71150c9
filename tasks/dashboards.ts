/**
 * `deno task dashboards`: statistics of every feature of one layer's transcoder over a corpus,
 * in one streaming pass (or loaded, or merged from shards), and one self-contained static HTML
 * report of feature dashboards (`renderDashboardReport` of lib/display: each feature's section
 * is what `showDashboard` shows in a notebook): firing frequency, histogram, top examples with
 * highlighted tokens, collapsible activation bands, direct logit effects, de-embeddings and OV
 * norms.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import {
  computeFeatureStats,
  type HookedModel,
  loadModel,
  type Tensor,
  type Transcoder,
} from "../mod.ts";
import {
  buildFeatureDashboards,
  type CorpusInfo,
  type LayerFeatureStats,
  loadFeatureStats,
  mergeAllFeatureStats,
  saveFeatureStats,
} from "../lib/dashboards/mod.ts";
import { tensorFingerprint } from "../lib/dashboards/fingerprint.ts";
import { type FeatureIndexRow, renderDashboardReport } from "../lib/display/dashboard_report.ts";
import { writeFileAtomic } from "../lib/formats/safetensors.ts";
import { sliceRows } from "../lib/tensor/mod.ts";
import { BOS_TOKEN_ID } from "../lib/tokenizer/mod.ts";
import { loadTranscoders } from "../lib/transcoder/mod.ts";
import { resolveModelDir } from "../lib/weights/mod.ts";
import {
  checkLayer,
  loadCorpusRows,
  parseCorpusSource,
  parseIntList,
  PROVIDER_OPTION,
  providerOf,
} from "./cli.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

/** The command line of `deno task dashboards`. */
export const DASHBOARDS_COMMAND = {
  name: "deno task dashboards",
  usage: "--layer <L> [options]",
  summary:
    "Computes the statistics of every feature of layer L's transcoder in one pass over a corpus and writes one self-contained HTML report of feature dashboards.",
  options: {
    layer: { type: "integer", min: 0, required: true, help: "the transcoder's layer" },
    model: {
      type: "string",
      default: "tiny",
      arg: "name|dir",
      help: "tiny, gpt2-small, or a Hugging Face GPT-2 folder",
    },
    transcoders: {
      type: "string",
      arg: "dir",
      help: "folder of SAELens-style transcoder folders (default <model>/transcoders)",
    },
    corpus: {
      type: "string",
      default: "builtin",
      arg: "src",
      help: "builtin, sotu, moby-dick, or a path (.txt, .jsonl, folder)",
    },
    split: {
      type: "string",
      default: "train",
      arg: "name",
      choices: ["train", "validation"],
      help: "train or validation",
    },
    rows: { type: "integer", min: 1, help: "use the first n rows of the split (default: all)" },
    features: {
      type: "string",
      default: "live:20",
      arg: "spec",
      help:
        "features to show: a comma list (3,17,42), live:K (a sample of K live features, log10 frequency > -4: evenly spaced through the live ones in index order, so always the same K), or top:K (the K most frequent)",
    },
    out: { type: "string", arg: "file", help: "the HTML report (default reports/layer-L.html)" },
    stats: {
      type: "string",
      arg: "file",
      help: "statistics file: loaded when it exists, else computed and saved there",
    },
    shard: {
      type: "string",
      arg: "i/N",
      help:
        "compute only shard i (0-based) of N equal row ranges and save its statistics (to --stats, default reports/layer-L.shard-i-of-N.safetensors); writes a report only when --out is given",
    },
    merge: {
      type: "string",
      arg: "a,b,...",
      help: "merge statistics files of shards (saved to --stats when given), then report",
    },
    batch: { type: "integer", default: 8, min: 1, help: "rows per forward pass" },
    "top-k": { type: "integer", default: 20, min: 0, help: "top examples kept per feature" },
    "max-active": {
      type: "integer",
      default: 128,
      min: 1,
      help: "K of the in-graph top-k of active features per token",
    },
    "band-samples": {
      type: "integer",
      default: 4,
      min: 0,
      help: "band samples kept per log-spaced activation bucket",
    },
    "ignore-bos": {
      type: "boolean",
      help: "leave <|endoftext|> tokens (BOS, 50256) out of the statistics",
    },
    examples: { type: "integer", default: 10, min: 0, help: "top examples shown per feature" },
    bands: { type: "integer", default: 5, min: 1, help: "activation bands per feature" },
    window: {
      type: "integer",
      default: 8,
      min: 0,
      help: "tokens shown either side of an example",
    },
    quiet: { type: "boolean", help: "no progress on stderr" },
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

type DashboardsValues = OptionValues<typeof DASHBOARDS_COMMAND.options>;

/** Runs `deno task dashboards` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(DASHBOARDS_COMMAND, args, dashboards);
}

/** `--shard i/N`, checked. */
function parseShard(value: string | undefined): { i: number; n: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(value);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new UsageError(`--shard must be i/N with 0 <= i < N, got "${value}"`);
  }
  return { i: Number(m[1]), n: Number(m[2]) };
}

/** Which features to show: explicit ids, or the first K live / the K most frequent ones. */
type FeatureChoice = { ids: number[] } | { pick: "live" | "top"; k: number };

/** `--features`, checked against the transcoder's d_sae before any statistics pass. */
function parseFeatures(spec: string, dSae: number): FeatureChoice {
  const m = /^(live|top):(\d+)$/.exec(spec.trim());
  if (m) {
    const k = Number(m[2]);
    if (k < 1 || k > dSae) {
      throw new UsageError(
        `--features ${m[1]}:K needs 1 <= K <= ${dSae} (the transcoder's d_sae), got "${spec}"`,
      );
    }
    return { pick: m[1] as "live" | "top", k };
  }
  if (spec.includes(":")) {
    throw new UsageError(
      `--features must be a comma list of feature ids, live:K or top:K, got "${spec}"`,
    );
  }
  return { ids: parseIntList("features", spec, 0, dSae - 1) };
}

/** The features to show: the ids given, a sample of the live ones, or the most frequent. */
function pickFeatures(choice: FeatureChoice, stats: LayerFeatureStats): number[] {
  if ("ids" in choice) return choice.ids;
  if (choice.pick === "top") return Array.from(stats.mostFrequent(choice.k));
  return evenSample(stats.liveFeatures(), choice.k);
}

/**
 * `k` items evenly spaced through `items` (all of them when there are at most `k`).
 *
 * @example
 * ```ts
 * import { evenSample } from "./dashboards.ts";
 * evenSample([10, 11, 12, 13, 14, 15, 16, 17], 3); // [10, 12, 15]
 * ```
 */
export function evenSample(items: ArrayLike<number>, k: number): number[] {
  const n = items.length;
  if (n <= k) return Array.from(items);
  return Array.from({ length: k }, (_, i) => items[Math.floor((i * n) / k)]);
}

/** One row of the report's index per feature: frequency, max and its top example's token. */
function featureIndex(stats: LayerFeatureStats): FeatureIndexRow[] {
  return Array.from({ length: stats.dSae }, (_, feature) => {
    const [top] = stats.topExamples(feature, 1);
    let topToken: string | undefined;
    if (top && stats.tokenRows) {
      const c = stats.context(top, 0);
      topToken = c.strings[c.focus];
    }
    return {
      feature,
      frequency: stats.frequency(feature),
      max: stats.maxActivation(feature),
      topToken,
    };
  });
}

/** The transcoder whose statistics are wanted: its layer, width and fingerprint. */
interface StatsTarget {
  layer: number;
  tc: Transcoder;
  fingerprint: string;
}

/** Refuses statistics of another layer or another transcoder. */
function checkStats(stats: LayerFeatureStats, source: string, target: StatsTarget): void {
  const { layer, tc, fingerprint } = target;
  if (stats.layer !== layer || stats.dSae !== tc.cfg.d_sae) {
    throw new UsageError(
      `${source} holds statistics of layer ${stats.layer} (d_sae ${stats.dSae}), not of layer ${layer} (d_sae ${tc.cfg.d_sae})`,
    );
  }
  if (stats.config.transcoderFingerprint !== fingerprint) {
    throw new UsageError(
      `${source} was computed with another transcoder for layer ${layer} (fingerprint ${stats.config.transcoderFingerprint}, this one ${fingerprint}); delete it to recompute`,
    );
  }
}

/** What the statistics pass and the report need besides the options. */
interface Context {
  values: DashboardsValues;
  model: HookedModel;
  target: StatsTarget;
  shard: { i: number; n: number } | undefined;
  log: (line: string) => void;
}

async function corpusRows(
  { values, model }: Context,
): Promise<{ rows: Tensor<"int32">; info: CorpusInfo }> {
  const split = values.split as "train" | "validation";
  let rows = await loadCorpusRows({
    source: parseCorpusSource(values.corpus),
    nCtx: model.cfg.n_ctx,
    split,
    quiet: values.quiet,
  });
  if (values.rows !== undefined) rows = sliceRows(rows, 0, Math.min(rows.shape[0], values.rows));
  return {
    rows,
    info: { source: values.corpus, split, nCtx: model.cfg.n_ctx, rows: rows.shape[0] },
  };
}

/** Statistics merged from `--merge` files. */
async function mergedStats(ctx: Context, merge: string): Promise<[LayerFeatureStats, string]> {
  const { values, target, log } = ctx;
  const files = merge.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const parts: LayerFeatureStats[] = [];
  for (const f of files) {
    const s = await loadFeatureStats(f);
    checkStats(s, f, target);
    parts.push(s);
  }
  const stats = mergeAllFeatureStats(parts);
  if (values.stats) {
    await saveFeatureStats(values.stats, stats);
    log(`saved merged statistics to ${values.stats}`);
  }
  return [stats, `merged from ${files.length} files: ${files.join(", ")}`];
}

/** Statistics loaded from an existing `--stats` file. */
async function loadedStats(ctx: Context, path: string): Promise<[LayerFeatureStats, string]> {
  const { values, log } = ctx;
  const stats = await loadFeatureStats(path);
  checkStats(stats, path, ctx.target);
  log(`reusing statistics from ${path} (${stats.tokens} tokens)`);
  const c = stats.corpus ?? {};
  const asked = { source: values.corpus, split: values.split, rows: values.rows ?? c.rows };
  if (c.source !== asked.source || c.split !== asked.split || c.rows !== asked.rows) {
    console.error(
      `note: ${path} was computed on ${
        JSON.stringify(c)
      }; --corpus/--split/--rows are ignored (delete the file to recompute)`,
    );
  }
  return [stats, `statistics loaded from ${path}`];
}

/** Statistics computed in one pass over the corpus (or one shard of it), saved when asked. */
async function computedStats(ctx: Context): Promise<[LayerFeatureStats, string]> {
  const { values, model, target: { layer, tc }, shard, log } = ctx;
  const { rows, info } = await corpusRows(ctx);
  let sub = rows, rowOffset = 0;
  if (shard) {
    const n = rows.shape[0];
    const start = Math.floor((shard.i * n) / shard.n),
      end = Math.floor(((shard.i + 1) * n) / shard.n);
    if (end <= start) throw new UsageError(`shard ${shard.i}/${shard.n} of ${n} rows is empty`);
    sub = sliceRows(rows, start, end);
    rowOffset = start;
    info.shard = `${shard.i}/${shard.n}`;
  }
  const t = performance.now();
  const stats = await computeFeatureStats(model, tc, sub, {
    batchSize: values.batch,
    topK: values["top-k"],
    maxActive: values["max-active"],
    bandSamples: values["band-samples"],
    ignoreToken: values["ignore-bos"] ? BOS_TOKEN_ID : -1,
    quiet: values.quiet,
    rowOffset,
    corpus: info,
  });
  const secs = (performance.now() - t) / 1000;
  const note = `statistics computed in ${secs.toFixed(1)} s (${
    Math.round(stats.tokens / secs)
  } tokens/s, all ${tc.cfg.d_sae} features in one pass)`;
  const path = values.stats ??
    (shard ? `reports/layer-${layer}.shard-${shard.i}-of-${shard.n}.safetensors` : undefined);
  if (path) {
    await Deno.mkdir(dirname(path), { recursive: true });
    await saveFeatureStats(path, stats);
    log(`saved statistics to ${path}`);
  }
  return [stats, note];
}

async function dashboards(values: DashboardsValues): Promise<void> {
  const shard = parseShard(values.shard);
  if (shard && values.merge) throw new UsageError("--shard and --merge cannot be combined");
  const log = (s: string) => {
    if (!values.quiet) console.error(s);
  };

  const t0 = performance.now();
  const modelDir = await resolveModelDir(values.model);
  const model = await loadModel(modelDir, { provider: providerOf(values.provider) });
  const layer = checkLayer(values.layer, model.cfg.n_layers);
  const tcDir = values.transcoders ?? join(modelDir, "transcoders");
  const set = await loadTranscoders(tcDir, { runtime: model.runtime });
  const tc = set.find((t) => t.layer === layer);
  if (!tc) {
    throw new UsageError(
      `no transcoder for layer ${layer} in ${tcDir} (layers found: ${
        set.map((t) => t.layer).join(", ")
      })`,
    );
  }
  const features = parseFeatures(values.features, tc.cfg.d_sae);
  const target = { layer, tc, fingerprint: tensorFingerprint([tc.W_enc, tc.b_enc, tc.b_dec]) };
  const ctx: Context = { values, model, target, shard, log };

  const [stats, statsNote] = values.merge
    ? await mergedStats(ctx, values.merge)
    : values.stats && !shard && existsSync(values.stats)
    ? await loadedStats(ctx, values.stats)
    : await computedStats(ctx);

  if (shard && values.out === undefined) {
    console.log(
      `layer ${layer} shard ${shard.i}/${shard.n}: ${stats.tokens} tokens, ${stats.liveFeatures().length} live features`,
    );
    return;
  }

  const cards = await buildFeatureDashboards(model, tc, stats, pickFeatures(features, stats), {
    window: values.window,
    topExamples: values.examples,
    numBands: values.bands,
    batchSize: values.batch,
    quiet: values.quiet,
  });
  const out = values.out ?? `reports/layer-${layer}.html`;
  const html = renderDashboardReport({
    title: `Feature dashboards: layer ${layer} transcoder`,
    layer,
    dSae: stats.dSae,
    tokens: stats.tokens,
    rows: stats.rowIndices.length,
    meanL0: stats.meanL0,
    liveFeatures: stats.liveFeatures().length,
    maxActive: stats.maxActive,
    maxActiveUsed: stats.maxActiveUsed,
    overflowTokens: stats.overflowTokens,
    droppedActivations: stats.droppedActivations,
    corpus: stats.corpus,
    notes: [`model ${values.model}, transcoder ${tc.source}`, statsNote],
    index: featureIndex(stats),
  }, cards);
  await Deno.mkdir(dirname(out), { recursive: true });
  await writeFileAtomic(out, new TextEncoder().encode(html));
  console.log(
    `wrote ${out}: ${cards.length} features of layer ${layer} (${stats.tokens} tokens, ${stats.liveFeatures().length} live features) in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * `deno task dashboards`: statistics of every feature of one layer's transcoder over a corpus,
 * in one streaming pass (or loaded, or merged from shards), and one self-contained static HTML
 * report of feature dashboards: firing frequency, histogram, top examples with highlighted
 * tokens, collapsible activation bands, direct logit effects, de-embeddings and OV norms.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import {
  BOS_TOKEN_ID,
  buildFeatureDashboards,
  computeFeatureStats,
  type CorpusInfo,
  type LayerFeatureStats,
  loadFeatureStats,
  loadModel,
  loadPackedCorpus,
  loadTranscoderSet,
  mergeAllFeatureStats,
  saveFeatureStats,
  sliceRows,
  type Tensor,
  tensorFingerprint,
  writeFileAtomic,
} from "../mod.ts";
import { parseCorpusSource, parseIntOption, usageError } from "./cli.ts";
import { renderDashboardReport } from "./dashboards_html.ts";

const HELP = `Usage: deno task dashboards --layer <L> [options]

Computes the statistics of every feature of layer L's transcoder in one pass over a corpus and
writes one self-contained HTML report of feature dashboards.

  --layer <n>            the transcoder's layer (required)
  --model <dir>          Hugging Face GPT-2 folder (default weights/tiny)
  --transcoders <dir>    folder of SAELens-style transcoder folders (default <model>/transcoders)
  --corpus <src>         builtin (default), sotu, moby-dick, or a path (.txt, .jsonl, folder)
  --split <name>         train (default) or validation
  --rows <n>             use the first n rows of the split (default: all)
  --features <spec>      features to show: a comma list (3,17,42), live:K (the first K live
                         features, log10 frequency > -4), or top:K (the K most frequent);
                         default live:20
  --out <file>           the HTML report (default reports/layer-L.html)
  --stats <file>         statistics file: loaded when it exists, else computed and saved there
  --shard <i/N>          compute only shard i (0-based) of N equal row ranges and save its
                         statistics (to --stats, default reports/layer-L.shard-i-of-N.safetensors);
                         writes a report only when --out is given
  --merge <a,b,...>      merge statistics files of shards (saved to --stats when given), then report
  --batch <n>            rows per forward pass (default 8)
  --top-k <n>            top examples kept per feature (default 20)
  --max-active <n>       K of the in-graph top-k of active features per token (default 128)
  --band-samples <n>     band samples kept per log-spaced activation bucket (default 4)
  --ignore-bos           leave <|endoftext|> tokens (BOS, 50256) out of the statistics
  --examples <n>         top examples shown per feature (default 10)
  --bands <n>            activation bands per feature (default 5)
  --window <n>           tokens shown either side of an example (default 8)
  --quiet                no progress on stderr
  --help                 show this help
`;

const { values } = parseArgs({
  options: {
    layer: { type: "string" },
    model: { type: "string", default: "weights/tiny" },
    transcoders: { type: "string" },
    corpus: { type: "string", default: "builtin" },
    split: { type: "string", default: "train" },
    rows: { type: "string" },
    features: { type: "string", default: "live:20" },
    out: { type: "string" },
    stats: { type: "string" },
    shard: { type: "string" },
    merge: { type: "string" },
    batch: { type: "string", default: "8" },
    "top-k": { type: "string", default: "20" },
    "max-active": { type: "string", default: "128" },
    "band-samples": { type: "string", default: "4" },
    "ignore-bos": { type: "boolean", default: false },
    examples: { type: "string", default: "10" },
    bands: { type: "string", default: "5" },
    window: { type: "string", default: "8" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
if (values.layer === undefined) usageError("--layer is required");
const layer = parseIntOption("layer", values.layer, 0);
if (values.split !== "train" && values.split !== "validation") {
  usageError(`--split must be train or validation, got "${values.split}"`);
}
const split = values.split as "train" | "validation";
let shard: { i: number; n: number } | undefined;
if (values.shard !== undefined) {
  const m = /^(\d+)\/(\d+)$/.exec(values.shard);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    usageError(`--shard must be i/N with 0 <= i < N, got "${values.shard}"`);
  }
  shard = { i: Number(m[1]), n: Number(m[2]) };
}
if (shard && values.merge) usageError("--shard and --merge cannot be combined");
const quiet = values.quiet;
const log = (s: string) => {
  if (!quiet) console.error(s);
};

const t0 = performance.now();
const model = await loadModel(values.model);
if (layer >= model.cfg.n_layers) {
  usageError(`--layer ${layer} out of range: the model has layers 0..${model.cfg.n_layers - 1}`);
}
const tcDir = values.transcoders ?? join(values.model, "transcoders");
const set = await loadTranscoderSet(tcDir);
const found = set.find((s) => s.transcoder.layer === layer);
if (!found) {
  console.error(
    `error: no transcoder for layer ${layer} in ${tcDir} (layers found: ${
      set.map((s) => s.transcoder.layer).join(", ")
    })`,
  );
  Deno.exit(1);
}
const tc = found.transcoder;
const fingerprint = tensorFingerprint([tc.W_enc, tc.b_enc, tc.b_dec]);

function checkStats(stats: LayerFeatureStats, source: string): void {
  if (stats.layer !== layer || stats.dSae !== tc.cfg.d_sae) {
    console.error(
      `error: ${source} holds statistics of layer ${stats.layer} (d_sae ${stats.dSae}), not of layer ${layer} (d_sae ${tc.cfg.d_sae})`,
    );
    Deno.exit(1);
  }
  if (stats.config.transcoderFingerprint !== fingerprint) {
    console.error(
      `error: ${source} was computed with another transcoder for layer ${layer} (fingerprint ${stats.config.transcoderFingerprint}, this one ${fingerprint}); delete it to recompute`,
    );
    Deno.exit(1);
  }
}

async function corpusRows(): Promise<{ rows: Tensor<"int32">; info: CorpusInfo }> {
  let rows = await loadPackedCorpus({
    source: parseCorpusSource(values.corpus),
    nCtx: model.cfg.n_ctx,
    split,
    quiet,
  });
  if (values.rows !== undefined) {
    rows = sliceRows(rows, 0, Math.min(rows.shape[0], parseIntOption("rows", values.rows, 1)));
  }
  return {
    rows,
    info: { source: values.corpus, split, nCtx: model.cfg.n_ctx, rows: rows.shape[0] },
  };
}

const statsOptions = {
  batchSize: parseIntOption("batch", values.batch, 1),
  topK: parseIntOption("top-k", values["top-k"], 0),
  maxActive: parseIntOption("max-active", values["max-active"], 1),
  bandSamples: parseIntOption("band-samples", values["band-samples"], 0),
  ignoreToken: values["ignore-bos"] ? BOS_TOKEN_ID : -1,
  quiet,
};

let stats: LayerFeatureStats;
let statsNote: string;
if (values.merge) {
  const files = values.merge.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const parts: LayerFeatureStats[] = [];
  for (const f of files) {
    const s = await loadFeatureStats(f);
    checkStats(s, f);
    parts.push(s);
  }
  stats = mergeAllFeatureStats(parts);
  statsNote = `merged from ${files.length} files: ${files.join(", ")}`;
  if (values.stats) {
    await saveFeatureStats(values.stats, stats);
    log(`saved merged statistics to ${values.stats}`);
  }
} else if (values.stats && !shard && existsSync(values.stats)) {
  stats = await loadFeatureStats(values.stats);
  checkStats(stats, values.stats);
  statsNote = `statistics loaded from ${values.stats}`;
  log(`reusing statistics from ${values.stats} (${stats.tokens} tokens)`);
  const c = stats.corpus ?? {};
  const asked = { source: values.corpus, split, rows: values.rows ? Number(values.rows) : c.rows };
  if (c.source !== asked.source || c.split !== asked.split || c.rows !== asked.rows) {
    console.error(
      `note: ${values.stats} was computed on ${
        JSON.stringify(c)
      }; --corpus/--split/--rows are ignored (delete the file to recompute)`,
    );
  }
} else {
  const { rows, info } = await corpusRows();
  let sub = rows, rowOffset = 0;
  if (shard) {
    const n = rows.shape[0];
    const start = Math.floor((shard.i * n) / shard.n),
      end = Math.floor(((shard.i + 1) * n) / shard.n);
    if (end <= start) usageError(`shard ${shard.i}/${shard.n} of ${n} rows is empty`);
    sub = sliceRows(rows, start, end);
    rowOffset = start;
    info.shard = `${shard.i}/${shard.n}`;
  }
  const t = performance.now();
  stats = await computeFeatureStats(model, tc, sub, { ...statsOptions, rowOffset, corpus: info });
  const secs = (performance.now() - t) / 1000;
  statsNote = `statistics computed in ${secs.toFixed(1)} s (${
    Math.round(stats.tokens / secs)
  } tokens/s, all ${tc.cfg.d_sae} features in one pass)`;
  const path = values.stats ??
    (shard ? `reports/layer-${layer}.shard-${shard.i}-of-${shard.n}.safetensors` : undefined);
  if (path) {
    await Deno.mkdir(dirname(path), { recursive: true });
    await saveFeatureStats(path, stats);
    log(`saved statistics to ${path}`);
  }
}

if (shard && values.out === undefined) {
  console.log(
    `layer ${layer} shard ${shard.i}/${shard.n}: ${stats.tokens} tokens, ${stats.liveFeatures().length} live features`,
  );
  Deno.exit(0);
}

function pickFeatures(spec: string): number[] {
  const m = /^(live|top):(\d+)$/.exec(spec.trim());
  if (m) {
    const k = Number(m[2]);
    return Array.from(m[1] === "live" ? stats.liveFeatures().slice(0, k) : stats.mostFrequent(k));
  }
  return spec.split(",").map((s) => parseIntOption("features", s.trim(), 0, stats.dSae - 1));
}
const features = pickFeatures(values.features);
const dashboards = await buildFeatureDashboards(model, tc, stats, features, {
  window: parseIntOption("window", values.window, 0),
  topExamples: parseIntOption("examples", values.examples, 0),
  numBands: parseIntOption("bands", values.bands, 1),
  batchSize: statsOptions.batchSize,
  quiet,
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
  notes: [`model ${values.model}, transcoder ${found.path}`, statsNote],
}, dashboards);
await Deno.mkdir(dirname(out), { recursive: true });
await writeFileAtomic(out, new TextEncoder().encode(html));
console.log(
  `wrote ${out}: ${dashboards.length} features of layer ${layer} (${stats.tokens} tokens, ${stats.liveFeatures().length} live features) in ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s`,
);

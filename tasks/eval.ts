/**
 * `deno task eval`: evaluates a model's transcoders on the validation split: L0, normalised MSE,
 * explained variance of the MLP output, CE loss clean / replaced / zero-ablated, CE score, KL,
 * dead and live features; optionally writes each transcoder's feature-frequency sidecar.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  evaluateTranscoders,
  loadModel,
  loadPackedCorpus,
  loadTranscoderSet,
  resolveModelDir,
  sliceRows,
  writeSafetensors,
} from "../mod.ts";
import { fmt, printTable } from "./bench_util.ts";
import { parseCorpusSource, parseIntOption } from "./cli.ts";

const HELP = `Usage: deno task eval [options]

  --model <name|dir>     tiny (default), gpt2-small, or a Hugging Face GPT-2 folder
  --n-ctx <n>            tokens per row (default: min(128, the model's n_ctx), as the reference)
  --transcoders <dir>    folder of SAELens-style transcoder folders (default <model>/transcoders)
  --layers <list>        comma-separated layers to evaluate (default: all found)
  --corpus <src>         builtin (default), sotu, moby-dick, or a path
  --rows <n>             validation rows to use (default: all)
  --batch <n>            sequences per forward pass (default 16)
  --write-sparsity       write sparsity.safetensors (log10 feature frequencies) into each folder
  --json <file>          also write the results as JSON
  --help                 show this help
`;
const { values } = parseArgs({
  options: {
    model: { type: "string", default: "tiny" },
    "n-ctx": { type: "string" },
    transcoders: { type: "string" },
    layers: { type: "string" },
    corpus: { type: "string", default: "builtin" },
    rows: { type: "string" },
    batch: { type: "string", default: "16" },
    "write-sparsity": { type: "boolean", default: false },
    json: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const modelDir = resolveModelDir(values.model);
const model = await loadModel(modelDir);
const dir = values.transcoders ?? join(modelDir, "transcoders");
const nCtx = values["n-ctx"]
  ? parseIntOption("n-ctx", values["n-ctx"], 2, model.cfg.n_ctx)
  : Math.min(128, model.cfg.n_ctx);
let set = await loadTranscoderSet(dir);
if (values.layers) {
  const want = values.layers.split(",").map((x) =>
    parseIntOption("layers", x.trim(), 0, model.cfg.n_layers - 1)
  );
  set = set.filter((s) => want.includes(s.transcoder.layer));
  const missing = want.filter((l) => !set.some((s) => s.transcoder.layer === l));
  if (missing.length) {
    throw new RangeError(`no transcoder for layer(s) ${missing.join(", ")} in ${dir}`);
  }
}
let rows = await loadPackedCorpus({
  source: parseCorpusSource(values.corpus),
  nCtx,
  split: "validation",
});
if (values.rows) {
  rows = sliceRows(rows, 0, Math.min(rows.shape[0], parseIntOption("rows", values.rows, 1)));
}
const transcoders = set.map((s) => s.transcoder);
const res = await evaluateTranscoders(model, transcoders, rows, {
  batchSize: parseIntOption("batch", values.batch, 1),
});
console.log(`\n${res.tokens} validation tokens; CE clean ${fmt(res.all.ceClean, 4)} nats\n`);
printTable(
  [
    "layer",
    "d_sae",
    "L0",
    "NMSE",
    "expl. var.",
    "CE replaced",
    "CE zero-abl.",
    "CE score",
    "KL",
    "dead",
    "live",
  ],
  res.perLayer.map((r, i) => [
    r.layer,
    transcoders[i].cfg.d_sae,
    fmt(r.l0),
    fmt(r.nmse),
    fmt(r.explainedVariance),
    fmt(r.ceReplaced, 4),
    fmt(r.ceZeroAblated, 4),
    fmt(r.ceScore),
    fmt(r.kl),
    r.deadFeatures,
    r.liveFeatures,
  ]),
);
const a = res.all;
console.log(
  `\nAll of layers ${a.layers.join(", ")} replaced: CE ${fmt(a.ceReplaced, 4)} (zero-ablated ${
    fmt(a.ceZeroAblated, 4)
  }), ` +
    `CE score ${fmt(a.ceScore)}, KL ${fmt(a.kl)}`,
);
if (values["write-sparsity"]) {
  for (const [i, s] of set.entries()) {
    await writeSafetensors(join(s.path, "sparsity.safetensors"), {
      sparsity: {
        dtype: "float32",
        shape: [res.perLayer[i].logFrequencies.length],
        data: res.perLayer[i].logFrequencies,
      },
    });
  }
  console.log(`wrote sparsity.safetensors into each transcoder folder of ${dir}`);
}
if (values.json) {
  const plain = { ...res, perLayer: res.perLayer.map(({ logFrequencies: _, ...r }) => r) };
  await Deno.writeTextFile(values.json, JSON.stringify(plain, null, 2) + "\n");
}

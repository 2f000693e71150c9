/**
 * `deno task eval`: evaluates a model's transcoders on the validation split: L0, normalised MSE,
 * explained variance of the MLP output, CE loss clean / replaced / zero-ablated, CE score, KL,
 * dead and live features; optionally writes each transcoder's feature-frequency sidecar.
 *
 * @module
 */
import { join } from "node:path";
import { evaluateTranscoders, loadModel } from "../mod.ts";
import { writeSafetensors } from "../lib/formats/mod.ts";
import { sliceRows } from "../lib/tensor/mod.ts";
import { loadTranscoders } from "../lib/transcoder/mod.ts";
import { resolveModelDir } from "../lib/weights/mod.ts";
import { fmt, printTable } from "./bench_util.ts";
import {
  loadCorpusRows,
  parseCorpusSource,
  parseIntList,
  PROVIDER_OPTION,
  providerOf,
} from "./cli.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

/** The command line of `deno task eval`. */
export const EVAL_COMMAND = {
  name: "deno task eval",
  summary:
    "Evaluates a model's transcoders on the validation split of a corpus: L0, normalised MSE, explained variance, CE loss clean / replaced / zero-ablated, CE score, KL, dead and live features.",
  options: {
    model: {
      type: "string",
      default: "tiny",
      arg: "name|dir",
      help: "tiny, gpt2-small, or a Hugging Face GPT-2 folder",
    },
    "n-ctx": {
      type: "integer",
      min: 2,
      help: "tokens per row (default: min(128, the model's n_ctx), as the reference)",
    },
    transcoders: {
      type: "string",
      arg: "dir",
      help: "folder of SAELens-style transcoder folders (default <model>/transcoders)",
    },
    layers: {
      type: "string",
      arg: "list",
      help: "comma-separated layers to evaluate (default: all found)",
    },
    corpus: {
      type: "string",
      default: "builtin",
      arg: "src",
      help: "builtin, sotu, moby-dick, or a path",
    },
    rows: { type: "integer", min: 1, help: "validation rows to use (default: all)" },
    batch: { type: "integer", default: 16, min: 1, help: "sequences per forward pass" },
    "write-sparsity": {
      type: "boolean",
      help: "write sparsity.safetensors (log10 feature frequencies) into each folder",
    },
    json: { type: "string", arg: "file", help: "also write the results as JSON" },
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

/** Runs `deno task eval` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(EVAL_COMMAND, args, evaluate);
}

async function evaluate(values: OptionValues<typeof EVAL_COMMAND.options>): Promise<void> {
  const modelDir = await resolveModelDir(values.model);
  const model = await loadModel(modelDir, { provider: providerOf(values.provider) });
  const dir = values.transcoders ?? join(modelDir, "transcoders");
  const nCtx = values["n-ctx"] ?? Math.min(128, model.cfg.n_ctx);
  if (nCtx > model.cfg.n_ctx) {
    throw new UsageError(
      `--n-ctx ${nCtx} exceeds the model's context of ${model.cfg.n_ctx} tokens`,
    );
  }
  let transcoders = await loadTranscoders(dir, { runtime: model.runtime });
  if (values.layers) {
    const want = parseIntList("layers", values.layers, 0, model.cfg.n_layers - 1);
    transcoders = transcoders.filter((t) => want.includes(t.layer));
    const missing = want.filter((l) => !transcoders.some((t) => t.layer === l));
    if (missing.length) {
      throw new UsageError(`no transcoder for layer(s) ${missing.join(", ")} in ${dir}`);
    }
  }
  let rows = await loadCorpusRows({
    source: parseCorpusSource(values.corpus),
    nCtx,
    split: "validation",
  });
  if (values.rows) rows = sliceRows(rows, 0, Math.min(rows.shape[0], values.rows));
  const res = await evaluateTranscoders(model, transcoders, rows, {
    batchSize: values.batch,
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
    for (const [i, t] of transcoders.entries()) {
      await writeSafetensors(join(t.source!, "sparsity.safetensors"), {
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
}

if (import.meta.main) Deno.exit(await main(Deno.args));

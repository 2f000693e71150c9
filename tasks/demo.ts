/**
 * `deno task demo`: runs a model on a prompt, prints the most likely next tokens and a table of
 * every hook's name and shape. Uses the embedded model in weights/tiny when present, otherwise a
 * deterministic random-weight GPT-2-shaped model.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type HookedModel, loadPretrained, type Transcoder } from "../mod.ts";
import { gpt2Config, modelFromStateDict, randomStateDict } from "../lib/model/mod.ts";
import { topk } from "../lib/tensor/mod.ts";
import { embeddedWeightsDir } from "../lib/weights/mod.ts";
import { PROVIDER_OPTION, providerOf } from "./cli.ts";
import { type CommandSpec, type OptionValues, runCommand } from "./command.ts";

/** The command line of `deno task demo`. */
export const DEMO_COMMAND = {
  name: "deno task demo",
  summary:
    "Runs a model on a prompt: the most likely next tokens, every hook's name and shape, and the transcoder features active on the last token.",
  options: {
    model: {
      type: "string",
      arg: "name|dir",
      help:
        "tiny (the embedded default), gpt2-small (after deno task setup), random, or a Hugging Face GPT-2 folder (default: tiny if present, else random)",
    },
    prompt: {
      type: "string",
      arg: "text",
      default: "The United States of America",
      help: "the prompt",
    },
    top: { type: "integer", arg: "k", default: 10, min: 1, help: "how many next tokens to print" },
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

/** Runs `deno task demo` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(DEMO_COMMAND, args, demo);
}

async function demo(values: OptionValues<typeof DEMO_COMMAND.options>): Promise<void> {
  const provider = providerOf(values.provider);
  const k = values.top;
  const choice = values.model ??
    (existsSync(join(await embeddedWeightsDir(), "tiny", "config.json")) ? "tiny" : "random");
  let model: HookedModel;
  let transcoders: (Transcoder | undefined)[] = [];
  if (choice === "random") {
    const cfg = gpt2Config({ n_layers: 2, d_model: 64, n_heads: 4, n_ctx: 128 });
    model = modelFromStateDict(cfg, randomStateDict(cfg, 0), { provider });
    console.log("Model: deterministic random weights (seed 0): the next tokens are noise.");
  } else {
    const loaded = await loadPretrained(choice, { provider });
    model = loaded.model;
    transcoders = loaded.transcoders;
    console.log(`Model: ${choice} (${loaded.dir})`);
  }
  const c = model.cfg;
  console.log(
    `  n_layers ${c.n_layers}, d_model ${c.d_model}, n_heads ${c.n_heads}, d_mlp ${c.d_mlp}, d_vocab ${c.d_vocab}, n_ctx ${c.n_ctx}`,
  );

  const tokens = model.toTokens(values.prompt);
  console.log(`\nPrompt: ${JSON.stringify(values.prompt)} -> ${tokens.shape[1]} tokens`);
  console.log(`  ${model.toStrTokens(tokens).map((s) => JSON.stringify(s)).join(" ")}`);

  const t0 = performance.now();
  const { logits, cache } = await model.runWithCache(tokens);
  const ms = performance.now() - t0;
  const V = c.d_vocab, p = tokens.shape[1];
  const last = (logits!.data as Float32Array).subarray((p - 1) * V, p * V);
  let max = -Infinity;
  for (const x of last) max = Math.max(max, x);
  let z = 0;
  for (const x of last) z += Math.exp(x - max);
  console.log(`\nTop ${k} next tokens:`);
  for (const { index, value } of topk(last, k)) {
    const prob = Math.exp(value - max) / z;
    console.log(
      `  ${(100 * prob).toPrecision(3).padStart(8)}%  ${JSON.stringify(model.toString([index]))}`,
    );
  }

  console.log(`\n${cache.size} hooks (forward pass with all hooks cached: ${ms.toFixed(0)} ms):`);
  const width = Math.max(...[...cache.keys()].map((n) => n.length));
  for (const [name, t] of cache) console.log(`  ${name.padEnd(width)}  [${t.shape.join(", ")}]`);

  const withTc = transcoders.filter((t) => t !== undefined) as Transcoder[];
  if (withTc.length > 0) {
    console.log(
      `\nTranscoder features active on the last token ${
        JSON.stringify(model.toStrTokens(tokens).at(-1))
      }:`,
    );
    const ln2 = await model.runWithCache(tokens, {
      names: withTc.map((t) => `blocks.${t.layer}.ln2.hook_normalized`),
      returnLogits: false,
    });
    for (const tc of withTc) {
      const x = ln2.cache.get(`blocks.${tc.layer}.ln2.hook_normalized`);
      const d = x.shape[2];
      const [row] = await tc.encodeSparse({
        dtype: "float32",
        shape: [1, d],
        data: x.data.subarray((p - 1) * d, p * d),
      });
      const top = topk(row.values, 5).map(({ index, value }) =>
        `${row.indices[index]} (${value.toFixed(2)})`
      );
      console.log(`  layer ${tc.layer}: L0 ${row.indices.length}; strongest ${top.join(", ")}`);
    }
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * `train-transcoder` and `eval` end to end as subprocesses of the real CLIs, in a temporary
 * directory, on a tiny random model written as a Hugging Face folder and a tiny user corpus:
 * training writes a SAELens-style folder and a checkpoint that a run with other options refuses;
 * evaluation prints the per-layer table and writes the feature-frequency sidecar; `--help` and
 * bad options.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gpt2Config } from "../../lib/model/config.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { exportHfFolder } from "../../lib/train/lm_training.ts";
import { loadTranscoder } from "../../lib/transcoder/load.ts";

const task = (name: string) => fileURLToPath(new URL(`../../tasks/${name}.ts`, import.meta.url));

async function run(cwd: string, script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", task(script), ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const words =
  "the ship sailed north along the rocky coast while the people chose their representatives and the children played in the park"
    .split(" ");

Deno.test("train-transcoder writes a folder and refuses another configuration's checkpoint; eval measures it and writes its sidecar", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 2, n_ctx: 16 });
  const sd = randomStateDict(cfg, 4, 0.2);
  sd.delete("unembed.W_U");
  sd.delete("unembed.b_U");
  await exportHfFolder(join(dir, "model"), cfg, sd, { floatDtype: "F32" });
  const docs = Array.from(
    { length: 30 },
    (_, i) => Array.from({ length: 60 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" "),
  );
  await Deno.writeTextFile(join(dir, "corpus.txt"), docs.join("\n\n<|endoftext|>\n\n"));
  const common = [
    "--layer",
    "1",
    "--model",
    join(dir, "model"),
    "--corpus",
    join(dir, "corpus.txt"),
    "--d-sae",
    "32",
    "--batch",
    "64",
    "--store-batch",
    "4",
    "--buffer-batches",
    "4",
    "--warmup",
    "2",
    "--lr",
    "1e-2",
    "--threads",
    "1",
    "--out",
    join(dir, "run"),
  ];
  const first = await run(dir, "train_transcoder", [
    ...common,
    "--tokens",
    "256",
    "--export",
    join(dir, "model", "transcoders", "layer_1"),
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /wrote .*layer_1/);
  const tc = await loadTranscoder(join(dir, "model", "transcoders", "layer_1"));
  assert.equal(tc.cfg.hook_name, "blocks.1.ln2.hook_normalized");
  assert.equal(tc.cfg.d_sae, 32);
  assert.equal(tc.logSparsity, undefined);
  // A longer run with the same options except --tokens is another configuration: refused.
  const other = await run(dir, "train_transcoder", [...common, "--tokens", "512"]);
  assert.notEqual(other.code, 0);
  assert.match(
    other.stderr + other.stdout,
    /is from another configuration: totalTokens is 512 here but 256 in the checkpoint/,
  );
  const evaluated = await run(dir, "eval", [
    "--model",
    join(dir, "model"),
    "--corpus",
    join(dir, "corpus.txt"),
    "--batch",
    "4",
    "--write-sparsity",
    "--json",
    join(dir, "eval.json"),
  ]);
  assert.equal(evaluated.code, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /CE clean [\d.]+ nats/);
  assert.match(evaluated.stdout, /^\| 1 +\| 32 +\|/m);
  assert.match(
    evaluated.stdout,
    /All of layers 1 replaced: CE [\d.]+ \(zero-ablated [\d.]+\), CE score [-\d.]+, KL [\d.]+/,
  );
  const withSparsity = await loadTranscoder(`${join(dir, "model")}:1`); // the model's layer 1
  assert.equal(withSparsity.logSparsity!.shape[0], 32);
  const json = JSON.parse(await Deno.readTextFile(join(dir, "eval.json")));
  assert.equal(json.perLayer[0].layer, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train-transcoder and eval print their help and refuse bad options", async () => {
  const dir = await Deno.makeTempDir();
  for (const script of ["train_transcoder", "eval"]) {
    const help = await run(dir, script, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: deno task /);
  }
  const noLayer = await run(dir, "train_transcoder", []);
  assert.equal(noLayer.code, 2);
  assert.match(noLayer.stderr, /error: --layer is required/);
  await Deno.remove(dir, { recursive: true });
});

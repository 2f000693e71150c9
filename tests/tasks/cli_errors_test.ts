/**
 * Every task's command line, run in-process through its exported `main`: `--help` prints the
 * usage and returns 0, and each user mistake (an unknown flag, a bad value, a missing required
 * option, a model name typo, a missing or empty corpus, a feature list that does not fit, a
 * prompt longer than the context, an unavailable provider) returns 2 with exactly one
 * `error: ` line on stderr and no stack trace, before any long work.
 */
import assert from "node:assert/strict";
import { type CapturedRun, runCaptured } from "../helpers/captured.ts";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { downloadsDir } from "../../lib/weights/locations.ts";
import { mlpTranscoderConfig, saveTranscoderFolder, Transcoder } from "../../lib/transcoder/mod.ts";
import { main as bench } from "../../tasks/bench.ts";
import { main as compareInterp, startCompareInterp } from "../../tasks/compare_interp.ts";
import { main as dashboards } from "../../tasks/dashboards.ts";
import { main as demo } from "../../tasks/demo.ts";
import { main as evaluate } from "../../tasks/eval.ts";
import { main as fuzz } from "../../tasks/fuzz.ts";
import { main as graph } from "../../tasks/graph.ts";
import { main as setup } from "../../tasks/setup.ts";
import { main as sweep } from "../../tasks/sweep.ts";
import { main as trainModel } from "../../tasks/train_model.ts";
import { main as trainTranscoder } from "../../tasks/train_transcoder.ts";

type Main = (args: readonly string[]) => Promise<number>;

/** Each task by its `deno task` name. */
const TASKS: Record<string, Main> = {
  demo,
  bench,
  dashboards,
  setup,
  "train-model": trainModel,
  "train-transcoder": trainTranscoder,
  eval: evaluate,
  fuzz,
  graph,
  "compare-interp": compareInterp,
  sweep,
};

type Run = CapturedRun;
const run = runCaptured;

/** Status 2, one `error: ` line on stderr (matching `message`), no stack trace. */
function assertUserError(r: Run, what: string, message?: RegExp): void {
  const detail = `${what}\n--- stdout\n${r.stdout.join("\n")}\n--- stderr\n${r.stderr.join("\n")}`;
  assert.equal(r.status, 2, detail);
  assert.equal(r.stderr.length, 1, detail);
  assert.match(r.stderr[0], /^error: /, detail);
  assert.ok(![...r.stdout, ...r.stderr].some((l) => /^\s+at /.test(l)), detail);
  if (message) assert.match(r.stderr[0], message, detail);
}

/** Runs each case of a task and checks it is refused as a user error. */
async function assertRefused(
  name: string,
  cases: [args: string[], message: RegExp][],
): Promise<void> {
  for (const [args, message] of cases) {
    assertUserError(await run(TASKS[name], args), `${name} ${args.join(" ")}`, message);
  }
}

/** A temporary folder holding an empty corpus file; removed afterwards. */
async function withEmptyCorpus(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cli_errors_test_" });
  try {
    const path = join(dir, "empty.txt");
    await Deno.writeTextFile(path, "\n\n");
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const NOT_FOUND = /corpus \/nonexistent\.txt not found/;
const EMPTY_CORPUS = /corpus \S+empty\.txt has no documents/;
const MODEL_TYPO = /unknown model "gpt2-smal".*\(did you mean "gpt2-small"\?\)/;

Deno.test("every task prints its help and returns 0", async () => {
  for (const [name, main] of Object.entries(TASKS)) {
    const r = await run(main, ["--help"]);
    assert.equal(r.status, 0, name);
    assert.ok(r.stdout[0].startsWith(`Usage: deno task ${name}`), `${name}: ${r.stdout[0]}`);
    assert.deepEqual(r.stderr, [], name);
  }
});

Deno.test("every task refuses an unknown flag, with the nearest known one", async () => {
  const typos: Record<string, [string, string]> = {
    demo: ["--promt", "--prompt"],
    bench: ["--repeat", "--repeats"],
    dashboards: ["--featurs", "--features"],
    setup: ["--dry-rn", "--dry-run"],
    "train-model": ["--epoch", "--epochs"],
    "train-transcoder": ["--layr", "--layer"],
    eval: ["--modle", "--model"],
    fuzz: ["--input", "--inputs"],
    graph: ["--promt", "--prompt"],
    "compare-interp": ["--sed", "--seed"],
    sweep: ["--tc-l", "--tc-l1"],
  };
  for (const [name, main] of Object.entries(TASKS)) {
    assertUserError(await run(main, ["--no-such-flag"]), name, /unknown option --no-such-flag/);
    const [typo, near] = typos[name];
    assertUserError(
      await run(main, [typo, "1"]),
      `${name} ${typo}`,
      new RegExp(`unknown option ${typo} \\(did you mean ${near}\\?\\)`),
    );
  }
});

Deno.test("every task refuses a bad numeric value", async () => {
  const bad: Record<string, string[]> = {
    demo: ["--top", "0"],
    bench: ["--repeats", "many"],
    dashboards: ["--layer", "-1"],
    setup: ["--retries", "101"],
    "train-model": ["--batch", "0"],
    "train-transcoder": ["--layer", "0", "--lr", "fast"],
    eval: ["--batch", "1.5"],
    graph: ["--prompt", "x", "--node-threshold", "2"],
    "compare-interp": ["--a", "tiny:1", "--b", "tiny:2", "--port", "70000"],
    sweep: ["--layer", "2", "--eval-rows", "0"],
  };
  for (const [name, args] of Object.entries(bad)) {
    assertUserError(await run(TASKS[name], args), `${name} ${args.join(" ")}`, /must be /);
  }
});

Deno.test("train-transcoder and dashboards require --layer, and check it against the model", async () => {
  for (const name of ["train-transcoder", "dashboards", "sweep"]) {
    await assertRefused(name, [
      [[], /--layer is required/],
      [["--layer", "4"], /--layer 4 out of range: the model has layers 0\.\.3/],
    ]);
  }
});

Deno.test("a model name typo is refused with the name meant", async () => {
  await assertRefused("demo", [[["--model", "gpt2-smal"], MODEL_TYPO]]);
  await assertRefused("eval", [[["--model", "gpt2-smal"], MODEL_TYPO]]);
  await assertRefused("train-transcoder", [[["--layer", "0", "--model", "gpt2-smal"], MODEL_TYPO]]);
  await assertRefused("dashboards", [[["--layer", "0", "--model", "gpt2-smal"], MODEL_TYPO]]);
  await assertRefused("setup", [[
    ["--model", "gpt2-smal", "--dry-run"],
    /no such model weight set; known: gpt2-small, none \(did you mean gpt2-small\?\)/,
  ]]);
});

Deno.test("a missing or empty corpus is refused", async () => {
  await withEmptyCorpus(async (empty) => {
    const prefixes: Record<string, string[]> = {
      "train-model": [],
      "train-transcoder": ["--layer", "0"],
      eval: [],
      dashboards: ["--layer", "0"],
    };
    for (const [name, prefix] of Object.entries(prefixes)) {
      await assertRefused(name, [
        [[...prefix, "--corpus", "/nonexistent.txt"], NOT_FOUND],
        [[...prefix, "--corpus", empty], EMPTY_CORPUS],
      ]);
    }
  });
});

Deno.test("dashboards resolves --model names: gpt2-small, when not installed, says how to get it", async () => {
  if (existsSync(join(downloadsDir(), "gpt2-small", "config.json"))) return;
  await assertRefused("dashboards", [[
    ["--model", "gpt2-small", "--layer", "8"],
    /weights for "gpt2-small" are not in .*: run: deno task setup --model gpt2-small/,
  ]]);
});

Deno.test("dashboards checks --features against the transcoder before the statistics pass", async () => {
  await assertRefused("dashboards", [
    [["--layer", "1", "--features", "5000"], /--features must be .* in \[0, 2047\], got "5000"/],
    [["--layer", "1", "--features", "live:5000"], /live:K needs 1 <= K <= 2048/],
    [["--layer", "1", "--features", "top:0"], /top:K needs 1 <= K <= 2048/],
    [["--layer", "1", "--features", "lve:3"], /--features must be a comma list/],
    [["--layer", "1", "--shard", "2/2"], /--shard must be i\/N with 0 <= i < N, got "2\/2"/],
  ]);
});

Deno.test("the demo refuses a prompt longer than the context and an unavailable provider", async () => {
  await assertRefused("demo", [[
    ["--prompt", "word ".repeat(200)],
    /exceeds the context size n_ctx = 128/,
  ]]);
  // Without an NVIDIA GPU and onnxruntime's CUDA libraries, CUDA is unavailable. (Not WebGPU:
  // CI has an adapter, and WebGPU sessions stay in tests/gpu/parity_test.ts, one thread.)
  const cuda = await run(demo, ["--provider", "cuda", "--top", "1"]);
  if (cuda.status !== 0) assertUserError(cuda, "demo --provider cuda", /CUDA/);
});

Deno.test("bench and setup refuse bad lists and URLs before any work", async () => {
  await assertRefused("bench", [[["--only", "forwards"], /--only: unknown section "forwards"/]]);
  await assertRefused("setup", [
    [["--base-url", "huggingface.co", "--dry-run"], /--base-url must be an http\(s\) URL/],
    [["--model", "none", "--transcoders", "none"], /nothing to install/],
  ]);
});

Deno.test("the graph task refuses a missing prompt, a typo'd model, a prompt over the context, a bad --logit-diff and --out", async () => {
  const long = "word ".repeat(200);
  await assertRefused("graph", [
    [[], /--prompt is required/],
    [["--prompt", "x", "--model", "gpt2-smal"], MODEL_TYPO],
    [["--prompt", long], /more than the model's context of 128/],
    [["--prompt", "x", "--logit-diff", " a"], /--logit-diff " a": expected two tokens/],
    [
      ["--prompt", "x", "--logit-diff", " cat, dogfish"],
      /" dogfish" is 2 tokens .*expected exactly one/,
    ],
    [["--prompt", "x", "--out", "graph.svg"], /expected a \.html file/],
  ]);
});

Deno.test("the sweep task refuses a bad L1 list, an empty grid and too few tokens", async () => {
  await assertRefused("sweep", [
    [["--layer", "2", "--tc-l1", "1e-3,abc"], /--tc-l1: "abc" is not a number >= 0/],
    [["--layer", "2", "--sae-l1", "1e-3,1e-3"], /--sae-l1 lists 0\.001 twice/],
    [["--layer", "2", "--tc-l1", "none", "--sae-l1", "none"], /nothing to train/],
    [["--layer", "2", "--tokens", "100"], /--tokens must be at least --batch \(4096\)/],
    [["--layer", "2", "--model", "gpt2-smal"], MODEL_TYPO],
  ]);
});

Deno.test("compare-interp refuses dictionaries of another model, n above the live features, another session's settings and a corrupt ratings file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_errors_test_" });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const layer7 = join(dir, "layer7"); // d_in 96 as the tiny model, but a layer it lacks
    await saveTranscoderFolder(
      layer7,
      Transcoder.random(mlpTranscoderConfig(7, { d_in: 96, d_sae: 16 }), 0),
    );
    const pt = join(
      dirname(new URL(import.meta.url).pathname),
      "../fixtures/pt/final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64.pt",
    ); // d_in 16
    const session = ["--rows", "8", "--quiet", "--out", join(dir, "session")];
    const both = ["--a", "tiny:1", "--b", "tiny:2", ...session];
    await assertRefused("compare-interp", [
      [[], /--a is required/],
      [["--a", "tiny:1"], /--b is required/],
      [
        ["--a", pt, "--b", "tiny:2", ...session],
        /--a \S+_64\.pt: a dictionary for another model: its d_in is 16, the model's d_model is 96/,
      ],
      [
        ["--a", "tiny:1", "--b", layer7, ...session],
        /--b \S+layer7: a dictionary for another model: it reads blocks\.7\.ln2\.hook_normalized \(layer 7\), but the model has layers 0\.\.3/,
      ],
      [["--a", "tiny:9", "--b", "tiny:2", ...session], /--a tiny:9: no transcoder for layer 9/],
      [[...both, "--port", `${busy.addr.port}`], /--port \d+ is in use: choose another, or 0/],
      [
        [...both, "--n", "2000"],
        /dictionary A \(--a\) has \d+ live features \(log10 frequency > -4 on these rows\), fewer than the 2000 asked/,
      ],
    ]);
    const app = await startCompareInterp([...both, "--n", "2"]);
    await app.close();
    await assertRefused("compare-interp", [
      [[...both, "--n", "3"], /session\.json is a session with --n 2, not 3: continue it with/],
      [
        ["--a", "tiny:2", "--b", "tiny:1", "--n", "2", ...session],
        /is a session with --a tiny:1, fingerprint/,
      ],
    ]);
    const ratings = join(dir, "session", "ratings.jsonl");
    const text =
      '{"item":0,"rating":"yes","contextFree":false,"note":"","time":"2025-01-01T00:00:00.000Z"}\n{"item":1,"rating":"y\n';
    await Deno.writeTextFile(ratings, text);
    await assertRefused("compare-interp", [
      [[...both, "--n", "2"], /ratings\.jsonl line 2: not JSON .*the file was left as it is/],
    ]);
    assert.equal(await Deno.readTextFile(ratings), text); // never truncated or rewritten
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train-transcoder --sae takes only an MLP site", async () => {
  await assertRefused("train-transcoder", [
    [["--layer", "2", "--sae", "resid_pre"], /--sae must be one of mlp_out, mlp_in/],
  ]);
});

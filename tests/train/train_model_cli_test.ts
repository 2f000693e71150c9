/**
 * The `train-model` task end to end, run as a subprocess of the real CLI (tasks/train_model.ts)
 * in a temporary directory (so the corpus cache and every output land there), on a tiny user
 * corpus (a .txt of a few hundred English words, repeated into 12 documents) and a tiny model
 * (1 layer, d_model 16, 2 heads, n_ctx 16, batch 2, one thread):
 *
 * - resuming is exact: 4 steps straight and 2 + 2 steps with a resume give bit-identical
 *   parameters and Adam moments (every float equal) and the same validation losses;
 * - a checkpoint from another configuration (--batch 4) is refused, and left byte-identical;
 * - an exploding loss stops training (exit 1) naming the step and the checkpoint that really is
 *   on disk (checked by loading it), also after a resume and when there is none yet;
 * - a full run (--epochs 0.2) reports validation loss vs the unigram baseline and exports a
 *   folder that `loadModel` loads, whose validation loss is finite and within 0.02 nats of the
 *   reported one (the export is float16);
 * - --help lists every option and exits 0; bad values and unknown options exit 2 with `error:`.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gpt2Config } from "../../lib/model/config.ts";
import { loadModel } from "../../lib/model/load.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { loadPackedCorpus } from "../../lib/train/corpus.ts";
import { initialLmParams } from "../../lib/train/lm_training.ts";
import { TRAIN_MODEL_COMMAND } from "../../tasks/train_model.ts";

const CLI = fileURLToPath(new URL("../../tasks/train_model.ts", import.meta.url));

const PARAGRAPHS = [
  "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden fence near the river.",
  "In the morning the ship left the harbor and sailed north along the rocky coast, where the wind was cold and strong.",
  "Congress shall make laws for the common good of the people, and the people shall choose their representatives every second year.",
  "Call me a sailor, for I have spent many years at sea, hunting whales and reading books by the light of a small lamp.",
  "The children walked to school through the green park, talking about their teachers, their friends and the games they would play.",
];

/** 12 documents of three paragraphs each (about 800 words), separated by `<|endoftext|>` lines. */
function corpusText(): string {
  const docs = Array.from(
    { length: 12 },
    (_, i) => [0, 1, 2].map((j) => PARAGRAPHS[(i + j) % PARAGRAPHS.length]).join(" "),
  );
  return docs.join("\n\n<|endoftext|>\n\n") + "\n";
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout then stderr. */
  all: string;
}

async function runCli(cwd: string, args: string[]): Promise<CliResult> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
  return { code, stdout: out, stderr: err, all: `${out}\n${err}` };
}

function assertExit(r: CliResult, code: number, what: string): void {
  assert.equal(
    r.code,
    code,
    `${what}: exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
  );
}

/** A temporary directory holding corpus.txt; removed afterwards. */
async function withRunDir(fn: (dir: string, args: string[]) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "train_model_cli_test_" });
  try {
    const corpus = join(dir, "corpus.txt");
    await Deno.writeTextFile(corpus, corpusText());
    const args = [
      ...["--layers", "1", "--d-model", "16", "--heads", "2", "--n-ctx", "16", "--batch", "2"],
      ...["--warmup", "2", "--eval-every", "2", "--validation", "0.2", "--threads", "1"],
      ...["--corpus", corpus, "--export", join(dir, "export")],
    ];
    await fn(dir, args);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `args` with the value of `--name` replaced. */
function withOption(args: string[], name: string, value: string): string[] {
  const i = args.indexOf(`--${name}`);
  assert.ok(i >= 0, `--${name} not in ${args}`);
  return args.with(i + 1, value);
}

const TINY = gpt2Config({ n_layers: 1, d_model: 16, n_heads: 2, n_ctx: 16 });

function assertSameMaps(
  a: ReadonlyMap<string, Tensor<"float32">>,
  b: ReadonlyMap<string, Tensor<"float32">>,
  what: string,
): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), what);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.deepEqual(t.shape, u.shape, `${what} ${k}`);
    for (let i = 0; i < t.data.length; i++) {
      if (!Object.is(t.data[i], u.data[i])) {
        assert.fail(`${what} ${k}[${i}]: ${t.data[i]} straight vs ${u.data[i]} resumed`);
      }
    }
  }
}

async function validationLosses(runDir: string): Promise<unknown[]> {
  const lines = (await Deno.readTextFile(join(runDir, "log.jsonl"))).trim().split("\n");
  return lines.map((l) => JSON.parse(l)).filter((r) => "validationLoss" in r);
}

Deno.test("train_model.ts resumes exactly, and refuses a checkpoint from another configuration", async (t) => {
  await withRunDir(async (dir, args) => {
    const outA = join(dir, "runA"), outB = join(dir, "runB");
    const ckptB = join(outB, "checkpoint.safetensors");

    await t.step("4 steps straight equal 2 steps + 2 resumed steps, bit for bit", async () => {
      const a = await runCli(dir, [...args, "--out", outA, "--max-steps", "4"]);
      assertExit(a, 0, "run A");
      assert.match(
        a.stdout,
        /^corpus \S+corpus\.txt: (\d+) training rows and \d+ validation rows of 16 tokens/,
      );
      assert.match(a.stdout, /stopped at step 4 of \d+; run the same command to resume/);
      assert.doesNotMatch(a.all, /resuming from/);

      const b1 = await runCli(dir, [...args, "--out", outB, "--max-steps", "2"]);
      assertExit(b1, 0, "run B, first part");
      assert.match(b1.stdout, /stopped at step 2 of \d+/);
      const b2 = await runCli(dir, [...args, "--out", outB, "--max-steps", "4"]);
      assertExit(b2, 0, "run B, resumed");
      assert.ok(b2.stdout.includes(`resuming from ${ckptB} at step 2`), b2.stdout);
      assert.match(b2.stdout, /stopped at step 4 of \d+/);

      const ca = await loadCheckpoint(join(outA, "checkpoint.safetensors"));
      const cb = await loadCheckpoint(ckptB);
      assert.equal(ca.state.step, 4);
      assert.equal(cb.state.step, 4);
      assertSameMaps(ca.state.params, cb.state.params, "params");
      assertSameMaps(ca.state.m, cb.state.m, "adam_m");
      assertSameMaps(ca.state.v, cb.state.v, "adam_v");
      assert.deepEqual(cb.meta, ca.meta);
      assert.deepEqual(await validationLosses(outB), await validationLosses(outA));
      assert.equal((await validationLosses(outA)).length, 2); // steps 2 and 4

      // Training did move the parameters away from the seeded initialisation.
      const init = initialLmParams(TINY, 0);
      assert.deepEqual([...ca.state.params.keys()].sort(), [...init.keys()].sort());
      assert.notDeepEqual(
        ca.state.params.get("blocks.0.attn.W_Q")!.data,
        init.get("blocks.0.attn.W_Q")!.data,
      );
    });

    await t.step(
      "--batch 4 on the batch-2 run is refused and the checkpoint is untouched",
      async () => {
        const before = await Deno.readFile(ckptB);
        const r = await runCli(dir, [
          ...withOption(args, "batch", "4"),
          "--out",
          outB,
          "--max-steps",
          "6",
        ]);
        assert.notEqual(r.code, 0, r.all);
        assert.match(
          r.all,
          /checkpoint \S+ is from another configuration: batch is 4 here but 2 in the checkpoint \(use the same options to resume, or another --out to start afresh\)/,
        );
        assert.doesNotMatch(r.all, /resuming from/);
        assert.deepEqual(await Deno.readFile(ckptB), before);
      },
    );
  });
});

Deno.test("train_model.ts stops on an exploding loss, naming the step and the last checkpoint on disk", async () => {
  await withRunDir(async (dir, args) => {
    // lr 0.01 for steps 1-4 (warmup 3, then the decay starts at lr); from step 5 the
    // "decay" heads for --lr-end 1e6, so step 5's update is ~1e4 per weight and the loss of
    // step 6 explodes. Checkpoints are written at steps 2 and 4 (--eval-every 2).
    const explode = [
      ...args,
      ...["--schedule", "linearwarmupdecay", "--lr", "0.01", "--lr-end", "1e6", "--warmup", "3"],
      ...["--max-grad-norm", "1e30", "--max-steps", "10"],
    ];
    const fresh = join(dir, "fresh");
    const r = await runCli(dir, [...explode, "--out", fresh]);
    assertExit(r, 1, "exploding run");
    const ckpt = join(fresh, "checkpoint.safetensors");
    const m = r.stderr.match(
      /training stopped: step (\d+): loss \S+ exploded \(initial \S+\)\. Last good checkpoint: (\S+) \(step (\d+)\)/,
    );
    assert.ok(m, r.stderr);
    assert.deepEqual([m[1], m[2], m[3]], ["6", ckpt, "4"]);
    assert.equal((await loadCheckpoint(ckpt)).state.step, 4);

    // Resumed from a checkpoint that is not on the --eval-every grid (step 5): that one is named.
    const resumed = join(dir, "resumed");
    assertExit(
      await runCli(dir, [...explode.slice(0, -2), "--max-steps", "5", "--out", resumed]),
      0,
      "5 steps",
    );
    const r2 = await runCli(dir, [...explode, "--out", resumed]);
    assertExit(r2, 1, "resumed exploding run");
    const ckpt2 = join(resumed, "checkpoint.safetensors");
    assert.ok(
      r2.stderr.includes(`training stopped: step 6: loss `) &&
        r2.stderr.includes(`. Last good checkpoint: ${ckpt2} (step 5)`),
      r2.stderr,
    );
    assert.equal((await loadCheckpoint(ckpt2)).state.step, 5);

    // A huge constant rate explodes at once, before any checkpoint.
    const none = join(dir, "none");
    const r3 = await runCli(dir, [
      ...args,
      ...["--lr", "1e6", "--max-grad-norm", "1e30", "--warmup", "0", "--schedule", "constant"],
      ...["--max-steps", "4", "--out", none],
    ]);
    assertExit(r3, 1, "huge rate");
    assert.match(r3.stderr, /training stopped: step \d+: .*Last good checkpoint: none$/m);
    assert.ok(!existsSync(join(none, "checkpoint.safetensors")), "a checkpoint was written");
  });
});

Deno.test("train_model.ts completes a tiny run and exports a model that loadModel loads", async () => {
  await withRunDir(async (dir, args) => {
    const out = join(dir, "run"), exportDir = join(dir, "export");
    const r = await runCli(dir, [...args, "--out", out, "--epochs", "0.2"]);
    assertExit(r, 0, "full run");
    const m = r.stdout.match(/validation loss (\d+\.\d+) nats vs unigram baseline (\d+\.\d+) nats/);
    assert.ok(m, r.stdout);
    const reported = Number(m[1]);
    assert.ok(Number.isFinite(reported) && Number.isFinite(Number(m[2])));
    // Three greedy samples, then the export line.
    assert.equal(r.stdout.match(/^ {2}"[^"]+" -> ".*"$/gm)?.length, 3, r.stdout);
    assert.ok(r.stdout.includes(`wrote ${exportDir} (config.json, model.safetensors in float16)`));
    assert.doesNotMatch(r.stdout, /stopped at step/);

    const config = JSON.parse(await Deno.readTextFile(join(exportDir, "config.json")));
    assert.equal(config.model_type, "gpt2");
    assert.deepEqual([config.n_layer, config.n_embd, config.n_head, config.n_ctx], [1, 16, 2, 16]);
    const steps = config.transcoder_circuits.steps;
    assert.ok(Number.isInteger(steps) && steps >= 1, `steps ${steps}`);
    assert.equal((await loadCheckpoint(join(out, "checkpoint.safetensors"))).state.step, steps);
    const summary = JSON.parse(await Deno.readTextFile(join(out, "summary.json")));
    assert.equal(summary.validationLoss, config.transcoder_circuits.validationLoss);

    // The corpus cache went to the run's working directory.
    const cacheDir = join(dir, ".cache", "corpus");
    assert.equal([...Deno.readDirSync(cacheDir)].length, 2);
    const validation = await loadPackedCorpus({
      source: { path: join(dir, "corpus.txt") },
      nCtx: 16,
      split: "validation",
      validationFraction: 0.2,
      seed: 0,
      cacheDir,
      quiet: true,
    });
    const model = await loadModel(exportDir, { threads: 1 });
    const loss = await model.loss(validation);
    assert.ok(Number.isFinite(loss), `loss ${loss}`);
    assert.ok(
      Math.abs(loss - reported) < 0.02,
      `exported model's loss ${loss} vs reported ${reported}`,
    );
  });
});

Deno.test("train_model.ts --help lists every option; bad values exit 2 with an error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_model_cli_test_" });
  try {
    const help = await runCli(dir, ["--help"]);
    assertExit(help, 0, "--help");
    assert.match(help.stdout, /^Usage: deno task train-model \[options\]/);
    // Every option of the task's table is documented.
    const options = [...Object.keys(TRAIN_MODEL_COMMAND.options), "help"];
    assert.ok(options.length >= 21, `options found in the source: ${options}`);
    for (
      const name of [
        "layers",
        "d-model",
        "heads",
        "n-ctx",
        "corpus",
        "validation",
        "batch",
        "epochs",
        "lr",
        "lr-end",
        "warmup",
        "schedule",
        "weight-decay",
        "max-grad-norm",
        "seed",
        "out",
        "export",
        "eval-every",
        "max-steps",
        "threads",
        "help",
      ]
    ) {
      assert.ok(options.includes(name), `--${name} not found among ${options}`);
    }
    for (const name of options) {
      assert.match(help.stdout, new RegExp(`^ {2}--${name}\\b`, "m"), `--${name} is not in --help`);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []); // --help writes nothing

    const cases: [string[], string][] = [
      [["--batch", "0"], 'error: --batch must be an integer >= 1, got "0" (see --help)'],
      [["--lr", "fast"], 'error: --lr must be a number >= 0, got "fast" (see --help)'],
      [
        ["--validation", "1"],
        'error: --validation must be a number >= 0 <= 0.99, got "1" (see --help)',
      ],
      [
        ["--schedule", "cosine"],
        'error: --schedule: unknown learning-rate schedule "cosine": expected one of constant, ' +
        "constantwithwarmup, linearwarmupdecay, cosineannealing, cosineannealingwarmup, " +
        "cosineannealingwarmrestarts (see --help)",
      ],
      [["--frobnicate", "3"], "error: unknown option --frobnicate (see --help)"],
      [["--epoch", "3"], "error: unknown option --epoch (did you mean --epochs?) (see --help)"],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(dir, args);
      assertExit(r, 2, args.join(" "));
      assert.equal(r.stderr.trim(), message);
      assert.equal(r.stdout, "");
    }
    // Rejected before any work: nothing written (no corpus cache, no run folder).
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

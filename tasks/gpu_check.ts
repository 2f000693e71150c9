/**
 * `deno task gpu-check`: the prepared device check. On each GPU provider that starts here
 * (`webgpu`, `cuda`), it runs the parity family (tests/gpu/parity_test.ts: every graph kind
 * against `cpu`, then the tasks), then times GPT-2-small-shape work (random weights: the forward
 * pass to the mean loss, a 24576-feature transcoder's encoder, an attribution graph's reverse
 * passes) on `cpu` and on each provider, and prints one table. Needs no network: the tiny model
 * ships with the package, the GPT-2-shape weights are random. A provider that does not start is
 * a column that says why.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { attributionGraph } from "../lib/attribution/attribution_graph.ts";
import { GPT2_SMALL, gpt2Config } from "../lib/model/config.ts";
import { Graph } from "../lib/graph/builder.ts";
import {
  ONNXRUNTIME_VERSION,
  type Provider,
  ProviderUnavailableError,
  Runtime,
} from "../lib/graph/session.ts";
import type { Tensor } from "../lib/tensor/tensor.ts";
import { fmt, medianSeconds, printTable } from "./bench_util.ts";
import { randomModelAndTranscoders } from "./bench_graph.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

const GPU_PROVIDERS = ["webgpu", "cuda"] as const;

/** Starts the line that names the parity test whose sessions' log lines follow (`--placements`). */
export const PLACEMENT_MARK = "== parity test: ";

/** The command line of `deno task gpu-check`. */
export const GPU_CHECK_COMMAND = {
  name: "deno task gpu-check",
  summary:
    "The device check: on each GPU provider that starts here, the parity family against the CPU provider (tests/gpu/parity_test.ts), then GPT-2-small-shape forward, transcoder-encode and attribution timings on cpu and on each provider, in one table. No network; about 3 minutes on a GPU machine.",
  options: {
    providers: {
      type: "string",
      default: GPU_PROVIDERS.join(","),
      arg: "list",
      help: `GPU providers to check, comma-separated (${
        GPU_PROVIDERS.join(", ")
      }; "" times the CPU only)`,
    },
    shape: {
      type: "string",
      default: "gpt2-small",
      choices: ["gpt2-small", "tiny"],
      help:
        "model shape of the timings: gpt2-small (12 x 768, 24576 features) or tiny (4 x 96, 2048; " +
        "for a software device)",
    },
    repeats: { type: "integer", default: 3, min: 1, max: 100, help: "timed runs after a warm-up" },
    batch: {
      type: "integer",
      default: 8,
      min: 1,
      max: 64,
      help: "sequences of 128 tokens in the timed forward pass",
    },
    parity: {
      type: "string",
      default: "all",
      arg: "filter",
      help: 'which parity tests to run: "all", "none", or a text their names contain',
    },
    placements: {
      type: "boolean",
      help: "also list, per parity test, the nodes that onnxruntime placed on the CPU instead " +
        "of the provider (from its verbose log; the parity tests run once more)",
    },
  },
} as const satisfies CommandSpec;

type Values = OptionValues<typeof GPU_CHECK_COMMAND.options>;

/** Runs `deno task gpu-check` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(GPU_CHECK_COMMAND, args, gpuCheck);
}

/**
 * Whether a provider starts here: compiles and runs a ReLU on it. Returns `null` when it works,
 * the error that says what is missing when it does not; throws when it computes a wrong result.
 */
export async function probeProvider(provider: Provider): Promise<ProviderUnavailableError | null> {
  const g = new Graph();
  g.output("y", g.relu(g.input("x", "float32", [2])));
  try {
    const c = await new Runtime({ provider }).compile(g);
    const { y } = await c.run({
      x: { dtype: "float32", shape: [2], data: Float32Array.of(-1, 2) },
    });
    if (y.data[0] !== 0 || y.data[1] !== 2) {
      throw new Error(`${provider} computed relu(-1, 2) = ${y.data}`);
    }
    return null;
  } catch (e) {
    if (e instanceof ProviderUnavailableError) return e;
    throw e;
  }
}

/** Runs the parity family on one provider in its own `deno test` process. */
function runParity(provider: string, filter: string, env: Record<string, string> = {}) {
  const test = fileURLToPath(new URL("../tests/gpu/parity_test.ts", import.meta.url));
  const args = ["test", "-A", test, ...(filter === "all" ? [] : ["--filter", filter])];
  return new Deno.Command(Deno.execPath(), {
    args,
    env: {
      NO_COLOR: "1",
      TC_PARITY_PROVIDER: provider,
      [`TC_REQUIRE_${provider.toUpperCase()}`]: "1",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/**
 * The nodes of each parity test's sessions that onnxruntime placed on the CPU provider though
 * the session asked for `provider`: from its verbose log ("Node placements"), by operator.
 */
async function placements(
  provider: string,
  filter: string,
): Promise<Map<string, Map<string, number>>> {
  const { stderr } = await runParity(provider, filter, { TC_ORT_VERBOSE: "1" });
  const out = new Map<string, Map<string, number>>();
  let test = "(loading)";
  let onCpu = false;
  for (const line of new TextDecoder().decode(stderr).split("\n")) {
    if (line.startsWith(PLACEMENT_MARK)) {
      test = line.slice(PLACEMENT_MARK.length);
      continue;
    }
    const at = line.indexOf("VerifyEachNodeIsAssignedToAnEp] ");
    if (at < 0) continue;
    const rest = line.slice(at + "VerifyEachNodeIsAssignedToAnEp] ".length);
    if (rest.includes(" placed on [")) {
      // A mixed session's CPU share; "All nodes placed on [CPU..." is a CPU runtime's session.
      onCpu = rest.startsWith(" Node(s) placed on [CPUExecutionProvider]");
      continue;
    }
    const op = /^ {2}(\S+) \(/.exec(rest)?.[1];
    if (onCpu && op) {
      const ops = out.get(test) ?? new Map<string, number>();
      ops.set(op, (ops.get(op) ?? 0) + 1);
      out.set(test, ops);
    }
  }
  return out;
}

/** The parity family on one provider: a summary of its results. */
async function parity(provider: string, filter: string): Promise<string> {
  const t0 = performance.now();
  const { stdout, stderr } = await runParity(provider, filter);
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const secs = fmt((performance.now() - t0) / 1000, 2);
  const m = /(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/.exec(out);
  if (!m) return `did not run (${out.trim().split("\n").pop()?.slice(0, 100)})`;
  const failed = Number(m[3]);
  if (failed > 0) {
    const names = [...out.matchAll(/^(.+?) \.\.\. FAILED/gm)].map((x) => x[1]).slice(0, 3);
    console.error(`parity on ${provider}: failed: ${names.join("; ")}\n${out.slice(-4000)}`);
  }
  return `${m[2]} passed, ${failed} failed (${secs} s)`;
}

/** The timed inputs, for one shape. */
type Workloads = ReturnType<typeof workloads>;

/** The timed inputs of one shape: the model's and transcoders' sizes, tokens, rows, a prompt. */
function workloads(shape: string, batch: number) {
  const cfg = shape === "tiny"
    ? gpt2Config({ n_layers: 4, d_model: 96, n_heads: 4, d_vocab: 50257, n_ctx: 128 })
    : GPT2_SMALL;
  const dSae = shape === "tiny" ? 2048 : 24576;
  const rows = Array.from(
    { length: batch },
    (_, i) => Array.from({ length: 128 }, (_, j) => (i * 7919 + j * 104729) % cfg.d_vocab),
  );
  const encodeRows = 4096;
  const x: Tensor<"float32"> = {
    dtype: "float32",
    shape: [encodeRows, cfg.d_model],
    data: Float32Array.from(
      { length: encodeRows * cfg.d_model },
      (_, i) => Math.sin(i * 0.37) * 0.8,
    ),
  };
  const prompt = Array.from({ length: 32 }, (_, j) => (j * 104729 + 7) % cfg.d_vocab);
  return { cfg, dSae, rows, x, prompt };
}

interface Timings {
  forward: number;
  encode: number;
  graph: number;
  uploads: string;
}

/** Times the workloads on one provider, with random weights in their shape. */
async function time(w: Workloads, provider: Provider, repeats: number): Promise<Timings> {
  const { model, transcoders } = randomModelAndTranscoders(w.cfg, { dSae: w.dSae, provider });
  const forward = await medianSeconds(() => model.loss(w.rows), repeats);
  const encode = await medianSeconds(
    () => transcoders[6 % transcoders.length].encode(w.x),
    repeats,
  );
  const graph = await medianSeconds(
    () => attributionGraph(model, transcoders, w.prompt, { maxFeatureNodes: 1024 }),
    Math.min(repeats, 2),
  );
  const t = model.runtime.traffic;
  const uploads = t.uploads > 0
    ? `${t.uploads} weights once (${fmt(t.uploadBytes / 1e9, 3)} GB)`
    : "none (inputs read from host memory)";
  return { forward, encode, graph, uploads };
}

async function gpuCheck(values: Values): Promise<number> {
  const providers = values.providers.split(",").map((p) => p.trim()).filter((p) => p !== "");
  for (const p of providers) {
    if (!(GPU_PROVIDERS as readonly string[]).includes(p)) {
      throw new UsageError(
        `--providers: unknown provider "${p}" (expected ${GPU_PROVIDERS.join(", ")})`,
      );
    }
  }
  console.log(`# transcoder-circuits device check (${new Date().toISOString().slice(0, 19)}Z)`);
  console.log(
    `onnxruntime-node ${ONNXRUNTIME_VERSION}; ${navigator.hardwareConcurrency} CPU cores; shape ${values.shape}\n`,
  );
  const why = new Map<string, string>();
  for (const p of providers) {
    const reason = await probeProvider(p as Provider);
    if (reason) why.set(p, reason.message);
  }
  const usable = providers.filter((p) => !why.has(p));
  const columns = ["cpu", ...providers];

  const parityRow = ["parity family against cpu", "-"];
  for (const p of providers) {
    parityRow.push(
      why.has(p)
        ? "unavailable"
        : values.parity === "none"
        ? "skipped"
        : await parity(p, values.parity),
    );
  }

  const w = workloads(values.shape, values.batch);
  const times = new Map<string, Timings>();
  for (const p of ["cpu", ...usable]) {
    times.set(p, await time(w, p as Provider, values.repeats));
    console.error(`timed ${p}`);
  }
  const cell = (p: string, f: (t: Timings) => string) =>
    why.has(p) ? "unavailable" : f(times.get(p)!);
  const tokens = w.rows.length * w.rows[0].length;
  const base = times.get("cpu")!;
  const withRatio = (p: string, value: number, unit: string, baseValue: number, digits = 3) =>
    `${fmt(value, digits)} ${unit}` + (p === "cpu" ? "" : ` (${fmt(value / baseValue, 2)}x cpu)`);
  const rows: string[][] = [
    parityRow,
    [
      `forward to the mean loss, ${w.rows.length} x ${w.rows[0].length} tokens`,
      ...columns.map((p) =>
        cell(p, (t) => withRatio(p, tokens / t.forward, "tok/s", tokens / base.forward))
      ),
    ],
    [
      `transcoder encode, ${w.dSae} features, ${w.x.shape[0]} rows`,
      ...columns.map((p) =>
        cell(
          p,
          (t) => withRatio(p, w.x.shape[0] / t.encode, "rows/s", w.x.shape[0] / base.encode),
        )
      ),
    ],
    [
      `attribution graph, ${w.prompt.length}-token prompt, 1024 feature nodes`,
      ...columns.map((p) => cell(p, (t) => withRatio(p, 1 / t.graph, "graphs/s", 1 / base.graph))),
    ],
    ["weights uploaded to the device", ...columns.map((p) => cell(p, (t) => t.uploads))],
  ];
  printTable(["work", ...columns], rows);
  for (const [p, reason] of why) console.log(`\n${p}: ${reason}`);
  if (values.placements) {
    for (const p of usable) {
      console.log(`\n## Nodes placed on the CPU instead of ${p}, by parity test\n`);
      const found = await placements(p, values.parity === "none" ? "all" : values.parity);
      if (found.size === 0) console.log("none: every node of every session ran on the provider");
      else {
        printTable(
          ["parity test", "nodes on the CPU (operator x count)"],
          [...found].map(([t, ops]) => [t, [...ops].map(([op, n]) => `${op} x${n}`).join(", ")]),
        );
      }
    }
  }
  const failed = parityRow.slice(2).some((c) => /[1-9]\d* failed|did not run/.test(c));
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

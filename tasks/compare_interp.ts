/**
 * `deno task compare-interp`: a blind interpretability comparison of two dictionaries
 * (transcoders or SAEs) of one model (the reference's interp-comparison notebook). It samples n
 * live features of each over the same corpus rows, shuffles them, and serves a local web page
 * on which a rater judges each feature, one at a time and without knowing its dictionary:
 * interpretable yes / maybe / no, context-free, a note. Every answer is on disk before the page
 * moves on; restarting the same command continues at the first unrated item; after the last
 * one the page reveals the key and the tallies, which are also written to results.md
 * (docs/interp_comparison.md).
 *
 * @module
 */
import { join } from "node:path";
import { loadModel } from "../mod.ts";
import type { HookedModel } from "../lib/model/hooked_model.ts";
import { tensorFingerprint } from "../lib/dashboards/fingerprint.ts";
import {
  ComparisonSession,
  dictionaryInfo,
  prepareComparison,
  type RatingServer,
  SamplingError,
  SESSION_FILES,
  type SessionSpec,
  startRatingServer,
} from "../lib/comparison/mod.ts";
import { sliceRows } from "../lib/tensor/mod.ts";
import { loadTranscoder, type Transcoder } from "../lib/transcoder/mod.ts";
import { resolveModelDir } from "../lib/weights/mod.ts";
import {
  CORPUS_OPTION,
  loadCorpusRows,
  MODEL_OPTION,
  parseCorpusSource,
  PROVIDER_OPTION,
  providerOf,
} from "./cli.ts";
import {
  type CommandSpec,
  type OptionValues,
  parseCommand,
  runCommand,
  UsageError,
} from "./command.ts";

/** The command line of `deno task compare-interp`. */
export const COMPARE_INTERP_COMMAND = {
  name: "deno task compare-interp",
  usage: "--a <dict> --b <dict> [options]",
  summary:
    "A blind interpretability comparison of two dictionaries (transcoders or SAEs) of one model: samples n random live features of each (log10 frequency > -4 on the corpus rows, at least 4 activating examples), shuffles them, and serves a local web page on which you rate each feature without knowing its dictionary (interpretable yes / maybe / no, context-free, a note). Answers are saved as they are given; run the same command again to continue a session. After the last feature the page reveals which was which and the tallies, also written to results.md in the session folder.",
  options: {
    a: {
      type: "string",
      required: true,
      arg: "dict",
      help:
        'the first dictionary: "tiny:L" (the embedded model\'s layer-L transcoder), a SAELens folder, or a reference .pt',
    },
    b: { type: "string", required: true, arg: "dict", help: "the second dictionary (as --a)" },
    n: { type: "integer", default: 50, min: 1, help: "features sampled from each dictionary" },
    seed: { type: "integer", default: 0, min: 0, help: "seed of the sample and the shuffle" },
    out: {
      type: "string",
      default: "reports/interp-comparison",
      arg: "dir",
      help:
        "the session folder: the sample, the secret key, ratings.jsonl, results.md; an existing session there is continued",
    },
    port: {
      type: "integer",
      default: 0,
      min: 0,
      max: 65535,
      help: "the port on 127.0.0.1 (0: a free one, printed)",
    },
    model: MODEL_OPTION,
    corpus: CORPUS_OPTION,
    split: {
      type: "string",
      default: "validation",
      arg: "name",
      choices: ["train", "validation"],
      help: "train or validation",
    },
    rows: { type: "integer", min: 1, help: "use the first n rows of the split (default: all)" },
    examples: { type: "integer", default: 10, min: 1, help: "top examples shown per feature" },
    bands: { type: "integer", default: 5, min: 1, help: "activation bands shown per feature" },
    "per-band": { type: "integer", default: 4, min: 0, help: "examples shown per band" },
    window: { type: "integer", default: 8, min: 0, help: "tokens shown either side of an example" },
    batch: { type: "integer", default: 8, min: 1, help: "rows per forward pass" },
    quiet: { type: "boolean", help: "no progress on stderr" },
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

type CompareValues = OptionValues<typeof COMPARE_INTERP_COMMAND.options>;

/** A comparison being served: its session, the server, and how to stop it. */
export interface StartedComparison {
  url: string;
  session: ComparisonSession;
  server: RatingServer;
  close(): Promise<void>;
}

/** Errors of the dictionary loaders: the file given is not a usable dictionary. */
const LOADER_ERRORS = new Set([
  "TranscoderError",
  "SafetensorsError",
  "PtFormatError",
  "ZipError",
  "PickleError",
]);

/** Loads `--a`/`--b` and checks that it belongs to the model (its layer, its d_in). */
async function loadDictionary(
  option: "a" | "b",
  value: string,
  model: HookedModel,
): Promise<Transcoder> {
  let tc: Transcoder;
  try {
    tc = await loadTranscoder(value);
  } catch (e) {
    if (e instanceof Error && LOADER_ERRORS.has(e.name)) {
      const what = e.message.startsWith(value) ? "" : `${value}: `;
      throw new UsageError(`--${option} ${what}${e.message}`);
    }
    throw e;
  }
  const { n_layers, d_model } = model.cfg;
  if (!(tc.layer >= 0 && tc.layer < n_layers)) {
    throw new UsageError(
      `--${option} ${value}: a dictionary for another model: it reads ${tc.cfg.hook_name} (layer ${tc.layer}), but the model has layers 0..${
        n_layers - 1
      }`,
    );
  }
  if (tc.cfg.d_in !== d_model) {
    throw new UsageError(
      `--${option} ${value}: a dictionary for another model: its d_in is ${tc.cfg.d_in}, the model's d_model is ${d_model}`,
    );
  }
  return tc;
}

/** Runs `f`, turning the comparison's own input errors into UsageErrors (one `error:` line). */
async function asUsageErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const name = (e as Error)?.name;
    if (name === "SessionError" || name === "RatingsError" || e instanceof SamplingError) {
      throw new UsageError((e as Error).message);
    }
    throw e;
  }
}

/** A new session: the statistics pass, the sample and the blinded items, written to `--out`. */
async function createSession(
  values: CompareValues,
  spec: SessionSpec,
  model: HookedModel,
  dicts: { A: Transcoder; B: Transcoder },
  log: (line: string) => void,
): Promise<ComparisonSession> {
  let rows = await loadCorpusRows({
    source: parseCorpusSource(values.corpus),
    nCtx: model.cfg.n_ctx,
    split: values.split as "train" | "validation",
    quiet: values.quiet,
  });
  if (values.rows !== undefined) rows = sliceRows(rows, 0, Math.min(rows.shape[0], values.rows));
  log(
    `sampling ${values.n} features of each dictionary over ${
      rows.shape[0]
    } rows of ${values.corpus} (${values.split})`,
  );
  const { sample, items, tokens } = await asUsageErrors(() =>
    prepareComparison(model, dicts, rows, {
      n: values.n,
      seed: values.seed,
      examples: values.examples,
      bands: values.bands,
      perBand: values["per-band"],
      window: values.window,
      batchSize: values.batch,
      quiet: values.quiet,
    })
  );
  for (const label of ["A", "B"] as const) {
    const s = sample[label];
    log(
      `dictionary ${label}: ${s.live} live features; ${s.resampled} passed over for fewer than 4 activating examples`,
    );
  }
  const sampling = {
    A: { liveFeatures: sample.A.live, resampled: sample.A.resampled },
    B: { liveFeatures: sample.B.live, resampled: sample.B.resampled },
  };
  return await asUsageErrors(() =>
    ComparisonSession.create(values.out, spec, { key: sample.key, items, tokens, sampling })
  );
}

/** Runs `f` (which listens on `--port`), a port in use being a UsageError. */
function onPort<T>(port: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`--port ${port} is in use: choose another, or 0 for a free one`);
    }
    throw e;
  }
}

/** Opens (or creates) the session the options name and starts its server. */
async function start(values: CompareValues): Promise<StartedComparison> {
  const log = (line: string) => {
    if (!values.quiet) console.error(line);
  };
  if (values.port !== 0) {
    // A port in use is refused before any long work (it is taken for good below).
    onPort(values.port, () => Deno.listen({ hostname: "127.0.0.1", port: values.port })).close();
  }
  const model = await loadModel(await resolveModelDir(values.model), {
    provider: providerOf(values.provider),
  });
  const A = await loadDictionary("a", values.a, model);
  const B = await loadDictionary("b", values.b, model);
  const spec: SessionSpec = {
    model: { name: values.model, fingerprint: tensorFingerprint([model.W_E, model.W_pos]) },
    A: dictionaryInfo(values.a, A),
    B: dictionaryInfo(values.b, B),
    corpus: { source: values.corpus, split: values.split, rows: values.rows ?? null },
    seed: values.seed,
    n: values.n,
    display: {
      examples: values.examples,
      bands: values.bands,
      perBand: values["per-band"],
      window: values.window,
    },
  };
  if (spec.A.fingerprint === spec.B.fingerprint) {
    console.error(
      `warning: --a ${values.a} and --b ${values.b} are the same dictionary (same weights): the comparison is of a dictionary with itself`,
    );
  }
  const session = await asUsageErrors(() => ComparisonSession.open(values.out, spec)) ??
    await createSession(values, spec, model, { A, B }, log);
  if (session.state().complete) await session.writeResults();
  const server = onPort(values.port, () => startRatingServer(session, { port: values.port }));
  return { url: server.url, session, server, close: () => server.close() };
}

/**
 * Starts `deno task compare-interp` with these arguments and returns once the page is served,
 * without waiting for a signal (for tests and scripts: `close()` stops it, as a kill would).
 * A user's mistake throws a UsageError.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startCompareInterp } from "./compare_interp.ts";
 * const out = await Deno.makeTempDir();
 * const app = await startCompareInterp(["--a", "tiny:1", "--b", "tiny:2", "--n", "2", "--rows", "16", "--out", out, "--quiet"]);
 * try {
 *   const state = await (await fetch(`${app.url}api/state`)).json();
 *   assert.deepEqual(state, { total: 4, rated: 0, next: 0, complete: false });
 * } finally {
 *   await app.close();
 *   await Deno.remove(out, { recursive: true });
 * }
 * ```
 */
export function startCompareInterp(args: readonly string[]): Promise<StartedComparison> {
  return start(parseCommand(COMPARE_INTERP_COMMAND, args));
}

/** Resolves on Ctrl-C (SIGINT) or SIGTERM. */
function interrupted(): Promise<void> {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  return new Promise((resolve) => {
    const stop = () => {
      for (const s of signals) Deno.removeSignalListener(s, stop);
      resolve();
    };
    for (const s of signals) Deno.addSignalListener(s, stop);
  });
}

/** Runs `deno task compare-interp` with these arguments until interrupted; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(COMPARE_INTERP_COMMAND, args, async (values) => {
    const app = await start(values);
    const { rated, total, complete } = app.session.state();
    const ratings = join(values.out, SESSION_FILES.ratings);
    console.log(`Rating page: ${app.url}`);
    console.log(
      complete
        ? `All ${total} features are rated: the results are in ${
          join(values.out, SESSION_FILES.results)
        } and on the page.`
        : `${rated} of ${total} features rated; answers are saved to ${ratings} as they are given. Ctrl-C stops the server; the same command continues.`,
    );
    await interrupted();
    await app.close();
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));

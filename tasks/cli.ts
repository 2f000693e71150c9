/**
 * Option parsing shared by the tasks: each bad value is reported with the option's name and
 * what was expected, as a UsageError (see command.ts).
 *
 * @module
 */
import {
  BUILTIN_SOURCES,
  type CorpusSource,
  loadPackedCorpus,
  type PackedCorpusOptions,
} from "../lib/train/corpus.ts";
import { parseSchedule, type ScheduleName } from "../lib/train/schedules.ts";
import type { Tensor } from "../lib/tensor/tensor.ts";
import { type OptionSpec, UsageError } from "./command.ts";
import { type Provider, PROVIDERS } from "../lib/graph/session.ts";

/**
 * The `--model` option of a task that loads a model (a name or a Hugging Face GPT-2 folder).
 *
 * @example
 * ```ts
 * import { MODEL_OPTION } from "./cli.ts";
 * MODEL_OPTION.default; // "tiny"
 * ```
 */
export const MODEL_OPTION = {
  type: "string",
  default: "tiny",
  arg: "name|dir",
  help: "tiny, gpt2-small, or a Hugging Face GPT-2 folder",
} as const satisfies OptionSpec;

/**
 * The `--corpus` option of a task that reads token rows (see {@link parseCorpusSource}).
 *
 * @example
 * ```ts
 * import { CORPUS_OPTION } from "./cli.ts";
 * CORPUS_OPTION.default; // "builtin"
 * ```
 */
export const CORPUS_OPTION = {
  type: "string",
  default: "builtin",
  arg: "src",
  help: "builtin, sotu, moby-dick, or a path (.txt, .jsonl, folder)",
} as const satisfies OptionSpec;

/** A corpus: a built-in source name or a path. */
export function parseCorpusSource(value: string): CorpusSource {
  return (BUILTIN_SOURCES as readonly string[]).includes(value)
    ? value as CorpusSource
    : { path: value };
}

/**
 * A comma-separated list of integers in [min, max] (e.g. `--layers 0,2`); throws a UsageError.
 *
 * @example
 * ```ts
 * import { parseIntList } from "./cli.ts";
 * parseIntList("layers", "0, 2", 0, 3); // [0, 2]
 * ```
 */
export function parseIntList(name: string, value: string, min: number, max: number): number[] {
  return value.split(",").map((x) => {
    const n = Number(x.trim());
    if (x.trim() === "" || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(
        `--${name} must be a comma-separated list of integers in [${min}, ${max}], got "${value}"`,
      );
    }
    return n;
  });
}

/**
 * A layer number checked against the model's layers (e.g. `--layer 7` on a 4-layer model);
 * throws a UsageError.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLayer } from "./cli.ts";
 * checkLayer(3, 4); // 3
 * assert.throws(() => checkLayer(4, 4), { message: "--layer 4 out of range: the model has layers 0..3" });
 * ```
 */
export function checkLayer(layer: number, nLayers: number): number {
  if (layer >= nLayers) {
    throw new UsageError(`--layer ${layer} out of range: the model has layers 0..${nLayers - 1}`);
  }
  return layer;
}

/**
 * A learning-rate schedule name (case-insensitive); throws a UsageError with the valid names.
 *
 * @example
 * ```ts
 * import { parseScheduleOption } from "./cli.ts";
 * parseScheduleOption("CosineAnnealing"); // "cosineannealing"
 * ```
 */
export function parseScheduleOption(value: string): ScheduleName {
  try {
    return parseSchedule(value);
  } catch (e) {
    throw new UsageError(`--schedule: ${(e as Error).message}`);
  }
}

/**
 * {@link loadPackedCorpus} for a task: the corpus loader's own errors (a file that is not
 * there, an unsupported file type, a corpus with no documents, a bad `.jsonl` line; each says
 * `corpus ...`) become UsageErrors, printed as one `error:` line.
 */
export async function loadCorpusRows(options: PackedCorpusOptions): Promise<Tensor<"int32">> {
  try {
    return await loadPackedCorpus(options);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("corpus ")) throw new UsageError(e.message);
    throw e;
  }
}

/** A Ctrl-C that asks long work to stop at its next checkpoint (see {@linkcode onInterrupt}). */
export interface Interrupt {
  /** Whether Ctrl-C was pressed. */
  readonly requested: boolean;
  /** Removes the signal listener. */
  dispose(): void;
}

/**
 * Listens for Ctrl-C (SIGINT): the first asks the work to stop after writing a checkpoint (it
 * polls `requested`) and prints `message`; a second exits at once with status 130.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onInterrupt } from "./cli.ts";
 * const interrupt = onInterrupt("writing a checkpoint");
 * try {
 *   assert.equal(interrupt.requested, false); // poll it between steps
 * } finally {
 *   interrupt.dispose();
 * }
 * ```
 */
export function onInterrupt(message = "writing a checkpoint"): Interrupt {
  let requested = false;
  const listener = () => {
    if (requested) Deno.exit(130);
    requested = true;
    console.error(`\ninterrupt: ${message} (Ctrl-C again to abort)`);
  };
  Deno.addSignalListener("SIGINT", listener);
  return {
    get requested() {
      return requested;
    },
    dispose: () => Deno.removeSignalListener("SIGINT", listener),
  };
}

/**
 * The `--threads` option of a task that trains: CPU threads per operator.
 *
 * @example
 * ```ts
 * import { THREADS_OPTION } from "./cli.ts";
 * THREADS_OPTION.min; // 1
 * ```
 */
export const THREADS_OPTION = {
  type: "integer",
  min: 1,
  help: "CPU threads (default: all cores)",
} as const satisfies OptionSpec;

/**
 * The `--provider` option of a task that runs graphs: the onnxruntime execution provider.
 *
 * @example
 * ```ts
 * import { PROVIDER_OPTION } from "./cli.ts";
 * PROVIDER_OPTION.choices; // ["cpu", "cuda", "webgpu"]
 * ```
 */
export const PROVIDER_OPTION = {
  type: "string",
  default: "cpu",
  choices: PROVIDERS,
  help: "cpu, cuda or webgpu (docs/gpu.md)",
} as const satisfies OptionSpec;

/**
 * The provider a task's `--provider` names, typed.
 *
 * @example
 * ```ts
 * import { providerOf } from "./cli.ts";
 * providerOf("webgpu"); // "webgpu"
 * ```
 */
export function providerOf(value: string): Provider {
  return value as Provider;
}

/**
 * The tasks' command lines: each task declares its options once, in a table (name, type, default,
 * bounds, help), and that table produces both `--help` and the parser. A user's mistake (an
 * unknown flag, a bad value, a missing required option, a file or model that is not there) is
 * printed as one `error:` line that says how to fix it, with exit status 2 and no stack trace;
 * only a bug in the toolkit prints a stack.
 *
 * A task module exports `main(args)` (returning the exit status) and runs it only
 * `if (import.meta.main)`, so tests run it in-process.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { nearestNames } from "../lib/graph/hooks.ts";

/** One option: its type, default, bounds and help line. */
export type OptionSpec =
  | { type: "boolean"; help: string }
  | {
    type: "string";
    help: string;
    default?: string;
    /** Placeholder in the usage line (default `value`). */
    arg?: string;
    choices?: readonly string[];
    required?: boolean;
  }
  | {
    type: "integer" | "number";
    help: string;
    default?: number;
    arg?: string;
    min?: number;
    max?: number;
    required?: boolean;
  };

/** A task's command line: its name, what it does, its options. */
export interface CommandSpec<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** How it is run, e.g. `deno task eval`. */
  name: string;
  /** What goes after the name in the usage line (default `[options]`). */
  usage?: string;
  /** One paragraph (or more) printed above the options. */
  summary: string;
  options: O;
  /** Printed after the options. */
  epilog?: string;
}

type ValueOf<S extends OptionSpec> = S extends { type: "boolean" } ? boolean
  : S extends { type: "integer" | "number" } ? (S extends { default: number } ? number
      : S extends { required: true } ? number
      : number | undefined)
  : S extends { default: string } ? string
  : S extends { required: true } ? string
  : string | undefined;

/** The parsed values of a command's options, typed by its table. */
export type OptionValues<O extends Record<string, OptionSpec>> = { [K in keyof O]: ValueOf<O[K]> };

/**
 * A mistake on the command line, or in what it names: printed as `error: <message>` with exit
 * status 2.
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Text wrapped at 100 columns, continuation lines indented by `indent`. */
function wrap(text: string, indent: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + word.length > 100) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

/**
 * The `--help` text of a command, made from its option table.
 *
 * @example
 * ```ts
 * import { helpText } from "./command.ts";
 * helpText({
 *   name: "deno task x",
 *   summary: "Does x.",
 *   options: { rows: { type: "integer", default: 8, min: 1, help: "rows per batch" } },
 * });
 * // "Usage: deno task x [options]\n\nDoes x.\n\n  --rows <n>  rows per batch (default 8)\n  --help ..."
 * ```
 */
export function helpText(spec: CommandSpec): string {
  const rows: [string, string][] = Object.entries(spec.options).map(([name, o]) => {
    const arg = o.type === "boolean" ? "" : ` <${o.arg ?? (o.type === "string" ? "value" : "n")}>`;
    const notes: string[] = [];
    if (o.type === "string" && o.choices && !o.help.includes(o.choices[0])) {
      notes.push(`one of ${o.choices.join(", ")}`);
    }
    if (o.type !== "boolean" && o.required) notes.push("required");
    else if (o.type !== "boolean" && o.default !== undefined) notes.push(`default ${o.default}`);
    return [`--${name}${arg}`, notes.length ? `${o.help} (${notes.join("; ")})` : o.help];
  });
  rows.push(["--help", "show this help"]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const body = rows.map(([l, h]) => `  ${l.padEnd(width)}${wrap(h, width + 2)}`).join("\n");
  const summary = spec.summary.split("\n\n").map((p) => wrap(p, 0)).join("\n\n");
  return `Usage: ${spec.name} ${spec.usage ?? "[options]"}\n\n${summary}\n\nOptions:\n${body}\n${
    spec.epilog ? `\n${spec.epilog}\n` : ""
  }`;
}

/** The name nearest to a misspelt one, within 3 edits and half the word's length. */
const nearest = (word: string, names: string[]): string | undefined =>
  nearestNames(word, names, 1, Math.min(3, Math.max(1, Math.floor(word.length / 2))))[0];

/**
 * The arguments with each negative number given to a numeric option joined to it
 * (`--min -1` becomes `--min=-1`), which parseArgs would otherwise take for an option.
 */
function withNegativeNumbers(spec: CommandSpec, args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const o = spec.options[args[i].slice(2)];
    const next = args[i + 1];
    const numeric = args[i].startsWith("--") && (o?.type === "integer" || o?.type === "number");
    if (numeric && next !== undefined && /^-\.?\d/.test(next)) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/**
 * Parses a command line by the command's option table; throws a UsageError naming the option
 * and what was expected (an unknown flag gets the nearest known one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommand, UsageError } from "./command.ts";
 * const spec = {
 *   name: "deno task x",
 *   summary: "Does x.",
 *   options: {
 *     rows: { type: "integer", default: 8, min: 1, help: "rows per batch" },
 *     split: { type: "string", default: "train", choices: ["train", "validation"], help: "split" },
 *   },
 * } as const;
 * parseCommand(spec, ["--rows", "3"]); // { rows: 3, split: "train" }
 * assert.throws(() => parseCommand(spec, ["--rows", "0"]), { message: '--rows must be an integer >= 1, got "0"' });
 * assert.throws(() => parseCommand(spec, ["--rows", "-2"]), { message: '--rows must be an integer >= 1, got "-2"' });
 * assert.throws(() => parseCommand(spec, ["--row", "3"]), { message: "unknown option --row (did you mean --rows?)" });
 * assert.throws(() => parseCommand(spec, ["--split", "test"]), UsageError); // one of train, validation
 * ```
 */
export function parseCommand<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  args: readonly string[],
): OptionValues<O> {
  const known = Object.keys(spec.options);
  for (const a of args) {
    const m = /^--([^=]+)/.exec(a);
    if (m && m[1] !== "help" && !(m[1] in spec.options)) {
      const near = nearest(m[1], known);
      throw new UsageError(
        `unknown option --${m[1]}${near ? ` (did you mean --${near}?)` : ""}`,
      );
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: withNegativeNumbers(spec, args),
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.entries(spec.options).map((
          [name, o],
        ) => [name, { type: o.type === "boolean" ? "boolean" : "string" } as const]),
      ),
    });
  } catch (e) {
    // One line: parseArgs spreads some messages (an ambiguous argument) over several.
    const message = (e as Error).message.replace(/\. To specify a positional.*$/s, "");
    throw new UsageError(message.split("\n").join(" "));
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const out: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const v = raw[name];
    if (o.type === "boolean") {
      out[name] = v === true;
      continue;
    }
    if (v === undefined) {
      if (o.required) throw new UsageError(`--${name} is required`);
      out[name] = o.default;
      continue;
    }
    const s = v as string;
    if (o.type === "string") {
      if (o.choices && !o.choices.includes(s)) {
        const near = nearest(s, [...o.choices]);
        throw new UsageError(
          `--${name} must be one of ${o.choices.join(", ")}, got "${s}"${
            near ? ` (did you mean ${near}?)` : ""
          }`,
        );
      }
      out[name] = s;
      continue;
    }
    const x = Number(s);
    const min = o.min ?? -Infinity, max = o.max ?? Infinity;
    const ok = s.trim() !== "" &&
      (o.type === "integer" ? Number.isSafeInteger(x) : Number.isFinite(x)) && x >= min &&
      x <= max;
    if (!ok) {
      const bounds = `${Number.isFinite(min) ? ` >= ${min}` : ""}${
        Number.isFinite(max) ? ` <= ${max}` : ""
      }`;
      throw new UsageError(
        `--${name} must be ${
          o.type === "integer" ? "an integer" : "a number"
        }${bounds}, got "${s}"`,
      );
    }
    out[name] = x;
  }
  return out as OptionValues<O>;
}

/** Error classes whose messages are about the user's input, not a bug: printed without a stack. */
const USER_ERRORS = new Set([
  "UsageError",
  "ConfigError",
  "WeightsError",
  "TranscoderError",
  "SafetensorsError",
  "PtFormatError",
  "ZipError",
  "PickleError",
  "CheckpointError",
  "DownloadError",
  "LockError",
  "RegistryError",
  "ProviderUnavailableError",
  "SweepError",
  "RangeError",
]);

/**
 * Runs a task: parses its command line, prints `--help`, and turns a user's mistake into one
 * `error:` line and exit status 2 (a bug prints its stack and gives 1). Returns the exit status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCommand, UsageError } from "./command.ts";
 * const spec = { name: "deno task x", summary: "Does x.", options: { n: { type: "integer", min: 1, required: true, help: "how many" } } } as const;
 * const errors: string[] = [];
 * const status = await runCommand(spec, ["--n", "0"], () => Promise.resolve(), {
 *   error: (line) => errors.push(line),
 * });
 * assert.equal(status, 2);
 * errors; // ['error: --n must be an integer >= 1, got "0" (see --help)']
 * assert.equal(await runCommand(spec, ["--n", "2"], async ({ n }) => assert.equal(n, 2)), 0);
 * const quiet = { error: () => {} };
 * assert.equal(await runCommand(spec, ["--n", "1"], () => Promise.reject(new UsageError("x")), quiet), 2);
 * ```
 */
export async function runCommand<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  args: readonly string[],
  main: (values: OptionValues<O>) => Promise<void | number>,
  io: { log?: (line: string) => void; error?: (line: string) => void } = {},
): Promise<number> {
  const log = io.log ?? console.log, error = io.error ?? console.error;
  if (args.includes("--help")) {
    log(helpText(spec));
    return 0;
  }
  try {
    const status = await main(parseCommand(spec, args));
    return typeof status === "number" ? status : 0;
  } catch (e) {
    const err = e as Error;
    if (err instanceof Error && USER_ERRORS.has(err.name)) {
      const hint = err instanceof UsageError ? " (see --help)" : "";
      error(`error: ${err.message}${hint}`);
      return 2;
    }
    error(`internal error (a bug in transcoder-circuits; please report it):`);
    error(err instanceof Error ? err.stack ?? String(err) : String(err));
    return 1;
  }
}

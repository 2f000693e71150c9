/**
 * Option parsing shared by the tasks: each bad value is reported with the option's name and
 * what was expected, and exits with status 2.
 *
 * @module
 */
import { BUILTIN_SOURCES, type CorpusSource } from "../lib/train/corpus.ts";

/** Prints a usage error and exits with status 2. */
export function usageError(message: string): never {
  console.error(`error: ${message} (see --help)`);
  Deno.exit(2);
}

function parseNumeric(
  kind: "an integer" | "a number",
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number {
  const x = Number(value);
  const ok = value !== undefined && value.trim() !== "" &&
    (kind === "an integer" ? Number.isSafeInteger(x) : Number.isFinite(x)) && x >= min && x <= max;
  if (!ok) {
    const bounds = `${Number.isFinite(min) ? ` >= ${min}` : ""}${
      Number.isFinite(max) ? ` <= ${max}` : ""
    }`;
    usageError(`--${name} must be ${kind}${bounds}, got "${value}"`);
  }
  return x;
}

/** An integer option in [min, max]. */
export function parseIntOption(
  name: string,
  value: string | undefined,
  min = -Infinity,
  max = Infinity,
): number {
  return parseNumeric("an integer", name, value, min, max);
}

/** A finite number option in [min, max]. */
export function parseNumberOption(
  name: string,
  value: string | undefined,
  min = -Infinity,
  max = Infinity,
): number {
  return parseNumeric("a number", name, value, min, max);
}

/** A corpus: a built-in source name or a path. */
export function parseCorpusSource(value: string): CorpusSource {
  return (BUILTIN_SOURCES as readonly string[]).includes(value)
    ? value as CorpusSource
    : { path: value };
}

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

/** An integer option at least `min` (and at most `max`). */
export function parseIntOption(
  name: string,
  value: string | undefined,
  min = -Infinity,
  max = Infinity,
): number {
  const x = Number(value);
  if (value === undefined || !Number.isSafeInteger(x) || x < min || x > max) {
    usageError(
      `--${name} must be an integer${Number.isFinite(min) ? ` >= ${min}` : ""}${
        Number.isFinite(max) ? ` <= ${max}` : ""
      }, got "${value}"`,
    );
  }
  return x;
}

/** A finite number option in [min, max]. */
export function parseNumberOption(
  name: string,
  value: string | undefined,
  min = -Infinity,
  max = Infinity,
): number {
  const x = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isFinite(x) || x < min || x > max) {
    usageError(
      `--${name} must be a number${Number.isFinite(min) ? ` >= ${min}` : ""}${
        Number.isFinite(max) ? ` <= ${max}` : ""
      }, got "${value}"`,
    );
  }
  return x;
}

/** A corpus: a built-in source name or a path. */
export function parseCorpusSource(value: string): CorpusSource {
  return (BUILTIN_SOURCES as readonly string[]).includes(value)
    ? value as CorpusSource
    : { path: value };
}

/**
 * Reading a file that a user named, with the loader's own error class for the usual mistakes: a
 * missing file, a directory where a file is expected, a file that cannot be read.
 *
 * @module
 */

/** Options of {@linkcode readInputFile}. */
export interface InputFileOptions {
  /** The message when the file does not exist (default `<path>: file not found`). */
  notFound?: string;
}

/**
 * Reads a whole file; every failure is thrown as `error(message)`, the message naming the path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInputFile } from "./_input_file.ts";
 * class LoadError extends Error {}
 * const dir = await Deno.makeTempDir();
 * const fail = (message: string) => new LoadError(message);
 * await assert.rejects(readInputFile(dir, fail), { message: `${dir} is a directory, expected a file` });
 * await assert.rejects(readInputFile(`${dir}/x.bin`, fail), LoadError); // file not found
 * await Deno.writeFile(`${dir}/x.bin`, new Uint8Array([1, 2]));
 * await readInputFile(`${dir}/x.bin`, fail); // Uint8Array [1, 2]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readInputFile(
  path: string,
  error: (message: string) => Error,
  { notFound }: InputFileOptions = {},
): Promise<Uint8Array> {
  const isDirectory = () => error(`${path} is a directory, expected a file`);
  try {
    if ((await Deno.stat(path)).isDirectory) throw isDirectory();
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw error(notFound ?? `${path}: file not found`);
    if (e instanceof Deno.errors.IsADirectory) throw isDirectory();
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
      throw error(`${path}: cannot read it (${(e as Error).message})`);
    }
    throw e;
  }
}

/**
 * Reads a whole file as UTF-8 text, with the errors of {@linkcode readInputFile}.
 *
 * @example
 * ```ts
 * import { readInputText } from "./_input_file.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/cfg.json`, "{}");
 * await readInputText(`${dir}/cfg.json`, (m) => new Error(m)); // "{}"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readInputText(
  path: string,
  error: (message: string) => Error,
  options: InputFileOptions = {},
): Promise<string> {
  return new TextDecoder().decode(await readInputFile(path, error, options));
}

/** Deepest nesting of arrays and objects accepted in a JSON file (configs nest a few levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether a parsed JSON value nests arrays and objects deeper than `limit` (iterative: safe on
 * any depth).
 *
 * @example
 * ```ts
 * import { jsonTooDeep } from "./_input_file.ts";
 * jsonTooDeep({ a: [1, { b: 2 }] }, 3); // false: 3 levels
 * jsonTooDeep(JSON.parse("[".repeat(100) + "]".repeat(100)), 64); // true
 * ```
 */
export function jsonTooDeep(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth + 1 > limit) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) stack.push([x, depth + 1]);
  }
  return false;
}

/**
 * A JSON value for an error message: its JSON text, cut to `max` characters.
 *
 * @example
 * ```ts
 * import { brief } from "./_input_file.ts";
 * brief([16]); // "[16]"
 * brief("x".repeat(100), 10); // '"xxxxxxxxx...'
 * ```
 */
export function brief(value: unknown, max = 60): string {
  if (jsonTooDeep(value, 8)) {
    return Array.isArray(value) ? "a deeply nested array" : "a deeply nested object";
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}...` : text;
}

/**
 * Reads a JSON file that must hold one object (a `config.json`, a `cfg.json`): invalid JSON,
 * another kind of value, or nesting deeper than {@linkcode MAX_JSON_DEPTH} is thrown as
 * `error(message)`, the message naming the path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJsonObject } from "./_input_file.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/cfg.json`, '{"d_in": 8}');
 * await readJsonObject(`${dir}/cfg.json`, (m) => new Error(m)); // { d_in: 8 }
 * await Deno.writeTextFile(`${dir}/cfg.json`, "[1, 2]");
 * await assert.rejects(readJsonObject(`${dir}/cfg.json`, (m) => new Error(m)), {
 *   message: `${dir}/cfg.json: expected a JSON object, got [1,2]`,
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readJsonObject(
  path: string,
  error: (message: string) => Error,
  options: InputFileOptions = {},
): Promise<Record<string, unknown>> {
  const text = await readInputText(path, error, options);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw error(`${path}: expected a JSON object, got ${brief(value, 40)}`);
  }
  if (jsonTooDeep(value)) {
    throw error(`${path}: arrays and objects nest deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value as Record<string, unknown>;
}

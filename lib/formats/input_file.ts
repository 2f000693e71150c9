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
 * import { readInputFile } from "./input_file.ts";
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
  let isDirectory = false;
  try {
    isDirectory = (await Deno.stat(path)).isDirectory;
    if (!isDirectory) return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw error(notFound ?? `${path}: file not found`);
    if (e instanceof Deno.errors.IsADirectory) {
      throw error(`${path} is a directory, expected a file`);
    }
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
      throw error(`${path}: cannot read it (${(e as Error).message})`);
    }
    throw e;
  }
  throw error(`${path} is a directory, expected a file`);
}

/**
 * Reads a whole file as UTF-8 text, with the errors of {@linkcode readInputFile}.
 *
 * @example
 * ```ts
 * import { readInputText } from "./input_file.ts";
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

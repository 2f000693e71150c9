/**
 * The local checksum lock file (`weights/checksums.lock.json`, git-ignored): the sha256 and size
 * of each downloaded file whose registry entry has no published hash, recorded on first download
 * (trust on first use) and verified on every later run.
 *
 * @module
 */
import { dirname } from "node:path";
import { writeFileAtomic } from "../formats/safetensors.ts";

/**
 * The lock file's name inside the weights folder.
 *
 * @example
 * ```ts
 * import { join } from "node:path";
 * import { LOCK_FILE } from "./_lock.ts";
 * join("weights", LOCK_FILE); // "weights/checksums.lock.json"
 * ```
 */
export const LOCK_FILE = "checksums.lock.json";

/** What was recorded for one URL. */
export interface LockEntry {
  /** Destination path relative to the weights folder. */
  dest: string;
  size: number;
  sha256: string;
  /** ISO time of the first download. */
  recorded: string;
}

/** The lock file's content: entries by registry URL. */
export interface Lock {
  files: Record<string, LockEntry>;
}

/**
 * Thrown for a lock file that cannot be used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LockError, readLock } from "./_lock.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/checksums.lock.json`, '{"files": {"https://x/a": {"size": 5}}}');
 * await assert.rejects(readLock(`${dir}/checksums.lock.json`), LockError); // no sha256
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class LockError extends Error {
  override name = "LockError";
}

/**
 * Reads a lock file; a missing one is empty.
 *
 * @example
 * ```ts
 * import { readLock } from "./_lock.ts";
 * const lock = await readLock("/nonexistent/checksums.lock.json"); // { files: {} }
 * ```
 */
export async function readLock(path: string): Promise<Lock> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { files: {} };
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LockError(
      `${path}: not valid JSON (${(e as Error).message}); delete it to record the checksums again`,
    );
  }
  const files = (json as { files?: unknown })?.files;
  if (typeof files !== "object" || files === null || Array.isArray(files)) {
    throw new LockError(
      `${path}: expected {"files": {...}}; delete it to record the checksums again`,
    );
  }
  for (const [url, entry] of Object.entries(files as Record<string, Partial<LockEntry>>)) {
    if (
      typeof entry?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(entry.sha256) ||
      !Number.isSafeInteger(entry.size)
    ) {
      throw new LockError(
        `${path}: the entry for ${url} needs a sha256 (64 hex digits) and a size`,
      );
    }
  }
  return { files: files as Record<string, LockEntry> };
}

/**
 * Writes a lock file atomically (entries sorted by URL).
 *
 * @example
 * ```ts
 * import { writeLock } from "./_lock.ts";
 * const dir = await Deno.makeTempDir();
 * await writeLock(`${dir}/checksums.lock.json`, { files: {} });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeLock(path: string, lock: Lock): Promise<void> {
  const files: Record<string, LockEntry> = {};
  for (const url of Object.keys(lock.files).sort()) files[url] = lock.files[url];
  const json = {
    comment:
      "sha256 recorded on first download for files without a published checksum (trust on first use); written by deno task setup",
    files,
  };
  await Deno.mkdir(dirname(path) || ".", { recursive: true });
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"));
}

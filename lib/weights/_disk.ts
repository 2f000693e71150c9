/**
 * Free disk space, from `df` (Deno has no statfs).
 *
 * @module
 */
import { dirname, resolve } from "node:path";

/**
 * Bytes available to this user on the file system holding `path` (or its nearest existing
 * parent); null when `df` is missing or fails.
 *
 * @example
 * ```ts
 * import { freeBytes } from "./_disk.ts";
 * const free = await freeBytes("."); // e.g. 41234567168, or null
 * ```
 */
export async function freeBytes(path: string): Promise<number | null> {
  let dir = resolve(path);
  while (true) {
    try {
      await Deno.stat(dir);
      break;
    } catch {
      const up = dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
  try {
    const { success, stdout } = await new Deno.Command("df", {
      args: ["-Pk", dir],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!success) return null;
    const lines = new TextDecoder().decode(stdout).trim().split("\n");
    const available = Number(lines.at(-1)?.trim().split(/\s+/)[3]);
    return Number.isFinite(available) ? available * 1024 : null;
  } catch {
    return null;
  }
}

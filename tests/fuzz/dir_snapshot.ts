/**
 * A folder's listing (every path below it with its size and modification time), to compare
 * before and after a loader runs: a loader must leave the folder it reads exactly as it was.
 *
 * @module
 */
import { join } from "node:path";

/**
 * The folder's entries, sorted: `path kind size mtime` per line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { snapshotDir } from "./dir_snapshot.ts";
 * const dir = await Deno.makeTempDir();
 * const before = await snapshotDir(dir);
 * await Deno.writeTextFile(`${dir}/new.txt`, "x");
 * assert.notEqual(await snapshotDir(dir), before);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function snapshotDir(dir: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const path = join(d, e.name), name = rel ? `${rel}/${e.name}` : e.name;
      const st = await Deno.lstat(path);
      lines.push(
        `${name} ${
          e.isDirectory ? "d" : e.isSymlink ? "l" : "f"
        } ${st.size} ${st.mtime?.getTime()}`,
      );
      if (e.isDirectory) await walk(path, name);
    }
  };
  await walk(dir, "");
  return lines.sort().join("\n");
}

/**
 * The lines of `after` that are not in `before` (new or changed entries) and those gone.
 *
 * @example
 * ```ts
 * import { diffSnapshots } from "./dir_snapshot.ts";
 * diffSnapshots("a f 1 0", "a f 1 0\nb f 2 0"); // ["+ b f 2 0"]
 * ```
 */
export function diffSnapshots(before: string, after: string): string[] {
  const b = new Set(before ? before.split("\n") : []), a = new Set(after ? after.split("\n") : []);
  return [
    ...[...a].filter((l) => !b.has(l)).map((l) => `+ ${l}`),
    ...[...b].filter((l) => !a.has(l)).map((l) => `- ${l}`),
  ];
}

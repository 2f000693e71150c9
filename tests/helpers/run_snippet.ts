/**
 * Runs a snippet of TypeScript written to live in some folder of this repository (a README code
 * block, a notebook's cells) as one module with `deno run -A` and the project's `deno.json`: its
 * relative imports (`./mod.ts`, `../mod.ts`) are resolved against that folder first.
 *
 * @example
 * ```ts
 * import { runSnippet } from "./run_snippet.ts";
 * const r = await runSnippet('import { full } from "./lib/tensor/mod.ts"; console.log(full([2], 3).data[1]);');
 * r.stdout; // "3\n"
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** What a snippet run printed. */
export interface SnippetRun {
  success: boolean;
  stdout: string;
  stderr: string;
}

/** Rewrites `from "./x"` and `from "../x"` to absolute file URLs relative to `dir`. */
export function resolveRelativeImports(code: string, dir: string): string {
  return code.replaceAll(
    /from\s+"(\.\.?\/[^"]+)"/g,
    (_, rel) => `from ${JSON.stringify(new URL(rel, `file://${dir.replace(/\/?$/, "/")}`).href)}`,
  );
}

/**
 * Runs `code` as if it were a module in `dir` (default: the repository root), with `dir` as the
 * working directory, `NO_COLOR=1` and the given extra environment.
 */
export async function runSnippet(
  code: string,
  { dir = ROOT, env = {} }: { dir?: string; env?: Record<string, string> } = {},
): Promise<SnippetRun> {
  const tmp = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(tmp, resolveRelativeImports(code, dir));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", join(ROOT, "deno.json"), tmp],
      cwd: dir,
      env: { ...env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { success: out.success, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  } finally {
    await Deno.remove(tmp);
  }
}

/** The small sessions the comparison tests run: the tiny model's layer-1 and layer-2 transcoders. */

/**
 * The command line of a session of `n` features per dictionary over `rows` corpus rows in `out`.
 *
 * @example
 * ```ts
 * import { sessionArgs } from "./fixture.ts";
 * sessionArgs("/tmp/s", { n: 2, rows: 16 }).join(" "); // "--a tiny:1 --b tiny:2 --n 2 --rows 16 --out /tmp/s --quiet"
 * ```
 */
export function sessionArgs(
  out: string,
  { n, rows, a = "tiny:1", b = "tiny:2" }: { n: number; rows: number; a?: string; b?: string },
): string[] {
  return ["--a", a, "--b", b, "--n", `${n}`, "--rows", `${rows}`, "--out", out, "--quiet"];
}

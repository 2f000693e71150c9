/**
 * Running a task's `main` in-process with its console output captured, and the permissions a
 * fuzzing test runs its loaders under.
 */
import { format } from "node:util";

/** What a task's `main` returned and printed, as lines. */
export interface CapturedRun {
  status: number;
  stdout: string[];
  stderr: string[];
}

/**
 * Runs `main(args)` with `console.log` and `console.error` captured (restored afterwards).
 *
 * @example
 * ```ts
 * import { runCaptured } from "./captured.ts";
 * const r = await runCaptured((args) => { console.log(args.join(" ")); return Promise.resolve(0); }, ["a", "b"]);
 * r.stdout; // ["a b"]
 * ```
 */
export async function runCaptured(
  main: (args: readonly string[]) => Promise<number>,
  args: readonly string[],
): Promise<CapturedRun> {
  const stdout: string[] = [], stderr: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => stdout.push(...format(...a).split("\n"));
  console.error = (...a: unknown[]) => stderr.push(...format(...a).split("\n"));
  try {
    return { status: await main(args), stdout, stderr };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/**
 * Test permissions under which a loader can read anything and write only into `scratch`, and
 * cannot run a process, connect, or read the environment (ffi stays: onnxruntime-node's addon).
 */
export function sandboxPermissions(scratch: string): Deno.PermissionOptionsObject {
  return {
    read: true,
    write: [scratch],
    run: false,
    net: false,
    env: false,
    ffi: true,
    sys: false,
  };
}

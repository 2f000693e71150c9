/**
 * The loaders' budget for hostile input: refused with the project's own error class, in under
 * 1 s and under 200 MB of extra memory: the growth of this isolate's JavaScript heap and of the
 * ArrayBuffers it holds (`heapUsed + external`, garbage not yet collected included). Not the
 * process's resident set: `deno test --parallel` runs other test files in other threads of the
 * same process, whose allocations (a model loading) would count too.
 */
import assert from "node:assert/strict";

/** Most milliseconds one hostile input may take. */
export const TIME_BUDGET_MS = 1000;
/** Most extra resident memory one hostile input may take, in bytes. */
export const MEMORY_BUDGET_BYTES = 200 * 2 ** 20;

/**
 * Asserts that `f` rejects (or throws) an instance of `cls` whose message matches `message`,
 * within the time and memory budget.
 *
 * @example
 * ```ts
 * import { assertRefused } from "./within_budget.ts";
 * await assertRefused(() => JSON.parse("{"), SyntaxError, /JSON/);
 * ```
 */
export async function assertRefused(
  f: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  message: RegExp,
): Promise<void> {
  const used = () => {
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external;
  };
  const before = used();
  const t0 = performance.now();
  let error: unknown;
  try {
    await f();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0, extra = used() - before;
  assert.ok(error !== undefined, `expected a ${cls.name} matching ${message}, but nothing threw`);
  assert.ok(error instanceof cls, `expected a ${cls.name}, got ${error}`);
  assert.match((error as Error).message, message);
  assert.ok(ms < TIME_BUDGET_MS, `took ${ms.toFixed(0)} ms (budget ${TIME_BUDGET_MS})`);
  assert.ok(
    extra < MEMORY_BUDGET_BYTES,
    `took ${(extra / 2 ** 20).toFixed(0)} MB more memory (budget ${MEMORY_BUDGET_BYTES / 2 ** 20})`,
  );
}

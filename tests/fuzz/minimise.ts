/**
 * Shrinking a failing input by delta debugging, keeping each step only when the input still
 * fails the same way (same outcome, same error name), within a bounded number of attempts and
 * time. In order: whole files are dropped; a zip archive's entries are minimised inside it (the
 * archive written again, stored, so a checkpoint's `data.pkl` shrinks while the zip stays valid);
 * long runs of one byte are halved all together (which keeps `[[[...]]]` balanced); then chunks
 * of each file are removed, from half the file down to single bytes.
 *
 * @module
 */
import { unzipSync, zipSync } from "fflate";
import { concat } from "./byte_mutators.ts";
import { BUDGET, type Budget, execute, type RunResult } from "./campaign.ts";
import type { FuzzInput } from "./seeds.ts";
import type { Target } from "./targets.ts";
import { safeToUnzip } from "./zip_mutators.ts";

/** Bounds of one minimisation. */
export interface MinimiseLimits {
  /** Most candidate inputs tried (default 1000). */
  attempts?: number;
  /** Most milliseconds spent (default 15 s). */
  ms?: number;
}

/** Long runs of one byte, each halved (`undefined` when there are none). */
function halveRuns(b: Uint8Array): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  let changed = false;
  for (let i = 0; i < b.length;) {
    let j = i + 1;
    while (j < b.length && b[j] === b[i]) j++;
    const keep = j - i >= 16 ? (j - i) >> 1 : j - i;
    changed ||= keep !== j - i;
    parts.push(b.subarray(i, i + keep));
    i = j;
  }
  return changed ? concat(...parts) : undefined;
}

/** A zip's entries, when fflate can read them. */
function entriesOf(b: Uint8Array): FuzzInput | undefined {
  if (b[0] !== 0x50 || b[1] !== 0x4b || !safeToUnzip(b)) return undefined;
  try {
    return new Map(Object.entries(unzipSync(b)));
  } catch {
    return undefined;
  }
}

/**
 * The smallest input found that `stillFails`, and how many candidates were tried.
 *
 * @example
 * ```ts
 * import { minimise } from "./minimise.ts";
 * // "Fails" while the file still holds the byte 7.
 * const input = new Map([["f", new Uint8Array([1, 2, 7, 3, 4, 5])], ["g", new Uint8Array(9)]]);
 * const { input: small } = await minimise(input, (c) => Promise.resolve(c.get("f")?.includes(7) ?? false));
 * small; // Map { "f" => Uint8Array [7] }
 * ```
 */
export async function minimise(
  input: FuzzInput,
  stillFails: (candidate: FuzzInput) => Promise<boolean>,
  { attempts = 1000, ms = 15_000 }: MinimiseLimits = {},
): Promise<{ input: FuzzInput; attempts: number }> {
  let best = new Map(input);
  const t0 = performance.now();
  let tried = 0;
  const left = () => ({ attempts: attempts - tried, ms: ms - (performance.now() - t0) });
  const more = () => left().attempts > 0 && left().ms > 0;
  const attempt = async (candidate: FuzzInput) => {
    tried++;
    if (!(await stillFails(candidate))) return false;
    best = candidate;
    return true;
  };
  for (const name of [...best.keys()]) {
    if (!more()) break;
    const without = new Map(best);
    without.delete(name);
    await attempt(without);
  }
  const names = [...best.keys()].sort((a, b) => best.get(b)!.length - best.get(a)!.length);
  for (const name of names) {
    const entries = more() ? entriesOf(best.get(name)!) : undefined;
    const rezip = (e: FuzzInput) =>
      new Map(best).set(name, zipSync(Object.fromEntries(e), { level: 0 }));
    if (entries && (await attempt(rezip(entries)))) {
      const inner = await minimise(entries, (e) => stillFails(rezip(e)), left());
      tried += inner.attempts;
      best = rezip(inner.input);
    }
    for (
      let halved = halveRuns(best.get(name)!);
      halved && more();
      halved = halveRuns(best.get(name)!)
    ) {
      if (!(await attempt(new Map(best).set(name, halved)))) break;
    }
    for (let chunk = best.get(name)!.length >> 1; chunk >= 1 && more(); chunk >>= 1) {
      for (let off = 0; off < best.get(name)!.length && more();) {
        const b = best.get(name)!;
        if (
          !(await attempt(
            new Map(best).set(name, concat(b.subarray(0, off), b.subarray(off + chunk))),
          ))
        ) {
          off += chunk;
        }
      }
    }
  }
  return { input: best, attempts: tried };
}

/**
 * The predicate "fails the same way as `failure`" (same outcome and error name) for
 * {@linkcode minimise}.
 *
 * @example
 * ```ts
 * import { sameFailure } from "./minimise.ts";
 * import { targetByName } from "./targets.ts";
 * const scratch = await Deno.makeTempDir();
 * const refusedLikeThis = sameFailure(targetByName("zip")!, scratch, { outcome: "refused", errorName: "ZipError" });
 * await refusedLikeThis(new Map([["input.zip", new Uint8Array(3)]])); // true
 * await Deno.remove(scratch, { recursive: true });
 * ```
 */
export function sameFailure(
  target: Target,
  scratch: string,
  failure: Pick<RunResult, "outcome" | "errorName">,
  budget: Budget = BUDGET,
): (candidate: FuzzInput) => Promise<boolean> {
  return async (candidate) => {
    const r = await execute(target, candidate, scratch, budget);
    return r.outcome === failure.outcome && r.errorName === failure.errorName;
  };
}

/**
 * Learning-rate schedules, the reference's set (`sae_training/optim.py`): a multiplier of the
 * base learning rate for each 0-based optimiser step.
 *
 * - `constant`: 1.
 * - `constantwithwarmup`: `min(1, (step + 1) / warmupSteps)`.
 * - `linearwarmupdecay`: linear warmup, then linear decay to `lrEnd / lr` at the last step.
 * - `cosineannealing`: cosine from 1 to `lrEnd / lr` over all steps.
 * - `cosineannealingwarmup`: linear warmup, then cosine to `lrEnd / lr`.
 * - `cosineannealingwarmrestarts`: cosine to `lrEnd / lr` repeated over `numCycles` cycles.
 *
 * @module
 */

/**
 * The schedule names (as in the reference, case-insensitive on input).
 *
 * @example
 * ```ts
 * import { SCHEDULES } from "./schedules.ts";
 * SCHEDULES.length; // 6
 * SCHEDULES.includes("cosineannealingwarmup"); // true
 * ```
 */
export const SCHEDULES = [
  "constant",
  "constantwithwarmup",
  "linearwarmupdecay",
  "cosineannealing",
  "cosineannealingwarmup",
  "cosineannealingwarmrestarts",
] as const;

/** A schedule name. */
export type ScheduleName = typeof SCHEDULES[number];

/** What a schedule needs besides the step. */
export interface ScheduleOptions {
  name: ScheduleName;
  /** Base learning rate. */
  lr: number;
  totalSteps: number;
  warmupSteps?: number;
  /** Final learning rate of the decaying schedules (default 0). */
  lrEnd?: number;
  numCycles?: number;
}

/**
 * Parses a schedule name, throwing with the list of valid names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSchedule } from "./schedules.ts";
 * assert.equal(parseSchedule("CosineAnnealing"), "cosineannealing");
 * assert.throws(() => parseSchedule("linear"), RangeError);
 * // RangeError: unknown learning-rate schedule "linear": expected one of constant, ...
 * ```
 */
export function parseSchedule(name: string): ScheduleName {
  const n = name.toLowerCase();
  if (!(SCHEDULES as readonly string[]).includes(n)) {
    throw new RangeError(
      `unknown learning-rate schedule "${name}": expected one of ${SCHEDULES.join(", ")}`,
    );
  }
  return n as ScheduleName;
}

/**
 * The learning rate at a 0-based step.
 *
 * @example
 * ```ts
 * import { learningRate } from "./schedules.ts";
 * learningRate({ name: "constantwithwarmup", lr: 4e-4, totalSteps: 100, warmupSteps: 10 }, 4); // 2e-4
 * ```
 */
export function learningRate(o: ScheduleOptions, step: number): number {
  const warm = o.warmupSteps ?? 0, total = Math.max(1, o.totalSteps), end = o.lrEnd ?? 0;
  const warmup = (s: number) => o.lr * (warm > 0 && s < warm ? (s + 1) / warm : 1);
  // From lrEnd (f = 0) to lr (f = 1), without dividing by lr (so that lr = 0 gives 0, not NaN).
  const toward = (f: number) => end + (o.lr - end) * f;
  const cosine = (progress: number) =>
    toward(0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
  switch (o.name) {
    case "constant":
      return o.lr;
    case "constantwithwarmup":
      return warmup(step);
    case "linearwarmupdecay":
      return step < warm
        ? warmup(step)
        : toward(Math.max(0, (total - step) / Math.max(1, total - warm)));
    case "cosineannealing":
      return cosine(step / total);
    case "cosineannealingwarmup":
      return step < warm ? warmup(step) : cosine((step - warm) / Math.max(1, total - warm));
    case "cosineannealingwarmrestarts": {
      const cycle = Math.max(1, Math.floor(total / (o.numCycles ?? 1)));
      return cosine((step % cycle) / cycle);
    }
  }
}

/**
 * The learning-rate schedules (lib/train/schedules.ts) at chosen 0-based steps against values
 * computed by hand from the reference's formulas (SAELens `sae_training/optim.py`, torch's
 * `CosineAnnealingLR` / `CosineAnnealingWarmRestarts` closed forms), each to 1e-12 relative;
 * every name in SCHEDULES is covered, a zero base rate gives zero (never NaN), and
 * `parseSchedule` accepts any letter case and rejects unknown names with the list of valid ones.
 */
import assert from "node:assert/strict";
import {
  learningRate,
  parseSchedule,
  type ScheduleName,
  type ScheduleOptions,
  SCHEDULES,
} from "../../lib/train/schedules.ts";

/** Asserts `learningRate(o, step)` for each `[step, expected]` pair, to 1e-12 relative. */
function expectRates(o: ScheduleOptions, cases: [number, number][]): void {
  for (const [step, expected] of cases) {
    const got = learningRate(o, step);
    assert.ok(
      Math.abs(got - expected) <= 1e-12 * Math.max(Math.abs(expected), 1e-30),
      `${o.name} at step ${step}: ${got}, expected ${expected}`,
    );
  }
}

const covered = new Set<ScheduleName>();
function schedule(o: ScheduleOptions): ScheduleOptions {
  covered.add(o.name);
  return o;
}

Deno.test("learningRate() constant is the base rate at every step", () => {
  expectRates(schedule({ name: "constant", lr: 3e-4, totalSteps: 100, warmupSteps: 10 }), [
    [0, 3e-4],
    [5, 3e-4],
    [99, 3e-4],
    [1000, 3e-4],
  ]);
});

Deno.test("learningRate() constantwithwarmup warms up linearly to lr * min(1, (step + 1) / warmup)", () => {
  const o = schedule({ name: "constantwithwarmup", lr: 4e-4, totalSteps: 100, warmupSteps: 10 });
  expectRates(o, [[0, 4e-5], [4, 2e-4], [8, 3.6e-4], [9, 4e-4], [10, 4e-4], [500, 4e-4]]);
  // No warmup: the base rate from the first step.
  expectRates({ ...o, warmupSteps: 0 }, [[0, 4e-4], [3, 4e-4]]);
});

Deno.test("learningRate() linearwarmupdecay warms up, then decays linearly to lrEnd at totalSteps", () => {
  // floor = lrEnd / lr = 0.1; after warmup: floor + (1 - floor) (total - step) / (total - warmup)
  const o = schedule({
    name: "linearwarmupdecay",
    lr: 1e-3,
    lrEnd: 1e-4,
    totalSteps: 20,
    warmupSteps: 4,
  });
  expectRates(o, [
    [0, 2.5e-4],
    [1, 5e-4],
    [3, 1e-3],
    [4, 1e-3], // (20 - 4) / 16 = 1
    [12, 5.5e-4], // 0.1 + 0.9 * 8 / 16
    [19, 1.5625e-4], // 0.1 + 0.9 / 16: the last step taken
    [20, 1e-4],
    [40, 1e-4], // clamped past the end
  ]);
  // Without lrEnd the decay goes to 0, as in the reference.
  expectRates({ ...o, lrEnd: undefined }, [[12, 5e-4], [20, 0]]);
});

Deno.test("learningRate() cosineannealing goes from lr to lrEnd over totalSteps", () => {
  // lrEnd + (lr - lrEnd) (1 + cos(pi step / total)) / 2, as torch's CosineAnnealingLR
  const o = schedule({ name: "cosineannealing", lr: 1e-3, lrEnd: 1e-4, totalSteps: 100 });
  expectRates(o, [
    [0, 1e-3],
    [25, 1e-4 + 9e-4 * (1 + Math.SQRT1_2) / 2], // 8.681980515339464e-4
    [50, 5.5e-4],
    [75, 1e-4 + 9e-4 * (1 - Math.SQRT1_2) / 2],
    [100, 1e-4],
    [150, 1e-4], // progress clamped at 1
  ]);
  expectRates({ ...o, lrEnd: undefined }, [[50, 5e-4], [100, 0]]);
});

Deno.test("learningRate() cosineannealingwarmup warms up linearly, then follows the cosine to lrEnd", () => {
  const o = schedule({
    name: "cosineannealingwarmup",
    lr: 1e-3,
    lrEnd: 0,
    totalSteps: 110,
    warmupSteps: 10,
  });
  expectRates(o, [
    [0, 1e-4],
    [4, 5e-4],
    [9, 1e-3],
    [10, 1e-3], // cosine progress 0
    [35, 1e-3 * (1 + Math.SQRT1_2) / 2], // progress 25 / 100
    [60, 5e-4],
    [110, 0],
    [200, 0],
  ]);
  expectRates({ ...o, lrEnd: 2e-4 }, [[60, 6e-4], [110, 2e-4]]);
});

Deno.test("learningRate() cosineannealingwarmrestarts restarts every floor(totalSteps / numCycles) steps", () => {
  // period 25: lrEnd + (lr - lrEnd) (1 + cos(pi (step mod 25) / 25)) / 2
  const o = schedule({
    name: "cosineannealingwarmrestarts",
    lr: 1e-3,
    lrEnd: 1e-4,
    totalSteps: 100,
    numCycles: 4,
  });
  const at = (k: number) => 1e-4 + 9e-4 * (1 + Math.cos(Math.PI * k / 25)) / 2;
  expectRates(o, [
    [0, 1e-3],
    [5, at(5)],
    [24, at(24)],
    [25, 1e-3], // restart
    [30, at(5)],
    [75 + 12, at(12)],
    [99, at(24)],
  ]);
  // A period that does not divide: 10 // 3 = 3 steps (torch's T_0 = training_steps // num_cycles).
  expectRates({ name: "cosineannealingwarmrestarts", lr: 1, totalSteps: 10, numCycles: 3 }, [
    [0, 1],
    [1, 0.75],
    [2, 0.25],
    [3, 1],
    [5, 0.25],
    [9, 1],
  ]);
  // One cycle by default: plain cosine annealing over totalSteps.
  expectRates({ ...o, numCycles: undefined }, [[50, 5.5e-4], [99, at(99 / 4)]]);
});

Deno.test("learningRate() covers every schedule name in SCHEDULES", () => {
  assert.deepEqual([...covered].sort(), [...SCHEDULES].sort());
});

Deno.test("learningRate() with a zero base rate is 0 at every step of every schedule, never NaN", () => {
  for (const name of SCHEDULES) {
    for (const lrEnd of [undefined, 0]) {
      const o: ScheduleOptions = {
        name,
        lr: 0,
        lrEnd,
        totalSteps: 10,
        warmupSteps: 2,
        numCycles: 2,
      };
      for (const step of [0, 1, 2, 5, 9, 10, 20]) {
        assert.equal(learningRate(o, step), 0, `${name} (lrEnd ${lrEnd}) at step ${step}`);
      }
    }
  }
});

Deno.test("learningRate() with totalSteps 0 treats it as 1 step and stays finite", () => {
  for (const name of SCHEDULES) {
    const lr = learningRate({ name, lr: 1e-3, lrEnd: 1e-4, totalSteps: 0, warmupSteps: 0 }, 0);
    assert.ok(Number.isFinite(lr) && lr > 0, `${name}: ${lr}`);
  }
});

Deno.test("parseSchedule() accepts the names in any letter case", () => {
  for (const name of SCHEDULES) {
    assert.equal(parseSchedule(name), name);
    assert.equal(parseSchedule(name.toUpperCase()), name);
  }
  assert.equal(parseSchedule("CosineAnnealingWarmup"), "cosineannealingwarmup");
  assert.equal(parseSchedule("ConstantWithWarmup"), "constantwithwarmup");
});

Deno.test("parseSchedule() rejects an unknown name with the list of valid ones", () => {
  for (const bad of ["cosine", "", "constant ", "linear_warmup_decay"]) {
    assert.throws(
      () => parseSchedule(bad),
      (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.equal(
          e.message,
          `unknown learning-rate schedule "${bad}": expected one of constant, constantwithwarmup, ` +
            "linearwarmupdecay, cosineannealing, cosineannealingwarmup, cosineannealingwarmrestarts",
        );
        return true;
      },
    );
  }
});

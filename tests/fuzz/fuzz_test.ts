/**
 * The short fuzz campaign of the test suite: a few thousand deterministic mutants per parser
 * (tests/fuzz/, docs/fuzzing.md), each of which must be parsed or refused with the project's own
 * error class, within 1 s and 200 MB, and without side effects. The inputs run in a worker that
 * is restarted after an input that hangs (guarded_campaign.ts). Every test, and so its worker,
 * runs with write access to its scratch folder only and no run, net, env or sys access, so a
 * loader that writes elsewhere, spawns a process or connects gets a permission error, counted as
 * a side effect (ffi stays allowed: the worker loads onnxruntime-node's native addon, imported
 * by the transcoder and model modules). A failure names the command that writes its minimised
 * reproducer.
 */
import assert from "node:assert/strict";
import { sandboxPermissions } from "../helpers/captured.ts";
import { failureKind, type TargetReport } from "./campaign.ts";
import { runGuarded } from "./guarded_campaign.ts";
import { TARGETS } from "./targets.ts";

/** The campaign seed and inputs per parser (the whole file runs in well under 60 s). */
const SHORT_CAMPAIGN: { seed: number; inputs: Record<string, number> } = {
  seed: 1,
  inputs: { safetensors: 6000, zip: 6000, pickle: 4000, pt: 5000, saelens: 2500, hf: 2500 },
};

/** A readable summary of a report's failures: each kind once, with a count and an example. */
function describeFailures(r: TargetReport): string {
  const kinds = new Map<string, { count: number; index: number; where: string }>();
  for (const f of r.failures) {
    const k = failureKind(f);
    const e = kinds.get(k) ?? { count: 0, index: f.index, where: f.where };
    e.count++;
    kinds.set(k, e);
  }
  return [...kinds].map(([k, e]) =>
    `  ${e.count} x ${k} (input ${e.index}${e.where ? `, at ${e.where}` : ""})`
  ).join("\n");
}

for (const target of TARGETS) {
  const inputs = SHORT_CAMPAIGN.inputs[target.name];
  const scratch = await Deno.makeTempDir({ prefix: `fuzz-${target.name}-` });
  Deno.test({
    name:
      `fuzz ${target.name}: ${inputs} mutants of valid files are parsed or refused, within budget, without side effects`,
    permissions: sandboxPermissions(scratch),
    async fn() {
      try {
        // Stop at the first hang: its worker would spin on for the rest of the test run.
        const report = await runGuarded(target, {
          seed: SHORT_CAMPAIGN.seed,
          inputs,
          scratch,
          maxHangs: 1,
        });
        assert.equal(
          report.failures.length,
          0,
          `${report.failures.length} of ${inputs} inputs failed:\n${describeFailures(report)}\n` +
            `Reproducers: deno task fuzz --parser ${target.name} --seed ${SHORT_CAMPAIGN.seed} --inputs ${inputs}`,
        );
        const c = report.counts;
        assert.equal(Object.values(c).reduce((a, b) => a + b, 0), inputs, "every input ran");
        assert.ok(c.parsed > 0 && c.refused > 0, `both outcomes occur: ${JSON.stringify(c)}`);
        assert.deepEqual(report.refusedSeeds, [], "every seed (a valid file) is parsed");
        assert.deepEqual([...Deno.readDirSync(scratch)], [], "the scratch folder is left empty");
      } finally {
        Deno.removeSync(scratch, { recursive: true });
      }
    },
  });
}

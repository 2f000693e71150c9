/**
 * The fuzz harness itself, on a stand-in loader (stub_targets.ts) that does one bad thing per
 * input value: every outcome is told apart, a hang is cut off and the campaign goes on in a new
 * worker, and failures come back with their reproducers.
 */
import assert from "node:assert/strict";
import { sandboxPermissions } from "../helpers/captured.ts";
import type { Failure } from "./campaign.ts";
import { runGuarded } from "./guarded_campaign.ts";
import { OUTCOMES } from "./outcome.ts";
import { TARGETS } from "./stub_targets.ts";

const scratch = await Deno.makeTempDir({ prefix: "fuzz-stub-" });

Deno.test({
  name: "the harness tells every outcome apart, minimises, and survives a loader that hangs",
  permissions: sandboxPermissions(scratch),
  async fn() {
    try {
      const failures: { f: Failure; bytes: number[]; minimised: boolean }[] = [];
      const report = await runGuarded(TARGETS[0], {
        seed: 7, // 40 inputs of seed 7 hit every behaviour of the stub, and hang once
        inputs: 40,
        scratch,
        budget: { ms: 100, bytes: 32 * 2 ** 20 },
        hangMs: 500,
        minimise: 1,
        targets: new URL("./stub_targets.ts", import.meta.url).href,
        onFailure: (f, input, minimised) => {
          failures.push({ f, bytes: [...input.get("input.bin")!], minimised });
        },
      });
      assert.equal(report.inputs, 40);
      for (const o of OUTCOMES) {
        assert.ok(report.counts[o] > 0, `${o}: ${JSON.stringify(report.counts)}`);
      }
      assert.deepEqual(report.refusedSeeds, ["seed 1: refused ZipError: input.bin: byte 9 is odd"]);
      const by = (b: number) => failures.filter((x) => x.bytes[0] === b).map((x) => x.f);
      assert.ok(
        by(1).every((f) =>
          f.outcome === "over-time" && /worker running it was written off/.test(f.message)
        ),
      );
      assert.ok(by(2).every((f) => f.outcome === "internal-error" && f.errorName === "TypeError"));
      assert.ok(
        by(3).every((f) => f.outcome === "side-effect" && /\+ written\.txt/.test(f.message)),
      );
      assert.ok(by(4).every((f) => f.outcome === "side-effect" && f.errorName === "NotCapable"));
      assert.ok(by(5).every((f) => f.outcome === "over-memory"));
      assert.ok(
        by(6).every((f) => f.outcome === "over-time" && /returned after \d+ ms/.test(f.message)),
      );
      assert.ok(by(7).every((f) => f.outcome === "stack-overflow" && f.where === ""));
      assert.equal(failures.length, report.failures.length);
      // The first failure of each kind is minimised (one byte is already minimal), later ones not.
      assert.ok(failures.some((x) => x.minimised) && failures.some((x) => !x.minimised));
      assert.ok(failures.every((x) => x.bytes.length === 1));
      assert.deepEqual([...Deno.readDirSync(scratch)], []);
    } finally {
      Deno.removeSync(scratch, { recursive: true });
    }
  },
});

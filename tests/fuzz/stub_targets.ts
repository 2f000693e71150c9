/**
 * A stand-in loader for testing the fuzz harness itself (guarded_campaign_test.ts): its first
 * input byte chooses what it does, one of every outcome the harness must tell apart.
 *
 * @module
 */
import { ZipError } from "../../lib/formats/zip.ts";
import type { Target } from "./targets.ts";

/** What the stub holds on to (never released, so a GC during a later input cannot hide it). */
const held: Uint8Array[] = [];

/**
 * By the first byte: 1 hangs (for 5 s), 2 throws a TypeError, 3 writes a file beside its input, 4 spawns a
 * process, 5 holds on to 64 MB more, 6 is busy for 150 ms, 7 overflows the stack; any other
 * value is parsed when even and refused (a ZipError) when odd.
 */
function load(input: Map<string, Uint8Array>, dir: string): unknown {
  const b = input.get("input.bin")?.[0] ?? 0;
  switch (b) {
    case 1: // asleep rather than spinning, so the written-off worker costs no CPU
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5_000);
      return b;
    case 2:
      return (null as unknown as { x: number }).x;
    case 3:
      Deno.writeTextFileSync(`${dir}/written.txt`, "x");
      return b;
    case 4:
      return new Deno.Command("true").outputSync();
    case 5:
      held.push(new Uint8Array(64 * 2 ** 20).fill(1));
      return held.length;
    case 6: {
      const t0 = performance.now();
      while (performance.now() - t0 < 150) { /* busy */ }
      return b;
    }
    case 7: {
      const f = (n: number): number => f(n + 1) + 1;
      return f(0);
    }
  }
  if (b % 2) throw new ZipError(`input.bin: byte ${b} is odd`);
  return b;
}

/**
 * The stub target: seeds `[0]` and `[9]`; its one mutator sets the first byte to 0..39.
 *
 * @example
 * ```ts
 * import { TARGETS } from "./stub_targets.ts";
 * TARGETS[0].load(new Map([["input.bin", new Uint8Array([8])]]), ""); // 8 (parsed)
 * ```
 */
export const TARGETS: readonly Target[] = [{
  name: "stub",
  api: "a stand-in loader",
  folder: false,
  mutators: {
    "input.bin": [{
      name: "stub.byte",
      weight: 1,
      apply: (_b, rng) => new Uint8Array([rng.int(40)]),
    }],
  },
  seeds: () =>
    Promise.resolve([
      new Map([["input.bin", new Uint8Array([0])]]),
      new Map([["input.bin", new Uint8Array([9])]]),
    ]),
  load,
}];

/**
 * Writing a failing input to disk: the file (or, for a folder loader, the folder) that
 * reproduces it, and a small JSON description beside it.
 *
 * @module
 */
import { join } from "node:path";
import type { Failure } from "./campaign.ts";
import type { FuzzInput } from "./seeds.ts";
import type { Target } from "./targets.ts";

/** What the JSON beside a reproducer says. */
export interface ReproducerInfo {
  parser: string;
  api: string;
  seed: number;
  index: number;
  outcome: string;
  errorName: string;
  message: string;
  where: string;
  ms: number;
  extraMB: number;
  seedIndex: number;
  mutations: string[];
  /** Total bytes of the failing input, and of the reproducer. */
  bytes: number;
  reproducerBytes: number;
  minimised: boolean;
  /** The reproducer's path, relative to the JSON file. */
  reproducer: string;
  /** The command that runs this input again. */
  rerun: string;
}

const total = (input: FuzzInput) => [...input.values()].reduce((s, b) => s + b.length, 0);

/**
 * Writes `input` (the failing input, or its minimised form) into `outDir` as
 * `<parser>-seed<S>-input<I>` plus the file's extension (a folder for folder loaders), and the
 * description as the same name plus `.json`. Returns the reproducer's path.
 *
 * @example
 * ```ts
 * import type { Failure } from "./campaign.ts";
 * import { writeReproducer } from "./reproducer.ts";
 * import { targetByName } from "./targets.ts";
 * const out = await Deno.makeTempDir();
 * const input = new Map([["input.zip", new Uint8Array([0x50, 0x4b])]]);
 * const failure: Failure = {
 *   parser: "zip", seed: 1, index: 9, seedIndex: 0, mutations: ["input.zip:bytes.truncate"], input,
 *   outcome: "internal-error", errorName: "RangeError", message: "Offset is outside the bounds of the DataView",
 *   where: "lib/formats/zip.ts:1:1", ms: 0.1, extraBytes: 0,
 * };
 * await writeReproducer(out, targetByName("zip")!, failure, input, true); // ".../zip-seed1-input9.zip"
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function writeReproducer(
  outDir: string,
  target: Target,
  failure: Failure,
  input: FuzzInput,
  minimised: boolean,
): Promise<string> {
  const base = `${failure.parser}-seed${failure.seed}-input${failure.index}`;
  let name: string;
  if (target.folder) {
    name = base;
    await Deno.remove(join(outDir, name), { recursive: true }).catch(() => {});
    await Deno.mkdir(join(outDir, name), { recursive: true });
    for (const [file, bytes] of input) await Deno.writeFile(join(outDir, name, file), bytes);
  } else {
    const [[file, bytes]] = input.size ? [...input] : [["input.bin", new Uint8Array(0)] as const];
    name = base + file.slice(file.lastIndexOf("."));
    await Deno.writeFile(join(outDir, name), bytes);
  }
  const info: ReproducerInfo = {
    parser: failure.parser,
    api: target.api,
    seed: failure.seed,
    index: failure.index,
    outcome: failure.outcome,
    errorName: failure.errorName,
    message: failure.message,
    where: failure.where,
    ms: Math.round(failure.ms * 10) / 10,
    extraMB: Math.round(failure.extraBytes / 2 ** 20),
    seedIndex: failure.seedIndex,
    mutations: failure.mutations,
    bytes: total(failure.input),
    reproducerBytes: total(input),
    minimised,
    reproducer: name,
    rerun:
      `deno task fuzz --parser ${failure.parser} --seed ${failure.seed} --start ${failure.index} --inputs 1`,
  };
  await Deno.writeTextFile(join(outDir, `${base}.json`), JSON.stringify(info, null, 2) + "\n");
  return join(outDir, name);
}

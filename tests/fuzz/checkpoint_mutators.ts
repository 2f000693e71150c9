/**
 * Mutations of `torch.save` checkpoints from the inside: the archive is unzipped, its
 * `data.pkl` mutated with the pickle mutators (or a storage's bytes with the generic ones, or
 * the list of entries itself changed), and zipped again, stored or deflated, so that the CRCs
 * are right and the pickle, not the zip reader, is what refuses the file.
 *
 * @module
 */
import { unzipSync, zipSync } from "fflate";
import { BYTE_MUTATORS, mutateOnce, type Mutator } from "./byte_mutators.ts";
import { PICKLE_MUTATORS } from "./pickle_mutators.ts";
import { chance, pick, randomBytes, type Rng } from "./rng.ts";
import { safeToUnzip } from "./zip_mutators.ts";

type Files = Record<string, Uint8Array>;

function unzip(bytes: Uint8Array): Files | undefined {
  if (!safeToUnzip(bytes)) return undefined;
  try {
    return unzipSync(bytes);
  } catch {
    return undefined;
  }
}

/** A mutator of a checkpoint's entries; `f` edits them in place. */
function onEntries(
  name: string,
  weight: number,
  f: (files: Files, rng: Rng, donor: Files) => boolean,
): Mutator {
  return {
    name: `pt.${name}`,
    weight,
    apply(bytes, rng, donorBytes) {
      const files = unzip(bytes);
      if (!files || !f(files, rng, unzip(donorBytes) ?? files)) return undefined;
      return zipSync(files, { level: pick(rng, [0, 0, 6] as const) });
    },
  };
}

const keyOf = (files: Files, re: RegExp) => Object.keys(files).filter((k) => re.test(k));

/**
 * The checkpoint mutators.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointZip, dictPickle } from "../formats/pickle_bytes.ts";
 * import { CHECKPOINT_MUTATORS } from "./checkpoint_mutators.ts";
 * import { Rng } from "./rng.ts";
 * const seed = checkpointZip(dictPickle([]), { "0": new Uint8Array(8) });
 * for (const m of CHECKPOINT_MUTATORS) assert.ok(m.apply(seed, new Rng(1), seed) instanceof Uint8Array, m.name);
 * ```
 */
export const CHECKPOINT_MUTATORS: readonly Mutator[] = [
  onEntries("pickle", 30, (files, rng, donor) => {
    const [k] = keyOf(files, /(^|\/)data\.pkl$/);
    if (!k) return false;
    const [d] = keyOf(donor, /(^|\/)data\.pkl$/);
    const { bytes } = mutateOnce(
      [...PICKLE_MUTATORS, ...BYTE_MUTATORS],
      files[k],
      rng,
      donor[d] ?? files[k],
    );
    if (bytes === null) delete files[k];
    else files[k] = bytes;
    return true;
  }),
  onEntries("storage", 6, (files, rng) => {
    const keys = keyOf(files, /\/data\/[^/]+$/);
    if (!keys.length) return false;
    const k = pick(rng, keys);
    files[k] = mutateOnce(BYTE_MUTATORS, files[k], rng, files[k]).bytes ?? new Uint8Array(0);
    return true;
  }),
  onEntries("entries", 6, (files, rng) => {
    const keys = Object.keys(files);
    const prefix = keys.length ? keys[0].split("/")[0] : "archive";
    switch (rng.int(6)) {
      case 0:
        if (keys.length) delete files[pick(rng, keys)];
        break;
      case 1:
        files[`${prefix}/byteorder`] = new TextEncoder().encode(
          pick(rng, ["big", "little\n", "", "middle"]),
        );
        break;
      case 2: // a second top-level folder, with or without its own data.pkl
        files[pick(rng, ["other/data.pkl", "other/x", `${prefix}2/data.pkl`])] =
          files[`${prefix}/data.pkl`] ?? new Uint8Array(1);
        break;
      case 3: // the entries moved under another folder (or to the root)
        for (const k of keys) {
          const to = chance(rng, 0.3)
            ? k.slice(prefix.length + 1)
            : `${pick(rng, ["x", "a/b", ""])}/${k.slice(prefix.length + 1)}`;
          if (to !== k) {
            files[to] = files[k];
            delete files[k];
          }
        }
        break;
      case 4:
        files[`${prefix}/data/${pick(rng, ["999", "0/../1", ""])}`] = randomBytes(rng, rng.int(64));
        break;
      case 5:
        files[`${prefix}/${pick(rng, ["version", ".data/serialization_id", "data.pkl"])}`] =
          randomBytes(rng, rng.int(32));
        break;
    }
    return true;
  }),
];

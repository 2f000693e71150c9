/**
 * Mutations of JSON documents (cfg.json, config.json, a safetensors header) that keep them
 * parseable, so the loader's own checks are what gets exercised: a value replaced by a boundary
 * value or one of another type, a key removed, added or written twice, two values swapped, a
 * value nested ten thousand arrays deep.
 *
 * @module
 */
import type { Mutator } from "./byte_mutators.ts";
import { chance, pick, type Rng } from "./rng.ts";

/**
 * Values that tend to break a loader expecting something else: zero and negative sizes, sizes
 * that overflow int32, float64 integers and allocations, non-integers, and other types.
 *
 * @example
 * ```ts
 * import { INTERESTING_JSON } from "./json_mutators.ts";
 * INTERESTING_JSON.includes(2 ** 40); // true
 * ```
 */
export const INTERESTING_JSON: readonly unknown[] = [
  0,
  -1,
  1,
  2,
  0.5,
  -0,
  2 ** 31,
  2 ** 32,
  2 ** 40,
  2 ** 53,
  2 ** 53 + 2,
  1e300,
  -1e300,
  5e-324,
  null,
  true,
  false,
  "",
  "x",
  "8",
  "__proto__",
  "blocks.0.ln2.hook_normalized",
  [],
  [0],
  [-1, 2 ** 53],
  {},
  { a: 1 },
];

type Key = string | number;
type Json = unknown;

/** Every node's path in a JSON value (the root's is `[]`). */
function paths(v: Json, path: Key[] = [], out: Key[][] = []): Key[][] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...path, i], out));
  else if (isObject(v)) { for (const [k, x] of Object.entries(v)) paths(x, [...path, k], out); }
  return out;
}

const isObject = (v: Json): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function getAt(root: Json, path: readonly Key[]): Json {
  let v = root;
  for (const k of path) v = (v as Record<Key, Json>)[k];
  return v;
}

/** Sets (or with `undefined`, deletes) the value at a path; returns the new root. */
function setAt(root: Json, path: readonly Key[], value: Json): Json {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<Key, Json>;
  const k = path[path.length - 1];
  if (value !== undefined) parent[k] = value;
  else if (Array.isArray(parent)) parent.splice(k as number, 1);
  else delete parent[k];
  return root;
}

const DUP = "\u0000dup";
const DEEP = "\u0000deep";

/** A value of another kind, or a number near the old one. */
function interesting(rng: Rng, old: Json): Json {
  if (typeof old === "number" && chance(rng, 0.3)) {
    return pick(rng, [old + 1, old - 1, old * 2, -old, old * 65536, old + 0.5, String(old)]);
  }
  return structuredClone(pick(rng, INTERESTING_JSON));
}

/**
 * A mutated copy of a JSON value, as text; `hints` are key names worth adding (a loader's
 * fields).
 *
 * @example
 * ```ts
 * import { mutateJson } from "./json_mutators.ts";
 * import { Rng } from "./rng.ts";
 * const text = mutateJson({ d_in: 8, d_sae: 16 }, new Rng(5), ["d_out"]);
 * typeof text; // "string" (usually valid JSON; a duplicated key is valid JSON too)
 * ```
 */
export function mutateJson(value: Json, rng: Rng, hints: readonly string[] = []): string {
  let root = structuredClone(value);
  const all = paths(root);
  const path = pick(rng, all);
  const old = getAt(root, path);
  const objects = all.filter((p) => isObject(getAt(root, p)));
  // Mostly values replaced; one mutation in 12 nests a value deep.
  switch (rng.int(12)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
      root = setAt(root, path, interesting(rng, old));
      break;
    case 5:
      root = path.length ? setAt(root, path, undefined) : root;
      break;
    case 6:
    case 7: {
      if (!objects.length) break;
      const o = getAt(root, pick(rng, objects)) as Record<string, Json>;
      o[hints.length && chance(rng, 0.7) ? pick(rng, hints) : "extra"] = interesting(rng, null);
      break;
    }
    case 8: {
      // A key written twice in the text (JSON.parse keeps the last).
      const withKeys = objects.filter((p) => Object.keys(getAt(root, p) as object).length);
      if (!withKeys.length) break;
      const o = getAt(root, pick(rng, withKeys)) as Record<string, Json>;
      const k = pick(rng, Object.keys(o));
      o[k + DUP] = chance(rng, 0.5) ? o[k] : interesting(rng, o[k]);
      break;
    }
    case 9:
    case 10: {
      const other = pick(rng, all);
      const a = structuredClone(old), b = structuredClone(getAt(root, other));
      if (path.length && other.length && !isPrefix(path, other) && !isPrefix(other, path)) {
        root = setAt(setAt(root, path, b), other, a);
      }
      break;
    }
    case 11:
      root = setAt(root, path, DEEP);
      break;
  }
  let text = JSON.stringify(root, null, chance(rng, 0.5) ? 2 : undefined) ?? "null";
  text = text.replaceAll(`\\u0000dup"`, `"`);
  if (text.includes(`"\\u0000deep"`)) {
    const depth = pick(rng, [50, 100, 1000, 10_000, 100_000]);
    text = text.replace(`"\\u0000deep"`, "[".repeat(depth) + "]".repeat(depth));
  }
  return text;
}

const isPrefix = (a: readonly Key[], b: readonly Key[]) => a.every((k, i) => b[i] === k);

/**
 * The mutator of a JSON file: parses it, mutates one value ({@linkcode mutateJson}) and writes it
 * back; it does not apply to bytes that are not JSON.
 *
 * @example
 * ```ts
 * import { jsonMutator } from "./json_mutators.ts";
 * import { Rng } from "./rng.ts";
 * const bytes = new TextEncoder().encode('{"n_layer": 2}');
 * jsonMutator(["n_embd"]).apply(bytes, new Rng(1), bytes) instanceof Uint8Array; // true
 * ```
 */
export function jsonMutator(hints: readonly string[], weight = 6): Mutator {
  return {
    name: "json.value",
    weight,
    apply(bytes, rng) {
      try {
        const value = JSON.parse(new TextDecoder().decode(bytes));
        return new TextEncoder().encode(mutateJson(value, rng, hints));
      } catch {
        return undefined; // not JSON, or nested too deep for this mutator to walk
      }
    },
  };
}

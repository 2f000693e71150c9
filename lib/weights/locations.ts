/**
 * Where weights live. The embedded tiny model ships inside the package, next to this module:
 * read in place from a local checkout, or, when the package is imported from a URL (JSR, a web
 * server), fetched once from beside the module into the user's cache folder. Downloaded weights
 * (`deno task setup`) go to the user's cache folder too, never into the current directory.
 *
 * - cache folder: `$TC_CACHE_DIR`, else `$XDG_CACHE_HOME/transcoder-circuits`, else
 *   `~/.cache/transcoder-circuits` (`%LOCALAPPDATA%\transcoder-circuits` on Windows);
 * - downloads: `$TC_WEIGHTS_DIR`, else `<cache folder>/weights`.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nearestNames } from "../graph/hooks.ts";
import { ConfigError } from "../model/config.ts";

/** The environment variable naming the cache folder. */
export const CACHE_DIR_ENV = "TC_CACHE_DIR";
/** The environment variable naming the folder that downloaded weights go to. */
export const WEIGHTS_DIR_ENV = "TC_WEIGHTS_DIR";

const env = (name: string): string | undefined => {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: the defaults apply
  }
};

/**
 * The user's cache folder for this toolkit.
 *
 * @example
 * ```ts
 * import { cacheDir } from "./locations.ts";
 * cacheDir(); // e.g. "/home/me/.cache/transcoder-circuits"
 * ```
 */
export function cacheDir(): string {
  const own = env(CACHE_DIR_ENV);
  if (own) return own;
  if (Deno.build.os === "windows") {
    return join(env("LOCALAPPDATA") ?? env("USERPROFILE") ?? ".", "transcoder-circuits");
  }
  const xdg = env("XDG_CACHE_HOME");
  return join(xdg ?? join(env("HOME") ?? ".", ".cache"), "transcoder-circuits");
}

/**
 * The folder that downloaded weight sets go to (`<folder>/gpt2-small`, ...).
 *
 * @example
 * ```ts
 * import { downloadsDir } from "./locations.ts";
 * downloadsDir(); // $TC_WEIGHTS_DIR, or e.g. "/home/me/.cache/transcoder-circuits/weights"
 * ```
 */
export function downloadsDir(): string {
  return env(WEIGHTS_DIR_ENV) ?? join(cacheDir(), "weights");
}

/**
 * The files of the embedded tiny model, relative to the package's `weights/` folder.
 *
 * @example
 * ```ts
 * import { EMBEDDED_FILES } from "./locations.ts";
 * EMBEDDED_FILES[0]; // "tiny/config.json"
 * ```
 */
export const EMBEDDED_FILES: readonly string[] = [
  "tiny/config.json",
  "tiny/model.safetensors",
  ...[0, 1, 2, 3].flatMap((l) =>
    ["cfg.json", "sae_weights.safetensors", "sparsity.safetensors"].map((f) =>
      `tiny/transcoders/layer_${l}/${f}`
    )
  ),
];

/** The package's `weights/` folder, as a URL (a file: URL in a local checkout). */
const EMBEDDED_URL = new URL("../../weights/", import.meta.url);

/** A short stable hash of a string (FNV-1a, 32 bits), to key cache folders by package URL. */
function hashHex(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * The local folder holding the embedded weights (`<folder>/tiny`): the package's own `weights/`
 * in a local checkout; for a package imported from a URL, a cache folder that the files are
 * fetched into once (each written to a temporary file and renamed, so an interrupted fetch leaves
 * nothing half-written).
 *
 * @example
 * ```ts
 * import { existsSync } from "node:fs";
 * import { join } from "node:path";
 * import { embeddedWeightsDir } from "./locations.ts";
 * const dir = await embeddedWeightsDir();
 * existsSync(join(dir, "tiny/config.json")); // true
 * ```
 */
export async function embeddedWeightsDir(): Promise<string> {
  if (EMBEDDED_URL.protocol === "file:") return fileURLToPath(EMBEDDED_URL);
  const dir = join(cacheDir(), "packages", hashHex(EMBEDDED_URL.href), "weights");
  for (const file of EMBEDDED_FILES) {
    const dest = join(dir, file);
    if (existsSync(dest)) continue;
    const url = new URL(file, EMBEDDED_URL);
    const res = await fetch(url);
    if (!res.ok) {
      await res.body?.cancel();
      throw new ConfigError(`could not fetch the embedded weights: ${url} answered ${res.status}`);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    await Deno.mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.part-${Deno.pid}`;
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, dest);
  }
  return dir;
}

/**
 * The model names `loadModel` and `loadPretrained` know, and how to get each.
 *
 * @example
 * ```ts
 * import { PRETRAINED } from "./locations.ts";
 * Object.keys(PRETRAINED); // ["tiny", "gpt2-small"]
 * ```
 */
export const PRETRAINED: Readonly<Record<string, { embedded: boolean; howToGet: string }>> = {
  tiny: {
    embedded: true,
    howToGet: "it ships with the package; retrain it with deno task train-model",
  },
  "gpt2-small": {
    embedded: false,
    howToGet: "run: deno task setup --model gpt2-small --transcoders gpt2-small",
  },
};

/**
 * The folder of a model: a known name (`tiny`, `gpt2-small`) or a path. A word that is neither
 * a known name nor an existing path is refused with the known names and the nearest one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveModelDir } from "./locations.ts";
 * (await resolveModelDir("tiny")).endsWith("tiny"); // true: the embedded model
 * await assert.rejects(resolveModelDir("gpt2-smal"), {
 *   name: "ConfigError",
 *   message: 'unknown model "gpt2-smal": expected tiny, gpt2-small or the path of a Hugging Face GPT-2 folder (did you mean "gpt2-small"?)',
 * });
 * ```
 */
export async function resolveModelDir(nameOrDir: string): Promise<string> {
  const known = PRETRAINED[nameOrDir];
  if (!known) {
    if (!existsSync(nameOrDir) && !/[\\/.]/.test(nameOrDir)) {
      const near = nearestNames(nameOrDir, Object.keys(PRETRAINED), 1, 3)[0];
      throw new ConfigError(
        `unknown model "${nameOrDir}": expected ${
          Object.keys(PRETRAINED).join(", ")
        } or the path of a Hugging Face GPT-2 folder${near ? ` (did you mean "${near}"?)` : ""}`,
      );
    }
    return nameOrDir;
  }
  const dir = join(known.embedded ? await embeddedWeightsDir() : downloadsDir(), nameOrDir);
  if (!existsSync(join(dir, "config.json"))) {
    throw new ConfigError(`weights for "${nameOrDir}" are not in ${dir}: ${known.howToGet}`);
  }
  return dir;
}

/**
 * The registry of known weight sets: where each file comes from (a Hugging Face URL pinned to a
 * commit), where it goes below the weights folder, and its size and sha256 where these are known.
 *
 * Values that could not be verified from a published source are `null`: the downloader then
 * checks the server's Content-Length and records the sha256 on first download in
 * `weights/checksums.lock.json` (trust on first use), verifying against it afterwards.
 *
 * @module
 */

/**
 * The Hugging Face endpoint every registry URL starts with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HF_ENDPOINT, REGISTRY } from "./registry.ts";
 * HF_ENDPOINT; // "https://huggingface.co"
 * const urls = Object.values(REGISTRY).flatMap((s) => s.files.map((f) => f.url));
 * assert.ok(urls.every((u) => u.startsWith(`${HF_ENDPOINT}/`)));
 * ```
 */
export const HF_ENDPOINT = "https://huggingface.co";

/**
 * `openai-community/gpt2` commit pinned for the model. It is the revision whose
 * `model.safetensors` (548,105,171 bytes, sha256 `248dfc39…a707`) and `config.json` (665 bytes,
 * sha256 `0daed774…b7b4`) several independent public projects pin and verify (e.g. asset pins
 * `SOURCE_FILE_PINS`, a Hugging Face cache listing of `models--gpt2/snapshots/607a30d7…` holding
 * blob `248dfc39…a707`, and release-gate manifests with the same size and hashes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT2_REVISION, REGISTRY } from "./registry.ts";
 * const url = REGISTRY["gpt2-small"].files[0].url;
 * GPT2_REVISION.slice(0, 7); // "607a30d"
 * assert.equal(url, `https://huggingface.co/openai-community/gpt2/resolve/${GPT2_REVISION}/config.json`);
 * ```
 */
export const GPT2_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e";

/**
 * `pchlenski/gpt2-transcoders` HEAD commit ("Upload 2 files", after "Upload 24 files").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REGISTRY, TRANSCODERS_REVISION } from "./registry.ts";
 * const files = REGISTRY["gpt2-small-transcoders"].files;
 * const prefix = `https://huggingface.co/pchlenski/gpt2-transcoders/resolve/${TRANSCODERS_REVISION}/`;
 * assert.ok(files.every((f) => f.url.startsWith(prefix)));
 * ```
 */
export const TRANSCODERS_REVISION = "4f3ca345572ce2d75018a60d10b4dca8bd899e99";

/** One file of a weight set. */
export interface WeightFile {
  /** Full download URL (below {@link HF_ENDPOINT} for the built-in sets). */
  url: string;
  /** Destination path relative to the weights folder (`/`-separated). */
  dest: string;
  /** Exact size in bytes, or `null` when not verified (the server's Content-Length is used). */
  size: number | null;
  /** Lower-case hex sha256, or `null` when not verified (trust on first use). */
  sha256: string | null;
  /** Rough size for disk-space estimates when `size` is `null` (e.g. the listing's "151 MB"). */
  approxSize?: number;
}

/** A named group of files downloaded together. */
export interface WeightSet {
  /** `model` (a Hugging Face GPT-2 folder) or `transcoders`. */
  kind: "model" | "transcoders";
  description: string;
  files: WeightFile[];
}

/** A registry: weight sets by name. */
export type Registry = Record<string, WeightSet>;

const gpt2Url = (file: string) =>
  `${HF_ENDPOINT}/openai-community/gpt2/resolve/${GPT2_REVISION}/${file}`;
const transcoderUrl = (file: string) =>
  `${HF_ENDPOINT}/pchlenski/gpt2-transcoders/resolve/${TRANSCODERS_REVISION}/${file}`;

/** The 24 transcoder files: for each layer its weights and its log feature sparsity. */
function transcoderFiles(): WeightFile[] {
  const files: WeightFile[] = [];
  for (let layer = 0; layer < 12; layer++) {
    const stem = `final_sparse_autoencoder_gpt2-small_blocks.${layer}.ln2.hook_normalized_24576`;
    // Sizes and sha256 are null: no published LFS pointer (oid/size) for these files was found.
    // The Hub listing shows only rounded sizes ("151 MB" and "100 kB"); the tensors alone take
    // (2·768·24576 + 24576 + 2·768)·4 = 151,099,392 bytes, plus the pickle's framing and config.
    files.push({
      url: transcoderUrl(`${stem}.pt`),
      dest: `gpt2-small/transcoders/${stem}.pt`,
      size: null,
      sha256: null,
      approxSize: 151_000_000,
    });
    files.push({
      url: transcoderUrl(`${stem}_log_feature_sparsity.pt`),
      dest: `gpt2-small/transcoders/${stem}_log_feature_sparsity.pt`,
      size: null,
      sha256: null,
      approxSize: 100_000,
    });
  }
  return files;
}

/**
 * The built-in weight sets.
 *
 * @example
 * ```ts
 * import { REGISTRY } from "./registry.ts";
 * REGISTRY["gpt2-small"].files.map((f) => f.dest); // ["gpt2-small/config.json", "gpt2-small/model.safetensors"]
 * REGISTRY["gpt2-small-transcoders"].files.length; // 24
 * ```
 */
export const REGISTRY: Registry = {
  "gpt2-small": {
    kind: "model",
    description: `GPT-2 small (openai-community/gpt2@${
      GPT2_REVISION.slice(0, 7)
    }), Hugging Face layout`,
    files: [
      {
        url: gpt2Url("config.json"),
        dest: "gpt2-small/config.json",
        size: 665,
        sha256: "0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4",
      },
      {
        url: gpt2Url("model.safetensors"),
        dest: "gpt2-small/model.safetensors",
        size: 548_105_171,
        sha256: "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
      },
    ],
  },
  "gpt2-small-transcoders": {
    kind: "transcoders",
    description: `GPT-2 small transcoders, layers 0-11 (pchlenski/gpt2-transcoders@${
      TRANSCODERS_REVISION.slice(0, 7)
    })`,
    files: transcoderFiles(),
  },
};

/**
 * Points a registry URL at another endpoint (a mirror, or a local test server): the
 * {@link HF_ENDPOINT} prefix is replaced; other URLs are returned unchanged.
 *
 * @example
 * ```ts
 * import { resolveUrl } from "./registry.ts";
 * resolveUrl("https://huggingface.co/a/b/resolve/x/f.json", "http://127.0.0.1:8080/"); // "http://127.0.0.1:8080/a/b/resolve/x/f.json"
 * ```
 */
export function resolveUrl(url: string, endpoint: string = HF_ENDPOINT): string {
  const base = endpoint.replace(/\/+$/, "");
  return url.startsWith(`${HF_ENDPOINT}/`) ? base + url.slice(HF_ENDPOINT.length) : url;
}

/**
 * Thrown for a registry (file) that is not of the expected shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryError, validateRegistry } from "./registry.ts";
 * const file = { url: "https://x/a", dest: "../a", size: null, sha256: null };
 * const bad = { mine: { kind: "model", description: "", files: [file] } };
 * assert.throws(() => validateRegistry(bad, "reg.json"), RegistryError); // dest leaves the weights folder
 * ```
 */
export class RegistryError extends Error {
  override name = "RegistryError";
}

/**
 * Checks a parsed JSON value as a registry (for `deno task setup --registry <file>`).
 *
 * @example
 * ```ts
 * import { validateRegistry } from "./registry.ts";
 * validateRegistry({ tiny: { kind: "model", description: "", files: [] } }, "reg.json");
 * ```
 */
export function validateRegistry(value: unknown, source: string): Registry {
  const fail = (what: string): never => {
    throw new RegistryError(`${source}: ${what}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("expected an object of weight sets by name");
  }
  for (const [name, set] of Object.entries(value as Record<string, unknown>)) {
    const s = set as Partial<WeightSet>;
    if (typeof s !== "object" || s === null) fail(`set "${name}" is not an object`);
    if (s.kind !== "model" && s.kind !== "transcoders") {
      fail(`set "${name}": kind must be "model" or "transcoders", got ${JSON.stringify(s.kind)}`);
    }
    if (typeof s.description !== "string") fail(`set "${name}": description must be a string`);
    if (!Array.isArray(s.files)) fail(`set "${name}": files must be an array`);
    s.files!.forEach((f, i) => {
      const at = `set "${name}" file ${i}`;
      if (typeof f?.url !== "string" || !/^https?:\/\//.test(f.url)) {
        fail(`${at}: url must be an http(s) URL`);
      }
      if (
        typeof f.dest !== "string" || f.dest === "" || f.dest.startsWith("/") ||
        f.dest.split(/[\\/]/).includes("..")
      ) {
        fail(
          `${at}: dest must be a relative path inside the weights folder, got ${
            JSON.stringify(f.dest)
          }`,
        );
      }
      if (f.size !== null && !(Number.isSafeInteger(f.size) && f.size >= 0)) {
        fail(`${at}: size must be a byte count or null`);
      }
      if (f.sha256 !== null && !(typeof f.sha256 === "string" && /^[0-9a-f]{64}$/.test(f.sha256))) {
        fail(`${at}: sha256 must be 64 lower-case hex digits or null`);
      }
    });
  }
  return value as Registry;
}

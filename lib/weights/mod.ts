/**
 * Pretrained weights: named weight sets and where they live, the registry of downloadable sets,
 * and the resumable, verifying downloader behind `deno task setup`.
 *
 * - Named sets: `loadPretrained` (a model and its transcoders: `Pretrained`), `PRETRAINED` (the
 *   known names and how to get each), `resolveModelDir` (a name or a folder).
 * - Locations: `embeddedWeightsDir` (the tiny model shipped with the package), `cacheDir`,
 *   `downloadsDir`, set by the environment variables `CACHE_DIR_ENV` and `WEIGHTS_DIR_ENV`.
 * - The registry: `REGISTRY` of weight sets (`Registry`, `WeightSet`, `WeightFile`: pinned URLs
 *   below `HF_ENDPOINT`, sizes and sha256 where known).
 * - Downloads: `downloadFile` (`DownloadOptions`, `DownloadResult`); `DownloadError`,
 *   `ChecksumError`, `OfflineError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained, PRETRAINED, REGISTRY } from "@transcoder-circuits/core/weights";
 * Object.keys(PRETRAINED); // ["tiny", "gpt2-small"]
 * const { model, transcoders } = await loadPretrained("tiny"); // embedded: nothing to download
 * assert.deepEqual(transcoders.map((t) => t?.layer), [0, 1, 2, 3]);
 * model.cfg.d_model; // 96
 * // What `deno task setup --model gpt2-small` would fetch:
 * assert.ok(REGISTRY["gpt2-small"].files.some((f) => f.dest.endsWith("model.safetensors")));
 * ```
 *
 * @module
 */
export { loadPretrained, type Pretrained } from "./pretrained.ts";
export {
  CACHE_DIR_ENV,
  cacheDir,
  downloadsDir,
  embeddedWeightsDir,
  PRETRAINED,
  resolveModelDir,
  WEIGHTS_DIR_ENV,
} from "./locations.ts";
export {
  HF_ENDPOINT,
  REGISTRY,
  type Registry,
  type WeightFile,
  type WeightSet,
} from "./registry.ts";
export {
  ChecksumError,
  DownloadError,
  downloadFile,
  type DownloadOptions,
  type DownloadResult,
  OfflineError,
} from "./download.ts";

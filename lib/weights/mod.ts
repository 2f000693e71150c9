/**
 * Pretrained weights: the registry of known weight sets, the resumable verifying downloader, and
 * installation into a weights folder (`deno task setup`).
 *
 * @module
 */
export * from "./registry.ts";
export * from "./download.ts";
export * from "./lock.ts";
export * from "./install.ts";
export * from "./byte_progress.ts";
export * from "./disk.ts";
export * from "./locations.ts";
export * from "./pretrained.ts";

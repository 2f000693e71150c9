/**
 * Weight file formats.
 *
 * @module
 */
export * from "./safetensors.ts";
export * from "./half.ts";

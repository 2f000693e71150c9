/**
 * Weight file formats.
 *
 * @module
 */
export * from "./safetensors.ts";
export * from "./half.ts";
export * from "./zip.ts";
export * from "./pickle.ts";
export * from "./torch_pt.ts";

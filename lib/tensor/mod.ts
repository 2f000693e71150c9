/**
 * Host tensors, seeded randomness and small host-side operations.
 *
 * @module
 */
export * from "./tensor.ts";
export * from "./random.ts";
export * from "./ops.ts";

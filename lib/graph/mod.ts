/**
 * The graph compiler: a typed builder, ONNX serialisation, hook points and onnxruntime sessions.
 *
 * @module
 */
export * from "./ir.ts";
export * from "./builder.ts";
export * from "./onnx.ts";
export * from "./autodiff.ts";
export * from "./hooks.ts";
export * from "./session.ts";

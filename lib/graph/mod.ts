/**
 * The graph compiler behind every heavy computation: a typed builder, reverse-mode autodiff,
 * hook points, ONNX serialisation and onnxruntime sessions.
 *
 * - Building: `Graph` (inputs, operators, constants, outputs), its IR types `Value`, `Node`,
 *   `ElemType`, `AttrValue`, `ConstantData`; `GraphBuildError`.
 * - Gradients: `gradients` (VJPs appended to the same graph) and the operators they cover,
 *   `DIFFERENTIABLE_OPS`.
 * - Hook points: `HookPoints` (values a request may read, replace or add to; `PatchMode`,
 *   `PatchSpec`).
 * - Running: `Runtime` (`RuntimeOptions`; execution providers `Provider`, `PROVIDERS`;
 *   `ProviderUnavailableError`) compiles a graph into a `CompiledGraph`; on WebGPU it keeps the
 *   weights on the device, and `runtime.traffic` (`Traffic`) counts what was uploaded and what
 *   was read from host memory. `ONNXRUNTIME_VERSION` is the onnxruntime-node it runs on.
 * - Serialisation: `toOnnx` (ONNX `ModelProto` bytes, opset `OPSET`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradients, Graph, Runtime } from "@transcoder-circuits/core/graph";
 * import { full } from "@transcoder-circuits/core/tensor";
 * const g = new Graph();
 * const x = g.input("x", "float32", [4, 8]); // [batch, d_in]
 * const w = g.input("w", "float32", [8, 2]); // [d_in, d_out]
 * const loss = g.reduceMean(g.relu(g.matmul(x, w)));
 * g.output("loss", loss);
 * g.output("dw", gradients(g, loss, [w])[0]);
 * const compiled = await new Runtime({ provider: "cpu" }).compile(g);
 * const out = await compiled.run({ x: full([4, 8], 1), w: full([8, 2], 0.5) });
 * assert.deepEqual([out.loss.data[0], out.dw.data[0]], [4, 0.5]);
 * ```
 *
 * @module
 */
export type { AttrValue, ElemType, Node, Value } from "./ir.ts";
export { type ConstantData, Graph, GraphBuildError } from "./builder.ts";
export { DIFFERENTIABLE_OPS, gradients } from "./autodiff.ts";
export { HookPoints, type PatchMode, type PatchSpec } from "./hooks.ts";
export type { Traffic } from "./_device_weights.ts";
export {
  CompiledGraph,
  ONNXRUNTIME_VERSION,
  type Provider,
  PROVIDERS,
  ProviderUnavailableError,
  Runtime,
  type RuntimeOptions,
} from "./session.ts";
export { OPSET, toOnnx } from "./onnx.ts";

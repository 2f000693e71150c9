/**
 * Serialises a built graph to ONNX `ModelProto` bytes (opset 20). Static attributes that ONNX
 * takes as tensor inputs (axes, shapes, slice bounds, split sizes, k) become int64 constants.
 *
 * Weights are graph inputs, never initializers, so the protobuf stays small whatever the model
 * size (protobuf messages are limited to 2 GB; GPT-2 small plus its 12 transcoders is 2.3 GB).
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import type { AttrValue, ElemType, Node, Value } from "./ir.ts";
import type { ConstantData, Graph } from "./builder.ts";

const { onnx } = onnxProto;

/**
 * The ONNX operator set the compiler targets (Gelu with approximate="tanh" needs 20).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OPSET } from "./onnx.ts";
 * OPSET; // 20
 * assert.ok(OPSET >= 20);
 * ```
 */
export const OPSET = 20;

const elemTypeCode: Record<ElemType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
};

/** Attributes that ONNX (opset 13+) takes as int64 tensor inputs, per operator, in order. */
const tensorAttrs: Record<string, string[]> = {
  Reshape: ["shape"],
  Slice: ["starts", "ends", "axes"],
  ReduceSum: ["axes"],
  ReduceMean: ["axes"],
  ReduceMax: ["axes"],
  ReduceLogSumExp: ["axes"],
  Unsqueeze: ["axes"],
  Squeeze: ["axes"],
  Expand: ["shape"],
  Split: ["split"],
  TopK: ["k"],
  Pad: ["pads"],
};

/** Float attributes that Clip takes as scalar inputs. */
const clipInputs = ["min", "max"];

function valueInfo(name: string, v: Value) {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemTypeCode[v.dtype],
        shape: { dim: v.shape.map((d) => ({ dimValue: d })) },
      },
    },
  };
}

function tensorProto(name: string, c: ConstantData) {
  const bytes = new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  return { name, dataType: elemTypeCode[c.dtype], dims: [...c.shape], rawData: bytes.slice() };
}

/** Attributes that ONNX types as floats, even when their value is a whole number. */
const floatAttrs = new Set(["alpha", "beta", "scale"]);

function attributeProto(name: string, v: AttrValue) {
  if (typeof v === "string") {
    return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) };
  }
  if (typeof v === "boolean") {
    return { name, type: onnx.AttributeProto.AttributeType.INT, i: v ? 1 : 0 };
  }
  if (typeof v === "number") {
    return Number.isInteger(v) && !floatAttrs.has(name)
      ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
      : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v };
  }
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...v] };
}

/** The nodes that some graph output depends on, in the builder's (topological) order. */
function liveNodes(g: Graph): Node[] {
  const needed = new Set(g.outputs.map((o) => o.value.id));
  const live: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => needed.has(o.id))) continue;
    live.push(n);
    for (const v of n.inputs) needed.add(v.id);
  }
  return live.reverse();
}

/** Options of {@linkcode toOnnx}. */
export interface ToOnnxOptions {
  /** The graph's name in the ModelProto (default `transcoder_circuits`). */
  graphName?: string;
  /**
   * Write operators the given execution provider lacks as equivalent ones it has, so that no node
   * falls back to the CPU (see docs/gpu.md): for `webgpu`, LogSoftmax as
   * `d - log(sum(exp(d)))` with `d = x - max(x)`. Default: none (the CPU provider has them all).
   */
  lowerFor?: "cpu" | "cuda" | "webgpu";
}

/**
 * Serialises a graph to ONNX bytes. Nodes that no output depends on are left out.
 *
 * @example
 * ```ts
 * import { Graph } from "./builder.ts";
 * import { toOnnx } from "./onnx.ts";
 * const g = new Graph();
 * g.output("y", g.exp(g.input("x", "float32", [3])));
 * const bytes = toOnnx(g); // Uint8Array, loadable by onnxruntime
 * const forWebGpu = toOnnx(g, { lowerFor: "webgpu" }); // the same here: no LogSoftmax to lower
 * ```
 */
export function toOnnx(
  g: Graph,
  { graphName = "transcoder_circuits", lowerFor }: ToOnnxOptions = {},
): Uint8Array {
  const names = new Map<number, string>();
  for (const { name, value } of g.inputs) names.set(value.id, name);
  const nameOf = (v: Value) => names.get(v.id) ?? `t${v.id}`;

  // Only the nodes an output depends on are emitted (a graph built from a forward pass and its
  // gradients often needs none of the forward values), and only the constants they read.
  const live = liveNodes(g);
  const used = new Set(live.flatMap((n) => n.inputs.map((v) => v.id)));
  for (const { value } of g.outputs) used.add(value.id);
  const initializer = [...g.constants].filter(([id]) => used.has(id)).map(([id, c]) =>
    tensorProto(`t${id}`, c)
  );
  let extra = 0;
  const constInput = (data: BigInt64Array | Float32Array, shape: number[], dtype: ElemType) => {
    const name = `c${extra++}`;
    initializer.push(tensorProto(name, { dtype, shape, data }));
    return name;
  };

  type NodeProto = {
    opType: string;
    domain?: string;
    input: string[];
    output: string[];
    attribute: ReturnType<typeof attributeProto>[];
  };
  const nodes = live.flatMap((n: Node): NodeProto[] => {
    if (n.op === "LogSoftmax" && lowerFor === "webgpu") {
      // The WebGPU provider has no LogSoftmax: x - max, then minus the log of the sum of exps.
      const [x, y] = [nameOf(n.inputs[0]), nameOf(n.outputs[0])];
      const axes = constInput(BigInt64Array.of(BigInt(n.attrs.axis as number)), [1], "int64");
      const t = (s: string) => `${y}_lsm_${s}`;
      const keep = [attributeProto("keepdims", 1)];
      return [
        { opType: "ReduceMax", input: [x, axes], output: [t("max")], attribute: keep },
        { opType: "Sub", input: [x, t("max")], output: [t("d")], attribute: [] },
        { opType: "Exp", input: [t("d")], output: [t("e")], attribute: [] },
        { opType: "ReduceSum", input: [t("e"), axes], output: [t("s")], attribute: keep },
        { opType: "Log", input: [t("s")], output: [t("l")], attribute: [] },
        { opType: "Sub", input: [t("d"), t("l")], output: [y], attribute: [] },
      ];
    }
    const inputs = n.inputs.map(nameOf);
    const attrs: Record<string, AttrValue> = { ...n.attrs };
    for (const key of tensorAttrs[n.op] ?? []) {
      const v = attrs[key];
      delete attrs[key];
      if (v === undefined) continue;
      const arr = typeof v === "number" ? [v] : (v as number[]);
      inputs.push(constInput(BigInt64Array.from(arr, BigInt), [arr.length], "int64"));
    }
    if (n.op === "Clip") {
      for (const key of clipInputs) {
        inputs.push(constInput(new Float32Array([attrs[key] as number]), [], "float32"));
        delete attrs[key];
      }
    }
    if (n.op === "Pad") {
      const dtype = n.inputs[0].dtype;
      const v = attrs.value as number;
      delete attrs.value;
      const c = dtype === "float32"
        ? new Float32Array([v])
        : dtype === "int64"
        ? BigInt64Array.from([BigInt(v)])
        : undefined;
      if (!c) throw new TypeError(`Pad of ${dtype} is not supported`);
      inputs.push(constInput(c, [], dtype));
    }
    if (n.op === "Cast") attrs.to = elemTypeCode[attrs.to as ElemType];
    return [{
      opType: n.op === "StopGradient" ? "Identity" : n.op,
      ...(n.domain ? { domain: n.domain } : {}),
      input: inputs,
      output: n.outputs.map(nameOf),
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
    }];
  });
  // Outputs are always produced by an Identity under their own name.
  for (const { name, value } of g.outputs) {
    nodes.push({ opType: "Identity", input: [nameOf(value)], output: [name], attribute: [] });
  }

  const model = onnx.ModelProto.create({
    irVersion: 9,
    producerName: "transcoder-circuits",
    opsetImport: [
      { domain: "", version: OPSET },
      // onnxruntime's contrib operators (MultiHeadAttention), version 1 of their domain.
      ...[...new Set(live.flatMap((n) => n.domain ? [n.domain] : []))].map((domain) => ({
        domain,
        version: 1,
      })),
    ],
    graph: {
      name: graphName,
      node: nodes,
      initializer,
      input: g.inputs.map(({ name, value }) => valueInfo(name, value)),
      output: g.outputs.map(({ name, value }) => valueInfo(name, value)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

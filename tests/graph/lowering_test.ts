/**
 * Operators lowered for an execution provider that lacks them (toOnnx's `lowerFor`) compute what
 * the original operator computes: the lowered ONNX runs on the CPU provider here, against the
 * unlowered graph and a float64 reference.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { Graph } from "../../lib/graph/builder.ts";
import { toOnnx } from "../../lib/graph/onnx.ts";
import { fromOrt, Runtime, toOrt } from "../../lib/graph/session.ts";
import { tensor } from "../../lib/tensor/tensor.ts";

async function runBytes(bytes: Uint8Array, x: Float32Array, shape: number[]) {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
  try {
    const out = await s.run({ x: toOrt(tensor(x, shape)) });
    return fromOrt(out.y).data as Float32Array;
  } finally {
    await s.release();
  }
}

Deno.test("LogSoftmax lowered for WebGPU equals LogSoftmax, on every axis and with large logits", async () => {
  const shape = [3, 5, 7];
  const n = 3 * 5 * 7;
  // Large, spread values: a naive log(sum(exp(x))) would overflow; the lowering subtracts the max.
  const x = Float32Array.from({ length: n }, (_, i) => 40 * Math.sin(i * 1.7) + (i % 7) * 30);
  for (const axis of [0, 1, 2]) {
    const g = new Graph();
    g.output("y", g.logSoftmax(g.input("x", "float32", shape), axis));
    const lowered = toOnnx(g, { lowerFor: "webgpu" });
    const got = await runBytes(lowered, x, shape);
    const want = (await (await new Runtime().compile(g)).run({ x: tensor(x, shape) })).y
      .data as Float32Array;
    // float64 reference
    const strides = [35, 7, 1];
    let worst = 0, worstRef = 0;
    for (let i = 0; i < n; i++) {
      const idx = [Math.floor(i / 35), Math.floor(i / 7) % 5, i % 7];
      let max = -Infinity;
      const others: number[] = [];
      for (let k = 0; k < shape[axis]; k++) {
        const j = i + (k - idx[axis]) * strides[axis];
        others.push(x[j]);
        max = Math.max(max, x[j]);
      }
      const lse = max + Math.log(others.reduce((s, v) => s + Math.exp(v - max), 0));
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
      worstRef = Math.max(worstRef, Math.abs(got[i] - (x[i] - lse)));
    }
    assert.ok(worst < 1e-4, `axis ${axis}: lowered vs LogSoftmax differ by ${worst}`);
    assert.ok(worstRef < 1e-4, `axis ${axis}: lowered vs float64 differ by ${worstRef}`);
    assert.ok(got.every(Number.isFinite));
  }
});

Deno.test("the lowering removes every LogSoftmax node and leaves other graphs as they are", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2, 4]);
  g.output("y", g.logSoftmax(g.exp(x), -1));
  const text = (b: Uint8Array) => new TextDecoder("latin1").decode(b);
  assert.ok(text(toOnnx(g)).includes("LogSoftmax"));
  assert.ok(!text(toOnnx(g, { lowerFor: "webgpu" })).includes("LogSoftmax"));
  assert.deepEqual(toOnnx(g, { lowerFor: "cpu" }), toOnnx(g));
  const plain = new Graph();
  plain.output("y", plain.exp(plain.input("x", "float32", [3])));
  assert.deepEqual(toOnnx(plain, { lowerFor: "webgpu" }), toOnnx(plain));
});

/**
 * Runs compiled graphs on onnxruntime-node. A `Runtime` picks the execution provider
 * (`cpu` by default, `cuda` or `webgpu` on request) and turns provider failures into errors that
 * say what is missing. Host tensors are handed to onnxruntime without copying, so one copy of
 * the weights serves every compiled graph that takes them as inputs.
 *
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.29.0";
import { type DType, shapeStr, type Tensor } from "../tensor/tensor.ts";
import { Graph } from "./builder.ts";
import type { ElemType } from "./ir.ts";
import { toOnnx } from "./onnx.ts";
import { cudaGaps, cudaHint } from "./_cuda_check.ts";
import { DeviceWeights, newTraffic, type Traffic } from "./_device_weights.ts";

/**
 * The onnxruntime-node version this library runs on (the CUDA provider libraries that
 * `deno task setup --cuda` installs are built for exactly this version).
 *
 * @example
 * ```ts
 * import { ONNXRUNTIME_VERSION } from "./session.ts";
 * ONNXRUNTIME_VERSION; // "1.29.0"
 * ```
 */
export const ONNXRUNTIME_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

/** Execution providers a runtime can use. */
export type Provider = "cpu" | "cuda" | "webgpu";

/**
 * The providers this library knows, for validation and messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROVIDERS } from "./session.ts";
 * PROVIDERS; // ["cpu", "cuda", "webgpu"]
 * assert.ok(PROVIDERS.includes("cpu"));
 * ```
 */
export const PROVIDERS: readonly Provider[] = ["cpu", "cuda", "webgpu"];

/**
 * Raised when an execution provider cannot be used on this machine (or is unknown).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Provider, ProviderUnavailableError, Runtime } from "./session.ts";
 * assert.throws(() => new Runtime({ provider: "tpu" as Provider }), ProviderUnavailableError);
 * ```
 */
export class ProviderUnavailableError extends Error {
  override name = "ProviderUnavailableError";
}

/** Options for a runtime. */
export interface RuntimeOptions {
  /** Execution provider (default `cpu`). */
  provider?: Provider;
  /** Threads per operator on CPU (default: onnxruntime's choice, the physical cores). */
  threads?: number;
  /**
   * Keep onnxruntime's CPU memory arena (default false): faster allocation, but each compiled
   * graph then holds on to its peak activation memory for as long as it lives.
   */
  memArena?: boolean;
}

function hint(provider: Provider, detail: string): string {
  if (provider === "cuda") return cudaHint(detail);
  if (provider === "webgpu") {
    return `the WebGPU execution provider found no usable adapter: ${detail}. It needs a GPU with ` +
      `a Vulkan driver and the Vulkan loader (libvulkan.so.1, Debian package libvulkan1). ` +
      `Use provider "cpu" otherwise.`;
  }
  return `the CPU execution provider failed: ${detail}`;
}

const toOrtType: Record<DType, ort.Tensor.Type> = {
  float32: "float32",
  float64: "float64",
  int32: "int32",
  int64: "int64",
  bool: "bool",
};

/**
 * Wraps a host tensor for onnxruntime (no copy).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toOrt } from "./session.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const t = tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const o = toOrt(t);
 * o.dims; // [2, 2]
 * assert.equal(o.type, "float32");
 * assert.equal(o.data, t.data); // the same buffer
 * ```
 */
export function toOrt(t: Tensor): ort.Tensor {
  // deno-lint-ignore no-explicit-any
  return new ort.Tensor(toOrtType[t.dtype], t.data as any, [...t.shape]);
}

/**
 * Converts an onnxruntime tensor to a host tensor (shares the buffer onnxruntime returned).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromOrt, toOrt } from "./session.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const t = fromOrt(toOrt(tensor(new Int32Array([1, 2, 3]), [3])));
 * t.dtype; // "int32"
 * assert.deepEqual(t.shape, [3]);
 * assert.deepEqual(t.data, new Int32Array([1, 2, 3]));
 * ```
 */
export function fromOrt(t: ort.Tensor): Tensor {
  const dtype = t.type as DType;
  if (!(dtype in toOrtType)) throw new TypeError(`unsupported output type ${t.type}`);
  return { dtype, shape: [...t.dims], data: t.data as Tensor["data"] };
}

/**
 * A graph compiled into an onnxruntime session, with its declared inputs and outputs
 * (made by `Runtime.compile`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "./builder.ts";
 * import { Runtime } from "./session.ts";
 * const g = new Graph();
 * const x = g.input("x", "float32", [3]);
 * g.output("double", g.add(x, x));
 * g.output("square", g.mul(x, x));
 * const compiled = await new Runtime().compile(g);
 * compiled.outputNames; // ["double", "square"]
 * assert.deepEqual(compiled.inputs.get("x")?.shape, [3]);
 * const x0 = { dtype: "float32" as const, shape: [3], data: new Float32Array([1, 2, 3]) };
 * const out = await compiled.run({ x: x0 }, ["square"]); // only the outputs asked for
 * assert.deepEqual(Object.keys(out), ["square"]);
 * assert.deepEqual(out.square.data, new Float32Array([1, 4, 9]));
 * await assert.rejects(compiled.run({}), RangeError); // missing graph input "x" [3]
 * await compiled.release();
 * ```
 */
export class CompiledGraph {
  readonly inputs: ReadonlyMap<string, { dtype: ElemType; shape: readonly number[] }>;
  readonly outputNames: readonly string[];
  readonly #session: ort.InferenceSession;
  readonly #ortCache = new WeakMap<Tensor, ort.Tensor>();
  readonly #traffic: Traffic;
  readonly #device?: DeviceWeights;

  constructor(
    session: ort.InferenceSession,
    graph: Graph,
    { traffic = newTraffic(), device }: { traffic?: Traffic; device?: DeviceWeights } = {},
  ) {
    this.#session = session;
    this.#traffic = traffic;
    this.#device = device;
    this.inputs = new Map(graph.inputs.map(({ name, value }) => [name, value]));
    this.outputNames = graph.outputs.map((o) => o.name);
  }

  /**
   * Runs the graph. `feeds` maps every graph input name to a host tensor of exactly the
   * declared dtype and shape; the result maps output names to host tensors.
   */
  async run(
    feeds: Readonly<Record<string, Tensor>>,
    outputs?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    const onDevice: Promise<void>[] = [];
    const traffic = this.#traffic;
    for (const [name, spec] of this.inputs) {
      const t = feeds[name];
      if (!t) throw new RangeError(`missing graph input "${name}" ${shapeStr(spec.shape)}`);
      if (
        t.dtype !== spec.dtype || t.shape.length !== spec.shape.length ||
        t.shape.some((d, i) => d !== spec.shape[i])
      ) {
        throw new RangeError(
          `graph input "${name}" is ${t.dtype} ${shapeStr(t.shape)}, expected ${spec.dtype} ${
            shapeStr(spec.shape)
          }`,
        );
      }
      const copy = this.#device?.get(t);
      if (copy) {
        traffic.deviceInputs++;
        onDevice.push(copy.then((d) => void (ortFeeds[name] = d)));
        continue;
      }
      let o = this.#ortCache.get(t);
      if (!o) {
        o = toOrt(t);
        this.#ortCache.set(t, o);
      }
      ortFeeds[name] = o;
      traffic.hostInputs++;
      traffic.hostBytes += t.data.byteLength;
    }
    await Promise.all(onDevice);
    const res = outputs
      ? await this.#session.run(ortFeeds, [...outputs])
      : await this.#session.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v);
    return out;
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.#session.release();
  }
}

/**
 * An onnxruntime environment bound to one execution provider.
 *
 * @example
 * ```ts
 * import { Graph } from "./builder.ts";
 * import { Runtime } from "./session.ts";
 * const g = new Graph();
 * g.output("y", g.relu(g.input("x", "float32", [2])));
 * const compiled = await new Runtime().compile(g);
 * const { y } = await compiled.run({ x: { dtype: "float32", shape: [2], data: new Float32Array([-1, 2]) } });
 * ```
 */
export class Runtime {
  readonly provider: Provider;
  readonly threads?: number;
  readonly memArena: boolean;
  readonly #traffic: Traffic = newTraffic();
  readonly #device?: DeviceWeights;

  constructor({ provider = "cpu", threads, memArena = false }: RuntimeOptions = {}) {
    if (!PROVIDERS.includes(provider)) {
      throw new ProviderUnavailableError(
        `unknown provider "${provider}": expected one of ${PROVIDERS.join(", ")}`,
      );
    }
    this.provider = provider;
    this.threads = threads;
    this.memArena = memArena;
    if (provider === "webgpu") {
      this.#device = new DeviceWeights(async (t) => {
        const g = new Graph();
        g.output("y", g.identity(g.input("x", t.dtype as ElemType, t.shape)));
        return await this.#session(g, { preferredOutputLocation: "gpu-buffer" });
      }, { wrap: toOrt, traffic: this.#traffic });
    }
  }

  /**
   * What the graphs of this runtime were fed so far: inputs read from host memory (which a GPU
   * provider copies to its device on every run), inputs that were device copies of weights, and
   * the weights uploaded (each once, on its first use; WebGPU only, as onnxruntime-node binds
   * no CUDA device tensors).
   */
  get traffic(): Readonly<Traffic> {
    return this.#traffic;
  }

  /**
   * Compiles a graph to an onnxruntime session. `memArena` overrides the runtime's setting for
   * this session (a graph run many times, like a training step, is faster with the arena).
   */
  async compile(
    graph: Graph,
    { memArena = this.memArena }: { memArena?: boolean } = {},
  ): Promise<CompiledGraph> {
    if (this.provider === "cuda" && Deno.build.os === "linux") {
      // What is missing is found with the system's loader before onnxruntime tries (and logs
      // its own, longer account of the first missing library). The probe knows Linux's names.
      const gaps = cudaGaps();
      if (gaps.length > 0) throw new ProviderUnavailableError(cudaHint(undefined, gaps));
    }
    const session = await this.#session(graph, {
      // Without the arena each session returns its activations' memory after every run; with it,
      // every compiled graph would keep its own peak (gigabytes for full-vocabulary logits).
      enableCpuMemArena: memArena,
    });
    return new CompiledGraph(session, graph, {
      traffic: this.#traffic,
      device: this.#device,
    });
  }

  /** An onnxruntime session of a graph on this runtime's provider. */
  async #session(
    graph: Graph,
    extra: ort.InferenceSession.SessionOptions,
  ): Promise<ort.InferenceSession> {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [this.provider],
      graphOptimizationLevel: "all",
      enableCpuMemArena: this.memArena,
      ...(this.threads ? { intraOpNumThreads: this.threads } : {}),
      ...extra,
    };
    try {
      return await ort.InferenceSession.create(toOnnx(graph, { lowerFor: this.provider }), options);
    } catch (e) {
      const detail = String((e as Error).message ?? e).split("\n")[0];
      if (this.provider !== "cpu") throw new ProviderUnavailableError(hint(this.provider, detail));
      throw e;
    }
  }
}

/**
 * Weights that stay on the GPU. Every compiled graph takes the weights as inputs (so one host
 * copy serves all of them); on a GPU provider, onnxruntime would copy each input to the device
 * on every run. Tensors marked as weights ({@link markWeights}: the model's parameters, a
 * transcoder's) are instead uploaded once per runtime and fed as device tensors from then on.
 *
 * Where the provider allows it: onnxruntime-node binds device tensors only for WebGPU (tensor
 * location `gpu-buffer`); on `cuda` the inputs are still copied per run (docs/gpu.md). A weight
 * changed in place after its upload is not seen by GPU runs; replace the tensor instead (as
 * every function of this library does).
 *
 * @module
 */
import type * as ort from "npm:onnxruntime-node@1.29.0";
import type { Tensor } from "../tensor/tensor.ts";

const weights = new WeakSet<Tensor>();

/**
 * Marks tensors as weights: never changed in place, so a GPU runtime may keep a copy of each on
 * its device (uploaded on first use).
 *
 * @example
 * ```ts
 * import { isWeight, markWeights } from "./_device_weights.ts";
 * const w = { dtype: "float32" as const, shape: [2], data: new Float32Array(2) };
 * markWeights([w]);
 * isWeight(w); // true
 * ```
 */
export function markWeights(tensors: Iterable<Tensor>): void {
  for (const t of tensors) weights.add(t);
}

/** Whether a tensor was marked with {@link markWeights}. */
export function isWeight(t: Tensor): boolean {
  return weights.has(t);
}

/** What a runtime's graphs were fed so far (see `Runtime.traffic`). */
export interface Traffic {
  /** Inputs read from host memory, and their bytes. */
  hostInputs: number;
  hostBytes: number;
  /** Inputs fed as device copies of weights. */
  deviceInputs: number;
  /** Weights copied to the device (once each), and their bytes. */
  uploads: number;
  uploadBytes: number;
}

/** All counts zero. */
export const newTraffic = (): Traffic => ({
  hostInputs: 0,
  hostBytes: 0,
  deviceInputs: 0,
  uploads: 0,
  uploadBytes: 0,
});

/** Makes a one-input Identity session whose output stays on the device. */
export type Uploader = (t: Tensor) => Promise<ort.InferenceSession>;

/** One runtime's device copies of weights, by host tensor. */
export class DeviceWeights {
  readonly #traffic: Traffic;
  readonly #copies = new WeakMap<Tensor, Promise<ort.Tensor>>();
  readonly #uploaders = new Map<string, Promise<ort.InferenceSession>>();
  readonly #makeUploader: Uploader;
  readonly #wrap: (t: Tensor) => ort.Tensor;
  readonly #freed = new FinalizationRegistry<ort.Tensor>((t) => t.dispose());

  constructor(
    makeUploader: Uploader,
    { wrap, traffic }: { wrap: (t: Tensor) => ort.Tensor; traffic: Traffic },
  ) {
    this.#makeUploader = makeUploader;
    this.#wrap = wrap;
    this.#traffic = traffic;
  }

  /** The device copy of a weight (uploading it the first time), or `undefined` for others. */
  get(t: Tensor): Promise<ort.Tensor> | undefined {
    if (!isWeight(t)) return undefined;
    let copy = this.#copies.get(t);
    if (!copy) {
      copy = this.#upload(t);
      this.#copies.set(t, copy);
      copy.catch(() => this.#copies.delete(t));
    }
    return copy;
  }

  async #upload(t: Tensor): Promise<ort.Tensor> {
    const key = `${t.dtype}[${t.shape.join(",")}]`;
    let uploader = this.#uploaders.get(key);
    if (!uploader) {
      uploader = this.#makeUploader(t);
      this.#uploaders.set(key, uploader);
    }
    const session = await uploader;
    const { y } = await session.run({ x: this.#wrap(t) });
    this.#traffic.uploads++;
    this.#traffic.uploadBytes += t.data.byteLength;
    this.#freed.register(t, y);
    return y;
  }
}

/**
 * The activations recorded by a forward pass, keyed by TransformerLens hook name.
 *
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { nearestNames } from "../graph/hooks.ts";

/**
 * A read-only map from hook names to host tensors in TransformerLens shapes.
 * `get` throws for a hook that was not recorded, naming what was.
 *
 * @example
 * ```ts
 * import { ActivationCache } from "./activation_cache.ts";
 * const cache = new ActivationCache(new Map([["hook_embed", { dtype: "float32", shape: [1, 1, 2], data: new Float32Array(2) }]]));
 * cache.get("hook_embed").shape; // [1, 1, 2]
 * ```
 */
export class ActivationCache implements Iterable<[string, Tensor<"float32">]> {
  readonly #entries: Map<string, Tensor<"float32">>;

  constructor(entries: Map<string, Tensor<"float32">>) {
    this.#entries = entries;
  }

  /** The value recorded at a hook. */
  get(name: string): Tensor<"float32"> {
    const t = this.#entries.get(name);
    if (!t) {
      const near = nearestNames(name, this.#entries.keys(), 3).map((n) => `"${n}"`).join(", ");
      throw new RangeError(
        `hook "${name}" is not in this cache (${this.#entries.size} hooks recorded${
          near ? `; nearest: ${near}` : ""
        }): pass it in names when running the model`,
      );
    }
    return t;
  }

  /** Whether a hook was recorded. */
  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Hook names in execution order. */
  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /** Number of hooks recorded. */
  get size(): number {
    return this.#entries.size;
  }

  [Symbol.iterator](): IterableIterator<[string, Tensor<"float32">]> {
    return this.#entries[Symbol.iterator]();
  }
}

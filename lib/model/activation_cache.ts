/**
 * The activations recorded by a forward pass, keyed by TransformerLens hook name.
 *
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { nearestNames } from "../graph/hooks.ts";

/** Hook names as properties: `cache["blocks.0.hook_mlp_out"]`, as in TransformerLens. */
export interface ActivationCache {
  readonly [hook: `blocks.${string}` | `hook_${string}` | `ln_final.${string}`]: Tensor<"float32">;
}

/** Whether a property name is a hook name (rather than a method or a runtime probe). */
const isHookName = (p: string) =>
  p.startsWith("blocks.") || p.startsWith("hook_") ||
  p.startsWith("ln_final.");

/**
 * A read-only map from hook names to host tensors in TransformerLens shapes. `get(name)` and
 * `cache[name]` (also from plain JavaScript) throw for a hook that was not recorded, naming what
 * was, instead of returning undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActivationCache } from "./activation_cache.ts";
 * const cache = new ActivationCache(new Map([["hook_embed", { dtype: "float32", shape: [1, 1, 2], data: new Float32Array(2) }]]));
 * cache.get("hook_embed").shape; // [1, 1, 2]
 * cache["hook_embed"].shape; // [1, 1, 2]: the same tensor
 * assert.throws(() => cache["hook_pos_embed"], /hook "hook_pos_embed" is not in this cache/);
 * ```
 */
export class ActivationCache implements Iterable<[string, Tensor<"float32">]> {
  readonly #entries: Map<string, Tensor<"float32">>;

  constructor(entries: Map<string, Tensor<"float32">>) {
    this.#entries = entries;
    // Hook names read as properties go to get(); the class's own members stay as they are.
    return new Proxy(this, {
      get(target, prop) {
        if (typeof prop === "string" && !(prop in target) && isHookName(prop)) {
          return target.get(prop);
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
      has: (target, prop) =>
        typeof prop === "string" && isHookName(prop) ? target.has(prop) : prop in target,
    });
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

/**
 * Hook points inside a graph: named values that a request can read (they become graph outputs)
 * or patch (they are replaced by, or have added to them, a tensor fed as a graph input named
 * `patch:<hook name>`). The model code calls `hook(name, value)` at every TransformerLens hook
 * point and never changes for a new kind of request.
 *
 * @module
 */
import { type Graph, GraphBuildError } from "./builder.ts";
import type { Value } from "./ir.ts";
import { shapeStr } from "../tensor/tensor.ts";
import { broadcastShapes } from "./builder.ts";

/** How a patch changes a hook's value. */
export type PatchMode = "replace" | "add";

/** A patch request at compile time: the mode and the shape of the tensor that will be fed. */
export interface PatchSpec {
  mode: PatchMode;
  shape: readonly number[];
  /**
   * For "replace": the fed tensor becomes the hook's value with its own (broadcastable) shape,
   * instead of being expanded to the hook's shape, so that consumers broadcast it (a frozen
   * attention pattern `[1, h, q, k]` shared by a batch is then never copied B times).
   */
  keepShape?: boolean;
}

/**
 * The graph input name that carries the patch for a hook.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { patchInputName } from "./hooks.ts";
 * patchInputName("blocks.0.hook_mlp_out"); // "patch:blocks.0.hook_mlp_out"
 * assert.equal(patchInputName("hook_embed"), "patch:hook_embed");
 * ```
 */
export function patchInputName(hook: string): string {
  return `patch:${hook}`;
}

/**
 * Records every hook point of a graph being built and applies the requested reads and patches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "./builder.ts";
 * import { HookPoints, patchInputName } from "./hooks.ts";
 * import { Runtime } from "./session.ts";
 * const g = new Graph();
 * // Read hook "h" and add a patch of shape [1] (broadcast) to it.
 * const hooks = new HookPoints(g, ["h"], new Map([["h", { mode: "add" as const, shape: [1] }]]));
 * const x = g.input("x", "float32", [2]);
 * const h = hooks.hook("h", g.relu(x)); // relu(x) + patch
 * g.output("y", g.mul(h, g.scalar(2)));
 * const compiled = await new Runtime().compile(g);
 * const out = await compiled.run({
 *   x: { dtype: "float32", shape: [2], data: new Float32Array([-1, 2]) },
 *   [patchInputName("h")]: { dtype: "float32", shape: [1], data: new Float32Array([10]) },
 * });
 * out.h.data; // Float32Array [10, 12]: the patched hook value
 * assert.deepEqual(out.h.data, new Float32Array([10, 12]));
 * assert.deepEqual(out.y.data, new Float32Array([20, 24]));
 * ```
 */
export class HookPoints {
  /** Every hook created, in execution order, with its (possibly patched) value. */
  readonly values: Map<string, Value> = new Map();
  readonly #g: Graph;
  readonly #outputs: ReadonlySet<string>;
  readonly #patches: ReadonlyMap<string, PatchSpec>;

  constructor(
    g: Graph,
    outputs: Iterable<string> = [],
    patches: ReadonlyMap<string, PatchSpec> = new Map(),
  ) {
    this.#g = g;
    this.#outputs = new Set(outputs);
    this.#patches = patches;
  }

  /** Declares a hook point: applies a patch if one is requested and outputs it if asked. */
  hook(name: string, v: Value): Value {
    if (this.values.has(name)) throw new GraphBuildError(`hook "${name}" declared twice`);
    const patch = this.#patches.get(name);
    if (patch) {
      const out = broadcastShapes(patch.shape, v.shape);
      if (!out || out.some((d, i) => d !== v.shape[i]) || out.length !== v.shape.length) {
        throw new RangeError(
          `patch for "${name}" has shape ${
            shapeStr(patch.shape)
          }, which does not broadcast to the hook's shape ${shapeStr(v.shape)}`,
        );
      }
      const p = this.#g.input(patchInputName(name), v.dtype, patch.shape);
      v = patch.mode === "add"
        ? this.#g.add(v, p)
        : patch.keepShape
        ? p
        : this.#g.expand(p, v.shape);
    }
    this.values.set(name, v);
    if (this.#outputs.has(name)) this.#g.output(name, v);
    return v;
  }
}

/**
 * Up to `k` names from `candidates` closest to `name` (edit distance, at most `maxDistance`),
 * for "did you mean" messages.
 *
 * @example
 * ```ts
 * import { nearestNames } from "./hooks.ts";
 * nearestNames("blocks.0.hook_mlp_ot", ["blocks.0.hook_mlp_out", "blocks.0.hook_attn_out"]);
 * // ["blocks.0.hook_mlp_out", "blocks.0.hook_attn_out"]
 * nearestNames("gpt2-smal", ["tiny", "gpt2-small"], 1, 3); // ["gpt2-small"]
 * nearestNames("llama", ["tiny", "gpt2-small"], 1, 3); // [] (nothing within 3 edits)
 * ```
 */
export function nearestNames(
  name: string,
  candidates: Iterable<string>,
  k = 3,
  maxDistance = Infinity,
): string[] {
  const dist = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = tmp;
      }
    }
    return row[b.length];
  };
  return [...candidates]
    .map((c) => ({ c, d: dist(name, c) }))
    .filter((x) => x.d <= maxDistance)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, k)
    .map((x) => x.c);
}

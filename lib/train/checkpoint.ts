/**
 * Training checkpoints: parameters and Adam moments in one safetensors file with JSON metadata
 * (what was trained, with which config, how far). Writes are atomic (temporary file + rename),
 * refuse non-finite tensors, and keep the previous checkpoint beside the new one, so an
 * interrupted or failed write never replaces a good checkpoint with a broken one.
 *
 * @module
 */
import { existsSync } from "node:fs";
import {
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  writeFileAtomic,
} from "../formats/safetensors.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { TrainState } from "./trainer.ts";

/**
 * Raised for a checkpoint that cannot be used (corrupt, or from another configuration).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, loadCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(loadCheckpoint(`${dir}/none.safetensors`), CheckpointError);
 * // CheckpointError: checkpoint .../none.safetensors is unreadable: No such file or directory ...
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** Metadata stored with every checkpoint. */
export interface CheckpointMeta {
  /** What is trained (e.g. "gpt2-lm", "transcoder"). */
  kind: string;
  /** The configuration that must match to resume (compared field by field). */
  config: Record<string, unknown>;
  step: number;
  /** Anything else needed to resume exactly (data cursor, tokens seen, counters). */
  extra: Record<string, unknown>;
}

/**
 * Serialises state and metadata, refusing NaN or infinite values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSafetensors } from "../formats/safetensors.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { CheckpointError, serializeCheckpoint } from "./checkpoint.ts";
 * import { initialState } from "./trainer.ts";
 * const state = initialState(new Map([["w", tensor(new Float32Array([1, 2]), [2])]]));
 * const meta = { kind: "demo", config: { lr: 0.1 }, step: 0, extra: {} };
 * const file = parseSafetensors(serializeCheckpoint(state, meta));
 * assert.deepEqual([...file.tensors.keys()], ["param.w", "adam_m.w", "adam_v.w"]);
 * file.metadata.checkpoint; // '{"kind":"demo","config":{"lr":0.1},"step":0,"extra":{}}'
 * state.params.get("w")!.data[1] = NaN;
 * assert.throws(() => serializeCheckpoint(state, meta), CheckpointError);
 * // CheckpointError: refusing to checkpoint step 0: param "w" has a non-finite value NaN at 1
 * ```
 */
export function serializeCheckpoint(state: TrainState, meta: CheckpointMeta): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (
    const [prefix, map] of [["param", state.params], ["adam_m", state.m], [
      "adam_v",
      state.v,
    ]] as const
  ) {
    for (const [k, t] of map) {
      const d = t.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) {
          throw new CheckpointError(
            `refusing to checkpoint step ${state.step}: ${prefix} "${k}" has a non-finite value ${
              d[i]
            } at ${i}`,
          );
        }
      }
      tensors.set(`${prefix}.${k}`, t);
    }
  }
  return serializeSafetensors(tensors, {
    metadata: { checkpoint: JSON.stringify({ ...meta, step: state.step }) },
  });
}

/**
 * Writes a checkpoint to `path`, keeping the previous one as `<path>.prev`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "../tensor/tensor.ts";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import { initialState } from "./trainer.ts";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/checkpoint.safetensors`;
 * const state = initialState(new Map([["w", tensor(new Float32Array([1, 2]), [2])]]));
 * const meta = { kind: "demo", config: { lr: 0.1 }, step: 0, extra: {} };
 * await saveCheckpoint(path, state, meta);
 * state.step = 1;
 * await saveCheckpoint(path, state, { ...meta, step: 1 });
 * assert.equal((await loadCheckpoint(path)).meta.step, 1);
 * assert.equal((await loadCheckpoint(`${path}.prev`)).meta.step, 0); // the previous checkpoint
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  path: string,
  state: TrainState,
  meta: CheckpointMeta,
): Promise<void> {
  const bytes = serializeCheckpoint(state, meta);
  try {
    if (existsSync(path)) await Deno.copyFile(path, `${path}.prev`);
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new CheckpointError(
      `could not write checkpoint ${path} at step ${state.step} (${(e as Error).message}); ` +
        `the previous checkpoint is untouched${existsSync(path) ? ` at ${path}` : ""}`,
    );
  }
}

/**
 * Reads a checkpoint; throws a CheckpointError naming the file for anything malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "../tensor/tensor.ts";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import { initialState } from "./trainer.ts";
 * const dir = await Deno.makeTempDir();
 * const params = new Map([["w", tensor(new Float32Array([1, 2]), [2])]]);
 * const meta = { kind: "demo", config: { lr: 0.1 }, step: 0, extra: { tokens: 0 } };
 * await saveCheckpoint(`${dir}/c.safetensors`, initialState(params), meta);
 * const { state, meta: read } = await loadCheckpoint(`${dir}/c.safetensors`);
 * state.params.get("w")?.data; // Float32Array [1, 2]
 * assert.deepEqual(read, meta);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(
  path: string,
): Promise<{ state: TrainState; meta: CheckpointMeta }> {
  let file;
  try {
    file = parseSafetensors(await Deno.readFile(path), path);
  } catch (e) {
    if (e instanceof SafetensorsError || e instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`checkpoint ${path} is unreadable: ${(e as Error).message}`);
    }
    throw e;
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(file.metadata.checkpoint);
  } catch {
    throw new CheckpointError(`checkpoint ${path} has no valid "checkpoint" metadata`);
  }
  const state: TrainState = { params: new Map(), m: new Map(), v: new Map(), step: meta.step };
  for (const [k, t] of file.tensors) {
    const dot = k.indexOf(".");
    const map = { param: state.params, adam_m: state.m, adam_v: state.v }[k.slice(0, dot)];
    if (!map || t.dtype !== "float32") {
      throw new CheckpointError(`checkpoint ${path}: unexpected tensor "${k}"`);
    }
    map.set(k.slice(dot + 1), t as Tensor<"float32">);
  }
  for (const k of state.params.keys()) {
    if (!state.m.has(k) || !state.v.has(k)) {
      throw new CheckpointError(`checkpoint ${path}: no Adam moments for "${k}"`);
    }
  }
  return { state, meta };
}

/**
 * Throws unless a checkpoint was written for this kind and configuration, naming the first
 * field that differs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, checkCompatible } from "./checkpoint.ts";
 * const meta = { kind: "gpt2-lm", config: { lr: 1e-3, batch: 8 }, step: 100, extra: {} };
 * checkCompatible(meta, "gpt2-lm", { lr: 1e-3, batch: 8 }, "c.safetensors"); // ok
 * const other = { lr: 2e-3, batch: 8 };
 * assert.throws(() => checkCompatible(meta, "gpt2-lm", other, "c.safetensors"), CheckpointError);
 * // CheckpointError: checkpoint c.safetensors is from another configuration: lr is 0.002 here
 * // but 0.001 in the checkpoint (use the same options to resume, or another --out to start afresh)
 * ```
 */
export function checkCompatible(
  meta: CheckpointMeta,
  kind: string,
  config: Record<string, unknown>,
  path: string,
): void {
  if (meta.kind !== kind) {
    throw new CheckpointError(`checkpoint ${path} is a "${meta.kind}" checkpoint, not "${kind}"`);
  }
  const keys = new Set([...Object.keys(config), ...Object.keys(meta.config)]);
  for (const k of keys) {
    const a = JSON.stringify(config[k]), b = JSON.stringify(meta.config[k]);
    if (a !== b) {
      throw new CheckpointError(
        `checkpoint ${path} is from another configuration: ${k} is ${a} here but ${b} in the checkpoint ` +
          `(use the same options to resume, or another --out to start afresh)`,
      );
    }
  }
}

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

/** Raised for a checkpoint that cannot be used (corrupt, or from another configuration). */
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

/** Serialises state and metadata, refusing NaN or infinite values. */
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
            `refusing to checkpoint step ${meta.step}: ${prefix} "${k}" has a non-finite value ${
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
 * ```ts ignore
 * await saveCheckpoint("runs/tiny/checkpoint.safetensors", trainer.state, { kind: "gpt2-lm", config, step, extra });
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

/** Reads a checkpoint; throws a CheckpointError naming the file for anything malformed. */
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

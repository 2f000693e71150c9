/**
 * The reference's own transcoder files (e.g. HF `pchlenski/gpt2-transcoders`):
 * `final_sparse_autoencoder_{model}_{hook_point}_{d_sae}.pt`, written by `torch.save({"cfg": cfg,
 * "state_dict": sae.state_dict()})`, where `cfg` is a pickled
 * `sae_training.config.LanguageModelSAERunnerConfig` and the state dict holds `W_enc [d_in, d_sae]`,
 * `b_enc [d_sae]`, `W_dec [d_sae, d_out]`, `b_dec [d_in]`, `b_dec_out [d_out]`. Beside it,
 * `<stem>_log_feature_sparsity.pt` holds the per-feature log10 firing frequency `[d_sae]` (a
 * tensor; the Pythia release stores a dict `{"freqs": tensor}`).
 *
 * Files are read with torch_pt.ts, which never executes pickle code: the config class becomes a
 * plain record of its fields, which becomes the TranscoderConfig (`hook_point` → `hook_name`,
 * `hook_point_layer` → `hook_layer`, `out_hook_point` → `out_hook_name`, default
 * `blocks.{L}.hook_mlp_out`) with every other field kept as a JSON-able value.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { isPickleRecord } from "../formats/pickle.ts";
import { isHostTensor, readTorchCheckpoint } from "../formats/torch_pt.ts";
import type { Runtime } from "../graph/session.ts";
import { shapeStr, type Tensor, toFloat32, toNested } from "../tensor/tensor.ts";
import { parseTranscoderConfig } from "./saelens_folder.ts";
import {
  checkTranscoderParams,
  isSaeConfig,
  Transcoder,
  TRANSCODER_PARAMS,
  type TranscoderConfig,
  TranscoderError,
} from "./transcoder.ts";

/**
 * The config classes a reference checkpoint may pickle (read as plain records).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { readTorchCheckpoint } from "../formats/torch_pt.ts";
 * import { REFERENCE_RECORD_CLASSES } from "./_reference_pt.ts";
 * // A small reference checkpoint written by PyTorch (tests/fixtures/make_pt_fixtures.py):
 * const stem = "final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64";
 * const pt = fileURLToPath(new URL(`../../tests/fixtures/pt/${stem}.pt`, import.meta.url));
 * // Unknown classes are refused:
 * await assert.rejects(readTorchCheckpoint(pt), /"sae_training.config.LanguageModelSAERunnerConfig" is not/);
 * const ckpt = await readTorchCheckpoint(pt, { recordClasses: REFERENCE_RECORD_CLASSES });
 * assert.ok(ckpt instanceof Map);
 * const cfg = ckpt.get("cfg") as Record<string, unknown>; // the config's fields, nothing executed
 * cfg.hook_point; // "blocks.1.ln2.hook_normalized"
 * assert.equal(cfg.__class__, "sae_training.config.LanguageModelSAERunnerConfig");
 * ```
 */
export const REFERENCE_RECORD_CLASSES: readonly string[] = [
  "sae_training.config.LanguageModelSAERunnerConfig",
  "sae_training.config.RunnerConfig",
];

/**
 * Suffix of the sparsity sidecar, appended to the checkpoint's stem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SPARSITY_SIDECAR_SUFFIX } from "./_reference_pt.ts";
 * const stem = "final_sparse_autoencoder_gpt2-small_blocks.8.ln2.hook_normalized_24576";
 * const sidecar = stem + SPARSITY_SIDECAR_SUFFIX; // "..._24576_log_feature_sparsity.pt"
 * assert.ok(sidecar.endsWith("_24576_log_feature_sparsity.pt"));
 * ```
 */
export const SPARSITY_SIDECAR_SUFFIX = "_log_feature_sparsity.pt";

/**
 * The sidecar path of a checkpoint: `<stem>_log_feature_sparsity.pt`.
 *
 * @example
 * ```ts
 * import { sparsitySidecarPath } from "./_reference_pt.ts";
 * sparsitySidecarPath("tc/final_x_24576.pt"); // "tc/final_x_24576_log_feature_sparsity.pt"
 * ```
 */
export function sparsitySidecarPath(path: string): string {
  return path.replace(/\.pt$/, "") + SPARSITY_SIDECAR_SUFFIX;
}

/**
 * Whether a path names a reference checkpoint (`.pt`, not a sparsity sidecar).
 *
 * @example
 * ```ts
 * import { isReferenceCheckpointPath } from "./_reference_pt.ts";
 * isReferenceCheckpointPath("x_24576_log_feature_sparsity.pt"); // false
 * ```
 */
export function isReferenceCheckpointPath(path: string): boolean {
  return path.endsWith(".pt") && !path.endsWith(SPARSITY_SIDECAR_SUFFIX);
}

/** Converts an unpickled value to plain JSON-able data (Maps → objects, bigints → numbers). */
function toJsonable(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v === undefined) return null;
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map(toJsonable);
  if (v instanceof Set) return [...v].map(toJsonable);
  if (v instanceof Map) {
    return Object.fromEntries([...v].map(([k, x]) => [String(k), toJsonable(x)]));
  }
  if (v instanceof Uint8Array) return Array.from(v);
  if (isHostTensor(v)) return toNested(v);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonable(x)]));
}

/**
 * Builds a Transcoder from an unpickled reference checkpoint. `source` names the file in errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { readTorchCheckpoint } from "../formats/torch_pt.ts";
 * import { REFERENCE_RECORD_CLASSES, transcoderFromReferenceCheckpoint } from "./_reference_pt.ts";
 * import { TranscoderError } from "./transcoder.ts";
 * // A small reference checkpoint written by PyTorch (tests/fixtures/make_pt_fixtures.py):
 * const stem = "final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64";
 * const pt = fileURLToPath(new URL(`../../tests/fixtures/pt/${stem}.pt`, import.meta.url));
 * const ckpt = await readTorchCheckpoint(pt, { recordClasses: REFERENCE_RECORD_CLASSES });
 * const tc = transcoderFromReferenceCheckpoint(ckpt, pt);
 * tc.cfg.out_hook_name; // "blocks.1.hook_mlp_out" (from the reference's out_hook_point)
 * tc.W_dec.shape; // [64, 16]
 * assert.equal(tc.cfg.l1_coefficient, 1.4e-4); // other config fields are kept
 * assert.throws(
 *   () => transcoderFromReferenceCheckpoint(new Map([["state_dict", new Map()]]), "x.pt"),
 *   TranscoderError, // x.pt: expected a dict with "cfg" and "state_dict" ...
 * );
 * ```
 */
export function transcoderFromReferenceCheckpoint(
  ckpt: unknown,
  source: string,
  runtime?: Runtime,
): Transcoder {
  const fail = (msg: string): never => {
    throw new TranscoderError(`${source}: ${msg}`);
  };
  if (!(ckpt instanceof Map) || !ckpt.has("cfg") || !ckpt.has("state_dict")) {
    const keys = ckpt instanceof Map
      ? `a dict with keys ${[...ckpt.keys()].map(String).join(", ")}`
      : "not a dict";
    fail(
      `expected a dict with "cfg" and "state_dict" (as SparseAutoencoder.save_model writes), got ${keys}`,
    );
  }
  const m = ckpt as Map<string, unknown>;
  const rawCfg = m.get("cfg");
  if (!isPickleRecord(rawCfg) && !(rawCfg instanceof Map)) fail(`"cfg" is not a config object`);
  const fields = toJsonable(rawCfg) as Record<string, unknown>;
  delete fields.__class__;
  const cfg: TranscoderConfig = parseTranscoderConfig(fields, `${source}: cfg`);
  const sd = m.get("state_dict");
  if (!(sd instanceof Map)) return fail(`"state_dict" is not a dict`);
  // An SAE (the reference's `is_transcoder: false`) has no b_dec_out: its output bias is b_dec.
  const names = TRANSCODER_PARAMS.filter((n) => !(n === "b_dec_out" && isSaeConfig(cfg)));
  for (const name of names) {
    if (!sd.has(name)) fail(`state_dict is missing "${name}"`);
    const t = sd.get(name);
    if (!isHostTensor(t)) return fail(`state_dict "${name}" is not a tensor`);
    if (t.dtype !== "float32" && t.dtype !== "float64") {
      fail(`state_dict "${name}" has dtype ${t.dtype}, expected a floating-point tensor`);
    }
  }
  checkTranscoderParams(cfg, sd, { source, what: "state_dict", optional: ["b_dec_out"] });
  const params = new Map<string, Tensor<"float32">>();
  for (const name of names) {
    const t = sd.get(name) as Tensor;
    params.set(name, t.dtype === "float32" ? t as Tensor<"float32"> : toFloat32(t));
  }
  return new Transcoder(cfg, params, runtime, source);
}

/**
 * Reads a sparsity sidecar: a float tensor `[dSae]`, or a dict with key `freqs` holding one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { readSparsitySidecar, sparsitySidecarPath } from "./_reference_pt.ts";
 * // A small reference checkpoint written by PyTorch (tests/fixtures/make_pt_fixtures.py):
 * const stem = "final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64";
 * const pt = fileURLToPath(new URL(`../../tests/fixtures/pt/${stem}.pt`, import.meta.url));
 * const logSparsity = await readSparsitySidecar(sparsitySidecarPath(pt), 64);
 * logSparsity.shape; // [64]
 * assert.equal(logSparsity.data[0], -10); // log10(0 + 1e-10): a feature that never fired
 * await assert.rejects(readSparsitySidecar(sparsitySidecarPath(pt), 128), /expected \[128\] \(d_sae\)/);
 * ```
 */
export async function readSparsitySidecar(path: string, dSae: number): Promise<Tensor<"float32">> {
  let v = await readTorchCheckpoint(path);
  if (v instanceof Map) {
    if (!v.has("freqs")) {
      throw new TranscoderError(
        `${path}: expected a tensor or a dict with "freqs", got a dict with keys ${
          [...v.keys()].map(String).join(", ")
        }`,
      );
    }
    v = v.get("freqs");
  }
  if (!isHostTensor(v) || (v.dtype !== "float32" && v.dtype !== "float64")) {
    throw new TranscoderError(
      `${path}: expected a float tensor [${dSae}] of log10 feature frequencies`,
    );
  }
  if (v.shape.length !== 1 || v.shape[0] !== dSae) {
    throw new TranscoderError(
      `${path}: log feature sparsity has shape ${shapeStr(v.shape)}, expected [${dSae}] (d_sae)`,
    );
  }
  return v.dtype === "float32" ? v as Tensor<"float32"> : toFloat32(v);
}

/**
 * Reads a reference `.pt` transcoder, with the file as `source` and, when
 * `<stem>_log_feature_sparsity.pt` is beside it, its log10 feature frequencies as `logSparsity`.
 * The format reader behind `loadTranscoder` (load.ts), which is the public way in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { full } from "../tensor/tensor.ts";
 * import { loadReferencePt } from "./_reference_pt.ts";
 * // A small reference checkpoint written by PyTorch (tests/fixtures/make_pt_fixtures.py):
 * const stem = "final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64";
 * const pt = fileURLToPath(new URL(`../../tests/fixtures/pt/${stem}.pt`, import.meta.url));
 * const transcoder = await loadReferencePt(pt); // the sidecar is beside it
 * transcoder.cfg.hook_name; // "blocks.1.ln2.hook_normalized"
 * transcoder.logSparsity?.shape; // [64]
 * assert.equal(transcoder.source, pt);
 * const z = await transcoder.encode(full([2, 16], 0.1));
 * assert.deepEqual(z.shape, [2, 64]);
 * ```
 */
export async function loadReferencePt(path: string, runtime?: Runtime): Promise<Transcoder> {
  const ckpt = await readTorchCheckpoint(path, { recordClasses: REFERENCE_RECORD_CLASSES });
  const transcoder = transcoderFromReferenceCheckpoint(ckpt, path, runtime);
  const sidecar = sparsitySidecarPath(path);
  if (existsSync(sidecar)) {
    transcoder.logSparsity = await readSparsitySidecar(sidecar, transcoder.cfg.d_sae);
  }
  transcoder.source = path;
  return transcoder;
}

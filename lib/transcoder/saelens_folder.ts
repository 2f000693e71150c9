/**
 * SAELens-style transcoder folders: `cfg.json`, `sae_weights.safetensors` (`W_enc`, `b_enc`,
 * `W_dec`, `b_dec`, `b_dec_out`) and optionally `sparsity.safetensors` (`sparsity`: per-feature
 * log10 firing frequency, like the reference's `_log_feature_sparsity.pt` sidecar).
 *
 * Reads the layout of callummcdougall/arena-demos-transcoder too (a `hook_name` input hook and
 * `hook_layer`, with the output hook implied: `blocks.{layer}.hook_mlp_out`).
 *
 * @module
 */
import { join } from "node:path";
import { brief, readJsonObject } from "../formats/_input_file.ts";
import { readSafetensors, writeFileAtomic, writeSafetensors } from "../formats/safetensors.ts";
import type { Runtime } from "../graph/session.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkTranscoderParams,
  isSaeConfig,
  Transcoder,
  type TranscoderConfig,
  TranscoderError,
} from "./transcoder.ts";

/**
 * File names inside a folder.
 *
 * @example
 * ```ts
 * import { existsSync } from "node:fs";
 * import { join } from "node:path";
 * import { embeddedWeightsDir } from "../weights/locations.ts";
 * import { SAELENS_FILES } from "./saelens_folder.ts";
 * SAELENS_FILES.weights; // "sae_weights.safetensors"
 * existsSync(join(await embeddedWeightsDir(), "tiny/transcoders/layer_0", SAELENS_FILES.cfg)); // true
 * ```
 */
export const SAELENS_FILES = {
  cfg: "cfg.json",
  weights: "sae_weights.safetensors",
  sparsity: "sparsity.safetensors",
} as const;

function num(cfg: Record<string, unknown>, key: string, path: string): number {
  const v = cfg[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw new TranscoderError(
      `${path}: field "${key}" is ${brief(v)}, expected a positive integer`,
    );
  }
  return v;
}

/**
 * Normalises a cfg.json object (ours or SAELens's) to a TranscoderConfig.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTranscoderConfig } from "./saelens_folder.ts";
 * import { TranscoderError } from "./transcoder.ts";
 * // arena-demos-transcoder style: the layer comes from the hook, the output hook is implied
 * const cfg = parseTranscoderConfig({ hook_name: "blocks.8.ln2.hook_normalized", d_in: 768, d_sae: 24576 });
 * cfg.hook_layer; // 8
 * cfg.out_hook_name; // "blocks.8.hook_mlp_out"
 * assert.equal(cfg.d_out, 768); // defaults to d_in
 * assert.throws(
 *   () => parseTranscoderConfig({ hook_name: "blocks.8.ln2.hook_normalized", d_in: 768, d_sae: 0 }),
 *   TranscoderError, // cfg.json: field "d_sae" is 0, expected a positive integer
 * );
 * ```
 */
export function parseTranscoderConfig(
  raw: Record<string, unknown>,
  path: string = SAELENS_FILES.cfg,
): TranscoderConfig {
  const hook = raw.hook_name ?? raw.hook_point;
  if (typeof hook !== "string") throw new TranscoderError(`${path}: field "hook_name" is missing`);
  const m = /^blocks\.(\d+)\./.exec(hook);
  const layerKey = raw.hook_layer !== undefined ? "hook_layer" : "hook_point_layer";
  const given = raw[layerKey];
  if (
    given !== undefined && given !== null && !(Number.isSafeInteger(given) && given as number >= 0)
  ) {
    throw new TranscoderError(
      `${path}: field "${layerKey}" is ${brief(given)}, expected an integer >= 0`,
    );
  }
  const layer = typeof given === "number" ? given : m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(layer)) {
    throw new TranscoderError(`${path}: cannot tell the layer (no "hook_layer")`);
  }
  if (m && Number(m[1]) !== layer) {
    throw new TranscoderError(
      `${path}: "hook_layer" is ${layer} but "hook_name" is ${JSON.stringify(hook)} (layer ${
        m[1]
      })`,
    );
  }
  const d_in = num(raw, "d_in", path);
  // The target hook: given; the input hook for an SAE (the reference's `is_transcoder: false`,
  // or a hook that is no MLP input); else the layer's MLP output (arena-demos-transcoder).
  const sae = raw.is_transcoder === false || !/\.(ln2\.hook_normalized|hook_mlp_in)$/.test(hook);
  const out = raw.out_hook_name ?? raw.hook_name_out ?? raw.out_hook_point ??
    (sae ? hook : `blocks.${layer}.hook_mlp_out`);
  return {
    ...raw,
    d_in,
    d_sae: num(raw, "d_sae", path),
    d_out: raw.d_out === undefined || raw.d_out === null ? d_in : num(raw, "d_out", path),
    hook_name: hook,
    hook_layer: layer,
    out_hook_name: String(out),
  };
}

/**
 * Reads a transcoder folder, with its `sparsity.safetensors` as `logSparsity` when present and
 * the folder as `source`. The format reader behind `loadTranscoder` (load.ts), which is the
 * public way in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { embeddedWeightsDir } from "../weights/locations.ts";
 * import { loadTranscoderFolder } from "./saelens_folder.ts";
 * const dir = join(await embeddedWeightsDir(), "tiny/transcoders/layer_2");
 * const transcoder = await loadTranscoderFolder(dir);
 * transcoder.cfg.out_hook_name; // "blocks.2.hook_mlp_out"
 * transcoder.logSparsity?.shape; // [2048]
 * assert.equal(transcoder.source, dir);
 * assert.deepEqual(transcoder.W_dec.shape, [2048, 96]);
 * ```
 */
export async function loadTranscoderFolder(
  dir: string,
  runtime?: Runtime,
): Promise<Transcoder> {
  const cfgPath = join(dir, SAELENS_FILES.cfg);
  const raw = await readJsonObject(cfgPath, (m) => new TranscoderError(m), {
    notFound:
      `${cfgPath} not found: expected a SAELens-style folder (cfg.json, sae_weights.safetensors)`,
  });
  const cfg = parseTranscoderConfig(raw, cfgPath);
  const weightsPath = join(dir, SAELENS_FILES.weights);
  const { tensors } = await readSafetensors(weightsPath);
  const params = new Map<string, Tensor<"float32">>();
  for (const [k, t] of tensors) {
    if (t.dtype !== "float32") {
      throw new TranscoderError(
        `${weightsPath}: tensor "${k}" has dtype ${t.dtype}, expected a float`,
      );
    }
    params.set(k, t as Tensor<"float32">);
  }
  // Every size of the config is checked against the weights before anything is allocated from it.
  checkTranscoderParams(cfg, params, {
    source: weightsPath,
    what: "tensor",
    optional: ["b_dec_out"],
  });
  if (!params.has("b_dec_out") && !isSaeConfig(cfg)) {
    // A transcoder without an output bias (arena-demos' folded variants): the decoder adds none.
    // An SAE without one has its output bias tied to b_dec (the Transcoder constructor).
    params.set("b_dec_out", {
      dtype: "float32",
      shape: [cfg.d_out],
      data: new Float32Array(cfg.d_out),
    });
  }
  const transcoder = new Transcoder(cfg, params, runtime, weightsPath);
  let logSparsity: Tensor<"float32"> | undefined;
  try {
    const s = (await readSafetensors(join(dir, SAELENS_FILES.sparsity))).tensors.get("sparsity");
    if (s && s.shape.length === 1 && s.shape[0] === cfg.d_sae) logSparsity = s as Tensor<"float32">;
    else if (s) {
      throw new TranscoderError(
        `${
          join(dir, SAELENS_FILES.sparsity)
        }: "sparsity" has shape [${s.shape}], expected [${cfg.d_sae}]`,
      );
    }
  } catch (e) {
    if (e instanceof TranscoderError) throw e;
    if (!(/file not found/.test((e as Error).message))) throw e;
  }
  transcoder.logSparsity = logSparsity;
  transcoder.source = dir;
  return transcoder;
}

/**
 * Writes a transcoder folder (weights atomically; float16 storage on request).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { full } from "../tensor/tensor.ts";
 * import { loadTranscoder } from "./load.ts";
 * import { saveTranscoderFolder } from "./saelens_folder.ts";
 * import { mlpTranscoderConfig, Transcoder } from "./transcoder.ts";
 * const tc = Transcoder.random(mlpTranscoderConfig(2, { d_in: 4, d_sae: 8 }), 0);
 * const dir = await Deno.makeTempDir();
 * await saveTranscoderFolder(`${dir}/layer_2`, tc, { logSparsity: full([8], -2), floatDtype: "F16" });
 * const back = await loadTranscoder(`${dir}/layer_2`);
 * back.layer; // 2
 * back.logSparsity?.data; // Float32Array [-2, -2, -2, -2, -2, -2, -2, -2]
 * const err = Math.max(...tc.W_enc.data.map((v, i) => Math.abs(v - back.W_enc.data[i])));
 * assert.ok(err < 1e-3); // stored as float16, read back as float32
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveTranscoderFolder(
  dir: string,
  tc: Transcoder,
  { logSparsity, floatDtype = "F32" }: {
    logSparsity?: Tensor<"float32">;
    floatDtype?: "F32" | "F16" | "BF16";
  } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const tied = tc.tiedBias;
  const cfg = {
    architecture: tc.kind === "sae" ? "standard" : "transcoder",
    activation_fn_str: "relu",
    apply_b_dec_to_input: true,
    use_b_dec_out: !tied,
    normalize_activations: "none",
    ...tc.cfg,
  };
  // A tied SAE stores b_dec once, as SAELens does.
  const params = new Map([...tc.params].filter(([n]) => !(tied && n === "b_dec_out")));
  await writeSafetensors(join(dir, SAELENS_FILES.weights), params, { floatDtype });
  if (logSparsity) {
    await writeSafetensors(join(dir, SAELENS_FILES.sparsity), { sparsity: logSparsity });
  }
  await writeFileAtomic(
    join(dir, SAELENS_FILES.cfg),
    new TextEncoder().encode(JSON.stringify(cfg, null, 2) + "\n"),
  );
}

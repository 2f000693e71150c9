/**
 * Loading transcoders from whatever is on disk: one SAELens-style folder, a reference `.pt`
 * checkpoint (reference_pt.ts), or a folder of either (one per layer, as in
 * weights/tiny/transcoders or the reference's gpt-2-small-transcoders download).
 *
 * @module
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import type { Runtime } from "../graph/session.ts";
import { isReferenceCheckpointPath, loadReferencePt } from "./reference_pt.ts";
import { type LoadedTranscoder, loadTranscoderFolder, SAELENS_FILES } from "./saelens_folder.ts";
import { type Transcoder, TranscoderError } from "./transcoder.ts";

/**
 * Loads one transcoder: a SAELens-style folder (`cfg.json` + `sae_weights.safetensors`) or a
 * reference `.pt` checkpoint (`{cfg, state_dict}`, read without executing any pickle code).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { fileURLToPath } from "node:url";
 * import { embeddedWeightsDir } from "../weights/locations.ts";
 * import { loadTranscoder } from "./load.ts";
 * const tc = await loadTranscoder(join(await embeddedWeightsDir(), "tiny/transcoders/layer_1")); // a folder
 * tc.cfg.hook_name; // "blocks.1.ln2.hook_normalized"
 * tc.W_enc.shape; // [96, 2048]
 * // A small reference checkpoint written by PyTorch (tests/fixtures/make_pt_fixtures.py):
 * const pt = "../../tests/fixtures/pt/final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64.pt";
 * const ref = await loadTranscoder(fileURLToPath(new URL(pt, import.meta.url)));
 * assert.deepEqual([ref.cfg.d_in, ref.cfg.d_sae, ref.layer], [16, 64, 1]);
 * ```
 */
export async function loadTranscoder(path: string, runtime?: Runtime): Promise<Transcoder> {
  return (await loadTranscoderWithSparsity(path, runtime)).transcoder;
}

/**
 * Loads one transcoder and its log10 feature frequencies when they are stored beside it
 * (`sparsity.safetensors` in a folder; `<stem>_log_feature_sparsity.pt` beside a `.pt`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { embeddedWeightsDir } from "../weights/locations.ts";
 * import { loadTranscoderWithSparsity } from "./load.ts";
 * const dir = join(await embeddedWeightsDir(), "tiny/transcoders/layer_2");
 * const { transcoder, logSparsity, path } = await loadTranscoderWithSparsity(dir);
 * logSparsity?.shape; // [2048]: one log10 firing frequency per feature
 * assert.equal(path, dir);
 * assert.equal(transcoder.layer, 2);
 * assert.ok(logSparsity!.data.every((v) => v >= -10 && v <= 0)); // log10(freq + 1e-10)
 * ```
 */
export async function loadTranscoderWithSparsity(
  path: string,
  runtime?: Runtime,
): Promise<LoadedTranscoder> {
  if (!existsSync(path)) throw new TranscoderError(`${path} not found`);
  if (Deno.statSync(path).isDirectory) return await loadTranscoderFolder(path, runtime);
  if (path.endsWith(".pt")) return await loadReferencePt(path, runtime);
  throw new TranscoderError(
    `${path}: not a transcoder folder (expected ${SAELENS_FILES.cfg} and ${SAELENS_FILES.weights}) or a reference .pt checkpoint`,
  );
}

/**
 * Loads every transcoder folder and reference `.pt` checkpoint directly inside `dir`, sorted by
 * layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { embeddedWeightsDir } from "../weights/locations.ts";
 * import { loadTranscoderSet } from "./load.ts";
 * const set = await loadTranscoderSet(join(await embeddedWeightsDir(), "tiny/transcoders")); // one per layer
 * set.map((t) => t.transcoder.layer); // [0, 1, 2, 3]
 * assert.equal(set.length, 4);
 * assert.ok(set.every((t) => t.logSparsity !== undefined));
 * ```
 */
export async function loadTranscoderSet(
  dir: string,
  runtime?: Runtime,
): Promise<LoadedTranscoder[]> {
  if (!existsSync(dir)) throw new TranscoderError(`${dir} not found`);
  const out: LoadedTranscoder[] = [];
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory && existsSync(join(dir, e.name, SAELENS_FILES.cfg))) {
      out.push(await loadTranscoderFolder(join(dir, e.name), runtime));
    } else if (e.isFile && isReferenceCheckpointPath(e.name)) {
      out.push(await loadReferencePt(join(dir, e.name), runtime));
    }
  }
  if (out.length === 0) throw new TranscoderError(`${dir} holds no transcoder folders`);
  out.sort((a, b) => a.transcoder.layer - b.transcoder.layer);
  return out;
}

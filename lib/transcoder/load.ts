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
 * ```ts ignore
 * import { loadTranscoder } from "./load.ts";
 * const tc = await loadTranscoder("weights/tiny/transcoders/layer_1");
 * const ref = await loadTranscoder("final_sparse_autoencoder_gpt2-small_blocks.8.ln2.hook_normalized_24576.pt");
 * ```
 */
export async function loadTranscoder(path: string, runtime?: Runtime): Promise<Transcoder> {
  return (await loadTranscoderWithSparsity(path, runtime)).transcoder;
}

/**
 * Loads one transcoder and its log10 feature frequencies when they are stored beside it
 * (`sparsity.safetensors` in a folder; `<stem>_log_feature_sparsity.pt` beside a `.pt`).
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
 * ```ts ignore
 * import { loadTranscoderSet } from "./load.ts";
 * const set = await loadTranscoderSet("weights/tiny/transcoders"); // one per layer
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

/**
 * The one way to load transcoders, whatever is on disk: `loadTranscoder` for one (a
 * SAELens-style folder, a reference `.pt` checkpoint, or `"<model>:<layer>"`) and
 * `loadTranscoders` for a set (a model name, a model folder with `transcoders/`, or a folder of
 * transcoder folders and `.pt` files, as weights/tiny/transcoders or the reference's
 * gpt-2-small-transcoders download). Both set each transcoder's `logSparsity` (when stored beside
 * it) and `source`.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { readJsonObject } from "../formats/_input_file.ts";
import type { Runtime } from "../graph/session.ts";
import { PRETRAINED, resolveModelDir } from "../weights/locations.ts";
import { isReferenceCheckpointPath, loadReferencePt } from "./_reference_pt.ts";
import { loadTranscoderFolder, parseTranscoderConfig, SAELENS_FILES } from "./saelens_folder.ts";
import { type Transcoder, TranscoderError } from "./transcoder.ts";

/** Options of `loadTranscoder` and `loadTranscoders`. */
export interface LoadTranscoderOptions {
  /** The runtime the transcoders' encode/decode graphs run on (default: a new one each). */
  runtime?: Runtime;
}

/** `"<model>:<layer>"`: a model name (or folder) and a layer. */
const LAYER_NAME = /^(.+):(\d+)$/;

const isDir = (path: string): boolean => {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
};

/** One transcoder on disk: a SAELens-style folder or a reference `.pt` checkpoint. */
async function readTranscoder(path: string, runtime?: Runtime): Promise<Transcoder> {
  if (!existsSync(path)) throw new TranscoderError(`${path} not found`);
  if (isDir(path)) {
    if (
      !existsSync(join(path, SAELENS_FILES.cfg)) &&
      (isDir(join(path, "transcoders")) || transcoderEntries(path).length > 0)
    ) {
      throw new TranscoderError(
        `${path} holds several transcoders, not one: load them all with loadTranscoders, or one by its own path or as "<model>:<layer>"`,
      );
    }
    return await loadTranscoderFolder(path, runtime);
  }
  if (path.endsWith(".pt")) return await loadReferencePt(path, runtime);
  throw new TranscoderError(
    `${path}: not a transcoder folder (expected ${SAELENS_FILES.cfg} and ${SAELENS_FILES.weights}) or a reference .pt checkpoint`,
  );
}

/** The transcoder folders and reference `.pt` checkpoints directly inside `dir`, by name. */
function transcoderEntries(dir: string): string[] {
  return [...Deno.readDirSync(dir)]
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b))
    .filter((name) => {
      const path = join(dir, name);
      return isDir(path)
        ? existsSync(join(path, SAELENS_FILES.cfg))
        : isReferenceCheckpointPath(name) && existsSync(path);
    })
    .map((name) => join(dir, name));
}

/**
 * The folder holding a set of transcoders: `<model folder>/transcoders` for a model name or a
 * model folder that has one, else the folder itself.
 */
async function transcoderSetDir(nameOrDir: string): Promise<string> {
  const dir = await resolveModelDir(nameOrDir); // a known name, or the path as given
  if (!existsSync(dir)) throw new TranscoderError(`${dir} not found`);
  if (!isDir(dir)) {
    throw new TranscoderError(
      `${dir} is a file, not a folder of transcoders: load it with loadTranscoder`,
    );
  }
  const sub = join(dir, "transcoders");
  if (isDir(sub)) return sub;
  if (existsSync(join(dir, SAELENS_FILES.cfg))) {
    throw new TranscoderError(
      `${dir} is one transcoder folder, not a folder of transcoders: load it with loadTranscoder`,
    );
  }
  if (PRETRAINED[nameOrDir]) {
    throw new TranscoderError(
      `"${nameOrDir}" has no transcoders (${sub} not found): ${PRETRAINED[nameOrDir].howToGet}`,
    );
  }
  return dir;
}

/**
 * The layer a transcoder file says it is for, read cheaply: a folder's cfg.json; a `.pt`
 * checkpoint's name (`..._blocks.8.ln2.hook_normalized_24576.pt`), or `undefined` if it has none.
 */
async function layerHint(path: string): Promise<number | undefined> {
  if (isDir(path)) {
    const cfgPath = join(path, SAELENS_FILES.cfg);
    const raw = await readJsonObject(cfgPath, (m) => new TranscoderError(m));
    return parseTranscoderConfig(raw, cfgPath).hook_layer;
  }
  const m = /(?:^|[^0-9A-Za-z])blocks\.(\d+)\./.exec(basename(path));
  return m ? Number(m[1]) : undefined;
}

/** `"<model>:<layer>"`: the transcoder of that layer in the model's set. */
async function loadLayer(model: string, layer: number, runtime?: Runtime): Promise<Transcoder> {
  const dir = await transcoderSetDir(model);
  const entries = transcoderEntries(dir);
  if (entries.length === 0) {
    throw new TranscoderError(`${dir} holds no transcoder folders or .pt checkpoints`);
  }
  const hints = await Promise.all(entries.map(layerHint));
  const found = new Set<number>();
  const hinted = entries.filter((_, i) => hints[i] === layer);
  if (hinted.length > 1) {
    throw new TranscoderError(
      `${model}:${layer}: ${dir} holds ${hinted.length} transcoders for layer ${layer} (${
        hinted.join(", ")
      }): load one by its path`,
    );
  }
  // A file named for the layer is read first; those whose name does not tell are read in turn.
  for (const path of [...hinted, ...entries.filter((_, i) => hints[i] === undefined)]) {
    const tc = await readTranscoder(path, runtime);
    if (tc.layer === layer) return tc;
    found.add(tc.layer);
  }
  hints.forEach((h) => h !== undefined && h !== layer && found.add(h));
  const layers = [...found].sort((a, b) => a - b);
  throw new TranscoderError(
    `${model}:${layer}: no transcoder for layer ${layer} in ${dir} (layers found: ${
      layers.join(", ")
    })`,
  );
}

/**
 * Loads one transcoder: a SAELens-style folder (`cfg.json` + `sae_weights.safetensors`), a
 * reference `.pt` checkpoint (`{cfg, state_dict}`, read without executing any pickle code), or
 * `"<model>:<layer>"` (`"tiny:2"`, `"gpt2-small:8"`, or a model folder and a layer): the
 * transcoder of that layer in the model's `transcoders/` folder. The result carries its
 * `logSparsity` when it is stored beside it (`sparsity.safetensors` in a folder;
 * `<stem>_log_feature_sparsity.pt` beside a `.pt`) and its `source`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { fileURLToPath } from "node:url";
 * import { embeddedWeightsDir } from "../weights/locations.ts";
 * import { loadTranscoder } from "./load.ts";
 * const tc = await loadTranscoder("tiny:2"); // layer 2 of the embedded tiny model
 * tc.cfg.hook_name; // "blocks.2.ln2.hook_normalized"
 * tc.logSparsity?.shape; // [2048]: one log10 firing frequency per feature
 * tc.source; // ".../weights/tiny/transcoders/layer_2"
 * const dir = join(await embeddedWeightsDir(), "tiny/transcoders/layer_1");
 * assert.deepEqual((await loadTranscoder(dir)).W_enc.shape, [96, 2048]); // a folder
 * // A small reference checkpoint written by PyTorch (tests/fixtures/make_pt_fixtures.py):
 * const pt = "../../tests/fixtures/pt/final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64.pt";
 * const ref = await loadTranscoder(fileURLToPath(new URL(pt, import.meta.url)));
 * assert.deepEqual([ref.cfg.d_in, ref.cfg.d_sae, ref.layer], [16, 64, 1]);
 * await assert.rejects(loadTranscoder("tiny:9"), {
 *   name: "TranscoderError", // tiny:9: no transcoder for layer 9 in ... (layers found: 0, 1, 2, 3)
 *   message: /layers found: 0, 1, 2, 3/,
 * });
 * ```
 */
export async function loadTranscoder(
  pathOrName: string,
  { runtime }: LoadTranscoderOptions = {},
): Promise<Transcoder> {
  if (!existsSync(pathOrName)) {
    const m = LAYER_NAME.exec(pathOrName);
    if (m) return await loadLayer(m[1], Number(m[2]), runtime);
    if (PRETRAINED[pathOrName]) {
      throw new TranscoderError(
        `"${pathOrName}" is a model, not one transcoder: name one layer as "${pathOrName}:<layer>", or load them all with loadTranscoders("${pathOrName}")`,
      );
    }
  }
  return await readTranscoder(pathOrName, runtime);
}

/**
 * Loads a set of transcoders, sorted by layer: a model name (`"tiny"`, `"gpt2-small"`) or a
 * model folder, for the transcoders in its `transcoders/` folder, or a folder of transcoder
 * folders and reference `.pt` checkpoints directly. Each carries its `logSparsity` (when stored
 * beside it) and its `source`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { embeddedWeightsDir } from "../weights/locations.ts";
 * import { loadTranscoders } from "./load.ts";
 * const set = await loadTranscoders("tiny"); // one per layer
 * set.map((t) => t.layer); // [0, 1, 2, 3]
 * assert.ok(set.every((t) => t.logSparsity?.shape[0] === 2048));
 * const dir = join(await embeddedWeightsDir(), "tiny/transcoders");
 * const same = await loadTranscoders(dir); // the folder itself
 * assert.deepEqual(same.map((t) => t.source), [0, 1, 2, 3].map((l) => join(dir, `layer_${l}`)));
 * ```
 */
export async function loadTranscoders(
  nameOrDir: string,
  { runtime }: LoadTranscoderOptions = {},
): Promise<Transcoder[]> {
  const dir = await transcoderSetDir(nameOrDir);
  const out: Transcoder[] = [];
  for (const path of transcoderEntries(dir)) out.push(await readTranscoder(path, runtime));
  if (out.length === 0) {
    throw new TranscoderError(`${dir} holds no transcoder folders or .pt checkpoints`);
  }
  return out.sort((a, b) => a.layer - b.layer);
}

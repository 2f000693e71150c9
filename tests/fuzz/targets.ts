/**
 * The fuzz targets: each parser or loader under test, the seeds its campaign starts from, the
 * mutators of each of its files, and the call that loads one input.
 *
 * @module
 */
import { unpickle } from "../../lib/formats/pickle.ts";
import { parseSafetensors } from "../../lib/formats/safetensors.ts";
import { parseTorchCheckpoint, TORCH_GLOBALS } from "../../lib/formats/torch_pt.ts";
import { openZip } from "../../lib/formats/zip.ts";
import { loadModel } from "../../lib/model/load.ts";
import {
  REFERENCE_RECORD_CLASSES,
  transcoderFromReferenceCheckpoint,
} from "../../lib/transcoder/_reference_pt.ts";
import { loadTranscoder } from "../../lib/transcoder/load.ts";
import { SAELENS_FILES } from "../../lib/transcoder/saelens_folder.ts";
import { TRANSCODER_PARAMS } from "../../lib/transcoder/transcoder.ts";
import { BYTE_MUTATORS, type Mutator } from "./byte_mutators.ts";
import { CHECKPOINT_MUTATORS } from "./checkpoint_mutators.ts";
import { jsonMutator } from "./json_mutators.ts";
import { PICKLE_MUTATORS } from "./pickle_mutators.ts";
import { SAFETENSORS_MUTATORS, tensorMutator } from "./safetensors_mutators.ts";
import {
  checkpointSeeds,
  type FuzzInput,
  hfFolderSeeds,
  pickleSeeds,
  safetensorsSeeds,
  transcoderFolderSeeds,
  zipSeeds,
} from "./seeds.ts";
import { ZIP_MUTATORS } from "./zip_mutators.ts";

/** A parser or loader under test. */
export interface Target {
  /** Short name, as `--parser` takes it. */
  name: string;
  /** The API under test. */
  api: string;
  /**
   * Whether an input is a folder: its files are written to a fresh folder and `load` gets its
   * path; otherwise the input is one file, loaded from memory.
   */
  folder: boolean;
  /** The mutators of each file of an input, by file name. */
  mutators: Readonly<Record<string, readonly Mutator[]>>;
  /** The valid inputs a campaign starts from; `scratch` is a folder the generator may use. */
  seeds(scratch: string): Promise<FuzzInput[]>;
  /** Loads one input (`dir` holds its files when `folder`). */
  load(input: FuzzInput, dir: string): unknown;
}

/** The only file of a single-file input. */
const only = (input: FuzzInput, name: string): Uint8Array => input.get(name) ?? new Uint8Array(0);
const single = (name: string, seeds: () => Uint8Array[] | Promise<Uint8Array[]>) => async () =>
  (await seeds()).map((s) => new Map([[name, s]]));

/** torch.save's globals, with tensors rebuilt as records (the persistent ids are no storages). */
const PICKLE_GLOBALS = {
  ...TORCH_GLOBALS,
  ...Object.fromEntries(
    ["_rebuild_tensor_v2", "_rebuild_tensor"].map((f) => [
      `torch._utils.${f}`,
      { reduce: (args: unknown[]) => ({ __class__: "tensor", args }) },
    ]),
  ),
};

/** Deletes the file: a folder without its config, weights or sidecar. */
const removeFile: Mutator = { name: "file.remove", weight: 1, apply: () => null };

const safetensorsFile = (tensorNames: readonly string[]) => [
  ...BYTE_MUTATORS,
  ...SAFETENSORS_MUTATORS,
  tensorMutator(tensorNames, 8),
];

const HF_CONFIG_FIELDS = [
  "n_layer",
  "n_embd",
  "n_head",
  "n_inner",
  "vocab_size",
  "n_positions",
  "n_ctx",
  "layer_norm_epsilon",
  "activation_function",
];
const HF_TENSORS = [
  "lm_head.weight",
  "wte.weight",
  "wpe.weight",
  "transformer.wte.weight",
  "h.0.attn.c_attn.weight",
  "h.0.mlp.c_fc.weight",
  "h.0.attn.bias",
  "h.1.ln_1.weight",
  "ln_f.bias",
];
const TRANSCODER_CONFIG_FIELDS = [
  "d_in",
  "d_sae",
  "d_out",
  "hook_name",
  "hook_layer",
  "out_hook_name",
  "hook_point",
  "hook_point_layer",
  "hook_name_out",
  "out_hook_point",
];

/**
 * The targets, in campaign order.
 *
 * @example
 * ```ts
 * import { TARGETS } from "./targets.ts";
 * TARGETS.map((t) => t.name); // ["safetensors", "zip", "pickle", "pt", "saelens", "hf"]
 * ```
 */
export const TARGETS: readonly Target[] = [
  {
    name: "safetensors",
    api: "parseSafetensors(bytes)",
    folder: false,
    mutators: { "input.safetensors": [...BYTE_MUTATORS, ...SAFETENSORS_MUTATORS] },
    seeds: single("input.safetensors", safetensorsSeeds),
    load: (input) => parseSafetensors(only(input, "input.safetensors"), "input.safetensors"),
  },
  {
    name: "zip",
    api: "openZip(bytes), then has, size and read of every name",
    folder: false,
    mutators: { "input.zip": [...BYTE_MUTATORS, ...ZIP_MUTATORS] },
    seeds: single("input.zip", zipSeeds),
    load(input) {
      const zip = openZip(only(input, "input.zip"), "input.zip");
      return zip.names.map((n) => [zip.has(n), zip.size(n), zip.read(n)]);
    },
  },
  {
    name: "pickle",
    api:
      "unpickle(bytes, { recordClasses, persistentLoad, globals: TORCH_GLOBALS with tensors as records })",
    folder: false,
    mutators: { "input.pkl": [...BYTE_MUTATORS, ...PICKLE_MUTATORS] },
    seeds: single("input.pkl", pickleSeeds),
    load: (input) =>
      unpickle(only(input, "input.pkl"), {
        source: "input.pkl",
        recordClasses: REFERENCE_RECORD_CLASSES,
        globals: PICKLE_GLOBALS,
        persistentLoad: (pid) => ({ __class__: "persistent", pid }),
      }),
  },
  {
    name: "pt",
    api:
      "parseTorchCheckpoint(bytes), then transcoderFromReferenceCheckpoint for a {cfg, state_dict}",
    folder: false,
    mutators: { "input.pt": [...BYTE_MUTATORS, ...ZIP_MUTATORS, ...CHECKPOINT_MUTATORS] },
    seeds: single("input.pt", checkpointSeeds),
    load(input) {
      const ckpt = parseTorchCheckpoint(only(input, "input.pt"), {
        source: "input.pt",
        recordClasses: REFERENCE_RECORD_CLASSES,
      });
      return ckpt instanceof Map && ckpt.has("cfg")
        ? transcoderFromReferenceCheckpoint(ckpt, "input.pt")
        : ckpt;
    },
  },
  {
    name: "saelens",
    api: "loadTranscoder(dir)",
    folder: true,
    mutators: {
      [SAELENS_FILES.cfg]: [
        ...BYTE_MUTATORS,
        jsonMutator(TRANSCODER_CONFIG_FIELDS, 40),
        removeFile,
      ],
      [SAELENS_FILES.weights]: [
        ...safetensorsFile([...TRANSCODER_PARAMS, "W_enc.extra"]),
        removeFile,
      ],
      [SAELENS_FILES.sparsity]: [...safetensorsFile(["sparsity", "freqs"]), removeFile],
    },
    seeds: transcoderFolderSeeds,
    load: (_input, dir) => loadTranscoder(dir),
  },
  {
    name: "hf",
    api: "loadModel(dir)",
    folder: true,
    mutators: {
      "config.json": [...BYTE_MUTATORS, jsonMutator(HF_CONFIG_FIELDS, 40), removeFile],
      "model.safetensors": [...safetensorsFile(HF_TENSORS), removeFile],
    },
    seeds: () => Promise.resolve(hfFolderSeeds()),
    load: (_input, dir) => loadModel(dir),
  },
];

/**
 * The target of a name.
 *
 * @example
 * ```ts
 * import { targetByName } from "./targets.ts";
 * targetByName("zip")?.api; // "openZip(bytes), then has, size and read of every name"
 * ```
 */
export function targetByName(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name);
}

/**
 * The valid files every campaign starts from, one generator per parser: tensors written by our
 * safetensors writer, archives by fflate, pickles written by Python (the committed fixtures) and
 * by hand, checkpoints written by PyTorch (the committed fixtures) and by hand, and the folders
 * our own writers produce. All are small (under 20 KB), so thousands of mutants run quickly.
 *
 * @module
 */
import { unzipSync, zipSync } from "fflate";
import { join } from "node:path";
import { serializeSafetensors } from "../../lib/formats/safetensors.ts";
import { configToHf, gpt2Config } from "../../lib/model/config.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { toHfStateDict } from "../../lib/model/weights.ts";
import { randn, randu, Rng } from "../../lib/tensor/random.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { saveTranscoderFolder } from "../../lib/transcoder/saelens_folder.ts";
import { mlpTranscoderConfig, Transcoder } from "../../lib/transcoder/transcoder.ts";
import {
  checkpointZip,
  dictPickle,
  f32Bytes,
  glob,
  k,
  O,
  pk,
  tensorPickle,
  uni,
} from "../formats/pickle_bytes.ts";

/** A fuzz input: the files of a folder by name (one file for the byte parsers). */
export type FuzzInput = Map<string, Uint8Array>;

const fixture = (path: string) => new URL(`../fixtures/${path}`, import.meta.url);
const enc = new TextEncoder();

const i32 = (shape: number[], values: number[]): Tensor => ({
  dtype: "int32",
  shape,
  data: Int32Array.from(values),
});
const i64 = (shape: number[], values: bigint[]): Tensor => ({
  dtype: "int64",
  shape,
  data: BigInt64Array.from(values),
});

/**
 * Safetensors files: F32, F16 and BF16 tensors, I32 and I64 ones, a zero-size and a scalar
 * tensor, metadata, and an empty file.
 *
 * @example
 * ```ts
 * import { parseSafetensors } from "../../lib/formats/safetensors.ts";
 * import { safetensorsSeeds } from "./seeds.ts";
 * for (const s of safetensorsSeeds()) parseSafetensors(s); // all valid
 * ```
 */
export function safetensorsSeeds(): Uint8Array[] {
  const rng = new Rng(11);
  const mixed = {
    w: randn([3, 4], rng),
    b: randu([4], rng, -1, 1),
    ids: i32([2, 2], [1, -2, 3, 2 ** 31 - 1]),
    pos: i64([3], [0n, -1n, 2n ** 62n]),
    empty: { dtype: "float32", shape: [0, 4], data: new Float32Array(0) } as Tensor,
    scalar: { dtype: "float32", shape: [], data: new Float32Array([7]) } as Tensor,
  };
  return [
    serializeSafetensors(mixed, { metadata: { format: "pt", step: "3" } }),
    serializeSafetensors(mixed, { floatDtype: "F16" }),
    serializeSafetensors({ w: randn([8, 8], rng), v: randn([8], rng) }, { floatDtype: "BF16" }),
    serializeSafetensors({ only: i32([1], [5]) }),
    serializeSafetensors({}, { metadata: { note: "no tensors" } }),
  ];
}

/**
 * Zip archives from fflate: stored and deflated entries, an empty entry, a directory, the
 * layout torch writes (`archive/data.pkl`, `archive/data/0`), and an empty archive.
 *
 * @example
 * ```ts
 * import { openZip } from "../../lib/formats/zip.ts";
 * import { zipSeeds } from "./seeds.ts";
 * for (const s of zipSeeds()) openZip(s).names; // all valid
 * ```
 */
export function zipSeeds(): Uint8Array[] {
  const text = enc.encode("hello zip ".repeat(40));
  const noise = new Uint8Array(randu([64], new Rng(3)).data.buffer);
  return [
    zipSync({ "a.txt": enc.encode("hello"), "b/c.bin": noise }, { level: 0 }),
    zipSync({ "text.txt": text, "noise.bin": noise }, { level: 6 }),
    zipSync({
      "dir/": {},
      "dir/stored": [text, { level: 0 }],
      "dir/deflated": [text, { level: 9 }],
      "dir/empty": new Uint8Array(0),
    }),
    zipSync({
      "archive/data.pkl": dictPickle([]),
      "archive/data/0": f32Bytes([1, 2, 3, 4]),
      "archive/version": enc.encode("3\n"),
    }, { level: 0 }),
    zipSync({}),
  ];
}

/** `{"w": tensor [2, 2], "v": a strided view of the same storage}` as torch.save writes it. */
function handBuiltCheckpoint(): Uint8Array {
  const pkl = dictPickle([
    ["w", tensorPickle("0", 4, 0, [2, 2], [2, 1])],
    ["v", tensorPickle("0", 4, 1, [2], [2])],
    ["n", tensorPickle("1", 2, 0, [2], [1], "LongStorage")],
  ]);
  return checkpointZip(pkl, {
    "0": f32Bytes([1, 2, 3, 4]),
    "1": new Uint8Array(BigInt64Array.from([5n, -6n]).buffer),
  });
}

/** The PyTorch-written checkpoint fixtures used as seeds (all under 12 KB). */
const PT_FIXTURES = [
  "pt/final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64.pt",
  "pt/final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64_log_feature_sparsity.pt",
  "pt/tc_protocol4.pt",
  "pt/tc_freqs_sidecar/tc_log_feature_sparsity.pt",
  "pt/dtypes.pt",
  "pt/dtypes_p4.pt",
  "pt/strided.pt",
];

/**
 * Pickles: Python's, protocols 1 to 5 (the committed fixtures), the `data.pkl` of a real
 * transcoder checkpoint, and hand-built ones (tensors, a set, a record class).
 *
 * @example
 * ```ts
 * import { pickleSeeds } from "./seeds.ts";
 * (await pickleSeeds()).length > 5; // true
 * ```
 */
export async function pickleSeeds(): Promise<Uint8Array[]> {
  const fixtures = await Promise.all(
    [1, 2, 3, 4, 5].map((p) => Deno.readFile(fixture(`pickle/values_p${p}.pkl`))),
  );
  const real = unzipSync(await Deno.readFile(fixture(PT_FIXTURES[0])));
  const dataPkl = Object.entries(real).find(([name]) => name.endsWith("/data.pkl"))![1];
  return [
    ...fixtures,
    dataPkl,
    dictPickle([["w", tensorPickle("0", 4, 0, [2, 2], [2, 1])]]),
    // builtins.set([1, 2]) and a RunnerConfig record built with NEWOBJ and BUILD
    pk(
      O.PROTO2,
      glob("builtins", "set"),
      O.EMPTY_LIST,
      O.MARK,
      k(1),
      k(2),
      0x65,
      O.TUPLE1,
      O.REDUCE,
      O.STOP,
    ),
    pk(
      O.PROTO2,
      glob("sae_training.config", "RunnerConfig"),
      O.EMPTY_TUPLE,
      O.NEWOBJ,
      O.EMPTY_DICT,
      O.MARK,
      uni("d_in"),
      k(8),
      uni("hook_point"),
      uni("blocks.0.ln2.hook_normalized"),
      0x75,
      O.BUILD,
      O.STOP,
    ),
  ];
}

/**
 * `torch.save` checkpoints: PyTorch's (reference transcoders, sparsity sidecars, every dtype,
 * strided views) and a hand-built one.
 *
 * @example
 * ```ts
 * import { checkpointSeeds } from "./seeds.ts";
 * (await checkpointSeeds()).every((s) => s.length < 20_000); // true
 * ```
 */
export async function checkpointSeeds(): Promise<Uint8Array[]> {
  const files = await Promise.all(PT_FIXTURES.map((p) => Deno.readFile(fixture(p))));
  return [...files, handBuiltCheckpoint()];
}

/** Reads a folder's files into memory. */
async function readFolder(dir: string): Promise<FuzzInput> {
  const out: FuzzInput = new Map();
  for await (const e of Deno.readDir(dir)) out.set(e.name, await Deno.readFile(join(dir, e.name)));
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * SAELens-style transcoder folders written by `saveTranscoderFolder` (d_in 8, d_sae 16; F32,
 * F16 and BF16; with and without `sparsity.safetensors`; d_out = d_in and not), written under
 * `scratch` and read back into memory.
 *
 * @example
 * ```ts
 * import { transcoderFolderSeeds } from "./seeds.ts";
 * const dir = await Deno.makeTempDir();
 * const seeds = await transcoderFolderSeeds(dir);
 * [...seeds[0].keys()]; // ["cfg.json", "sae_weights.safetensors", "sparsity.safetensors"]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function transcoderFolderSeeds(scratch: string): Promise<FuzzInput[]> {
  const variants = [
    { layer: 0, d_out: 8, floatDtype: "F32", sparsity: true },
    { layer: 1, d_out: 8, floatDtype: "F16", sparsity: false },
    { layer: 2, d_out: 4, floatDtype: "BF16", sparsity: true },
  ] as const;
  const seeds: FuzzInput[] = [];
  for (const [i, v] of variants.entries()) {
    const dir = join(scratch, `seed-${i}`);
    const tc = Transcoder.random(
      mlpTranscoderConfig(v.layer, { d_in: 8, d_sae: 16, d_out: v.d_out }),
      i,
    );
    const logSparsity = v.sparsity ? randu([16], new Rng(i), -6, 0) : undefined;
    await saveTranscoderFolder(dir, tc, { logSparsity, floatDtype: v.floatDtype });
    seeds.push(await readFolder(dir));
    await Deno.remove(dir, { recursive: true });
  }
  return seeds;
}

/**
 * Hugging Face GPT-2 folders (`config.json`, `model.safetensors`) of tiny random models (d_model
 * 8, d_vocab 16, n_ctx 8; 1 or 2 layers; F32, F16 or BF16; with the `transformer.` prefix, an
 * explicit `n_inner`, or an untied `lm_head.weight`).
 *
 * @example
 * ```ts
 * import { hfFolderSeeds } from "./seeds.ts";
 * [...hfFolderSeeds()[0].keys()]; // ["config.json", "model.safetensors"]
 * ```
 */
export function hfFolderSeeds(): FuzzInput[] {
  const variants = [
    { n_layers: 1, floatDtype: "F32", prefix: "", d_mlp: 32, lmHead: false },
    { n_layers: 2, floatDtype: "F16", prefix: "transformer.", d_mlp: 32, lmHead: false },
    { n_layers: 1, floatDtype: "BF16", prefix: "", d_mlp: 16, lmHead: true },
  ] as const;
  return variants.map((v, i) => {
    const cfg = gpt2Config({
      n_layers: v.n_layers,
      d_model: 8,
      n_heads: 2,
      d_vocab: 16,
      n_ctx: 8,
      d_mlp: v.d_mlp,
    });
    const hf = toHfStateDict(randomStateDict(cfg, i), cfg);
    const tensors = new Map([...hf].map(([name, t]) => [v.prefix + name, t]));
    if (v.lmHead) tensors.set("lm_head.weight", hf.get("wte.weight")!);
    return new Map([
      ["config.json", enc.encode(JSON.stringify(configToHf(cfg), null, 2))],
      ["model.safetensors", serializeSafetensors(tensors, { floatDtype: v.floatDtype })],
    ]);
  });
}

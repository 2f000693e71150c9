/**
 * Transcoder files from the internet that would cost more than they hold, or that hold the wrong
 * kinds of values: each is refused with the project's error class, naming the file and field,
 * within the loaders' budget (tests/helpers/within_budget.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PtFormatError } from "../../lib/formats/torch_pt.ts";
import { readSafetensors, writeSafetensors } from "../../lib/formats/safetensors.ts";
import { loadTranscoder } from "../../lib/transcoder/load.ts";
import { saveTranscoderFolder } from "../../lib/transcoder/saelens_folder.ts";
import {
  mlpTranscoderConfig,
  Transcoder,
  TranscoderError,
} from "../../lib/transcoder/transcoder.ts";
import { checkpointZip, glob, k, O, pk, uni } from "../formats/pickle_bytes.ts";
import { assertRefused } from "../helpers/within_budget.ts";

const tc = Transcoder.random(mlpTranscoderConfig(1, { d_in: 8, d_sae: 16 }), 0);

/** A SAELens folder of `tc` whose cfg.json is `cfg` (fields merged over the real ones). */
async function folder(cfg: unknown, merge = true): Promise<string> {
  const dir = await Deno.makeTempDir();
  await saveTranscoderFolder(dir, tc);
  const real = JSON.parse(await Deno.readTextFile(join(dir, "cfg.json")));
  const json = merge ? { ...real, ...(cfg as object) } : cfg;
  await Deno.writeTextFile(join(dir, "cfg.json"), JSON.stringify(json));
  return dir;
}

Deno.test("cfg.json: null, strings, arrays, 1e300 and non-objects where numbers are expected", async () => {
  const cases: [unknown, RegExp, boolean?][] = [
    [{ d_sae: null }, /cfg\.json: field "d_sae" is null, expected a positive integer$/],
    [{ d_in: "8" }, /field "d_in" is "8", expected a positive integer$/],
    [{ d_sae: [16] }, /field "d_sae" is \[16\], expected a positive integer$/],
    [{ d_sae: 1e300 }, /field "d_sae" is 1e\+300, expected a positive integer$/],
    [{ d_out: -1 }, /field "d_out" is -1, expected a positive integer$/],
    [{ hook_layer: "1" }, /field "hook_layer" is "1", expected an integer >= 0$/],
    [{ hook_layer: 1e300 }, /field "hook_layer" is 1e\+300, expected an integer >= 0$/],
    [[1, 2], /cfg\.json: expected a JSON object, got \[1,2\]$/, false],
    [null, /cfg\.json: expected a JSON object, got null$/, false],
    // Found by the fuzzer: a 10,000-deep array overflowed the stack when the message printed it.
    [
      { d_sae: JSON.parse("[".repeat(10_000) + "]".repeat(10_000)) },
      /cfg\.json: arrays and objects nest deeper than 64 levels$/,
    ],
  ];
  for (const [cfg, message, merge] of cases) {
    const dir = await folder(cfg, merge);
    await assertRefused(() => loadTranscoder(dir), TranscoderError, message);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dimensions too large to allocate are checked against the weights before allocating", async () => {
  // A 2^33 d_out without a b_dec_out tensor would allocate a 32 GB zero bias if trusted.
  const dir = await folder({ d_out: 2 ** 33 });
  const weights = join(dir, "sae_weights.safetensors");
  const { tensors } = await readSafetensors(weights);
  tensors.delete("b_dec_out");
  await writeSafetensors(weights, tensors);
  await assertRefused(
    () => loadTranscoder(dir),
    TranscoderError,
    /sae_weights\.safetensors: tensor "W_dec" has shape \[16, 8\], expected \[d_sae, d_out\] = \[16, 8589934592\] \(cfg d_in 8, d_sae 16, d_out 8589934592\)$/,
  );
  await Deno.remove(dir, { recursive: true });
  const big = await folder({ d_sae: 2 ** 40 });
  await assertRefused(
    () => loadTranscoder(big),
    TranscoderError,
    /tensor "W_enc" has shape \[8, 16\], expected \[d_in, d_sae\] = \[8, 1099511627776\]/,
  );
  await Deno.remove(big, { recursive: true });
});

Deno.test("a .pt whose cfg record refers to itself is refused, as is a directory where a file should be", async () => {
  // {"cfg": cfg, "state_dict": {}} where cfg.__dict__ = {"d_in": 8, "self": cfg}
  const cyclic = pk(
    O.PROTO2,
    O.EMPTY_DICT,
    O.MARK,
    ...uni("cfg"),
    ...glob("sae_training.config", "LanguageModelSAERunnerConfig"),
    O.EMPTY_TUPLE,
    O.NEWOBJ,
    0x71,
    0,
    O.EMPTY_DICT,
    O.MARK,
    ...uni("d_in"),
    ...k(8),
    ...uni("self"),
    0x68,
    0,
    O.SETITEMS,
    O.BUILD,
    ...uni("state_dict"),
    O.EMPTY_DICT,
    O.SETITEMS,
    O.STOP,
  );
  const dir = await Deno.makeTempDir();
  const path = join(dir, "final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_16.pt");
  await Deno.writeFile(path, checkpointZip(cyclic, {}));
  await assertRefused(
    () => loadTranscoder(path),
    PtFormatError,
    /\(archive\/data\.pkl\): refused: a container holds itself \(a cycle through the memo\)$/,
  );
  // A sparsity sidecar that is a directory, and a folder whose files are directories.
  const stem = "final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64";
  const pt = join(dir, `${stem}.pt`);
  await Deno.copyFile(new URL(`../fixtures/pt/${stem}.pt`, import.meta.url), pt);
  await Deno.mkdir(join(dir, `${stem}_log_feature_sparsity.pt`));
  await assert.rejects(loadTranscoder(pt), {
    name: "PtFormatError",
    message: `${join(dir, `${stem}_log_feature_sparsity.pt`)} is a directory, expected a file`,
  });
  const saved = await folder({});
  await Deno.remove(join(saved, "sae_weights.safetensors"));
  await Deno.mkdir(join(saved, "sae_weights.safetensors"));
  await assert.rejects(loadTranscoder(saved), {
    name: "SafetensorsError",
    message: `${join(saved, "sae_weights.safetensors")} is a directory, expected a file`,
  });
  await Deno.remove(join(saved, "cfg.json"));
  await Deno.mkdir(join(saved, "cfg.json"));
  await assert.rejects(loadTranscoder(saved), {
    name: "TranscoderError",
    message: `${join(saved, "cfg.json")} is a directory, expected a file`,
  });
  await Deno.remove(saved, { recursive: true });
  await Deno.remove(dir, { recursive: true });
});

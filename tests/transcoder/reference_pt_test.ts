/**
 * The reference's `.pt` transcoder files, written by real PyTorch
 * (tests/fixtures/make_pt_fixtures.py): the config record, encode/decode against PyTorch's
 * golden values, the sparsity sidecar, and refusal of hostile or inconsistent files.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../lib/formats/safetensors.ts";
import { PtFormatError } from "../../lib/formats/torch_pt.ts";
import { relativeError } from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { loadTranscoder, loadTranscoders } from "../../lib/transcoder/load.ts";
import { sparsitySidecarPath } from "../../lib/transcoder/_reference_pt.ts";
import { TranscoderError } from "../../lib/transcoder/transcoder.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/pt/${name}`, import.meta.url));
const STEM = "final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64";
const MAIN = fixture(`${STEM}.pt`);

Deno.test("a reference .pt transcoder loads with its config, and encodes/decodes as PyTorch", async () => {
  const tc = await loadTranscoder(MAIN);
  const { logSparsity } = tc;
  assert.equal(tc.source, MAIN);
  const c = tc.cfg;
  assert.deepEqual(
    [c.d_in, c.d_sae, c.d_out, c.hook_name, c.hook_layer, c.out_hook_name],
    [16, 64, 16, "blocks.1.ln2.hook_normalized", 1, "blocks.1.hook_mlp_out"],
  );
  assert.equal(c.model_name, "gpt2-small");
  assert.equal(c.l1_coefficient, 1.4e-4);
  assert.equal(c.lr, 4e-4);
  assert.equal(c.device, "cpu");
  assert.equal(c.dtype, "torch.float32");
  assert.deepEqual(c.use_ghost_grads, [false]);
  assert.equal(c.is_transcoder, true);
  assert.equal(c.run_name, "64-L1-0.00014-LR-0.0004-Tokens-6.000e+07");
  assert.equal(c.__class__, undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(c)), c, "the config is plain JSON");

  const golden = (await readSafetensors(fixture("golden_encode.safetensors"))).tensors;
  const x = golden.get("x") as Tensor<"float32">;
  const z = await tc.encode(x);
  assert.deepEqual(z.shape, [5, 64]);
  assert.ok(relativeError(z.data, golden.get("z")!.data as Float32Array) < 1e-5);
  const y = await tc.decode(z);
  assert.deepEqual(y.shape, [5, 16]);
  assert.ok(relativeError(y.data, golden.get("y")!.data as Float32Array) < 1e-5);

  assert.ok(logSparsity);
  assert.deepEqual(logSparsity.shape, [64]);
  assert.deepEqual(logSparsity.data, golden.get("log_sparsity")!.data);
  assert.equal(logSparsity.data[0], -10); // log10(0 + 1e-10), a dead feature
});

Deno.test("protocol-4 copies, a {freqs} sidecar and a folder of .pt files load too", async () => {
  const ref = await loadTranscoder(MAIN);
  const p4 = await loadTranscoder(fixture("tc_protocol4.pt"));
  assert.equal(p4.logSparsity, undefined);
  for (const [name, t] of ref.params) assert.deepEqual(p4.params.get(name)!.data, t.data, name);
  assert.deepEqual(p4.cfg, ref.cfg);

  const { logSparsity } = await loadTranscoder(fixture("tc_freqs_sidecar/tc.pt"));
  const golden = (await readSafetensors(fixture("golden_encode.safetensors"))).tensors;
  assert.deepEqual(logSparsity?.data, golden.get("log_sparsity")!.data);

  const set = await loadTranscoders(fixture("tc_freqs_sidecar"));
  assert.equal(set.length, 1);
  assert.equal(set[0].layer, 1);
  assert.ok(set[0].logSparsity);
  assert.equal(set[0].source, fixture("tc_freqs_sidecar/tc.pt"));
});

Deno.test("a hostile .pt is refused naming the global, and its command never runs", async () => {
  const marker = "/tmp/pwned_by_pickle";
  await Deno.remove(marker).catch(() => {});
  const hostile = fixture("hostile.pt");
  await assert.rejects(loadTranscoder(hostile), (e: Error) => {
    assert.ok(e instanceof PtFormatError);
    assert.ok(
      e.message.includes('pickle global "posix.system" is not allowed (allowed: '),
      e.message,
    );
    assert.ok(e.message.startsWith(hostile), e.message);
    return true;
  });
  assert.equal(existsSync(marker), false);
});

Deno.test("missing keys, wrong shapes and bad sidecars give errors naming the file and field", async () => {
  const missing = fixture("tc_missing_b_dec_out.pt");
  await assert.rejects(loadTranscoder(missing), (e: Error) => {
    assert.ok(e instanceof TranscoderError);
    assert.equal(e.message, `${missing}: state_dict is missing "b_dec_out"`);
    return true;
  });
  const wrong = fixture("tc_wrong_d_in.pt");
  await assert.rejects(loadTranscoder(wrong), {
    name: "TranscoderError",
    message:
      `${wrong}: state_dict "W_enc" has shape [8, 64], expected [d_in, d_sae] = [16, 64] (cfg d_in 16, d_sae 64, d_out 16)`,
  });
  // a .pt that is not a {cfg, state_dict} dict
  await assert.rejects(loadTranscoder(fixture("strided.pt")), {
    message: `${
      fixture("strided.pt")
    }: expected a dict with "cfg" and "state_dict" (as SparseAutoencoder.save_model writes), got a dict with keys base, view`,
  });
  // a sidecar that holds something else
  const dir = await Deno.makeTempDir({ prefix: "reference_pt_test_" });
  try {
    const pt = join(dir, "tc.pt");
    await Deno.copyFile(MAIN, pt);
    await Deno.copyFile(fixture("dtypes.pt"), sparsitySidecarPath(pt));
    await assert.rejects(loadTranscoder(pt), {
      message: `${
        sparsitySidecarPath(pt)
      }: expected a tensor or a dict with "freqs", got a dict with keys f32, f16, bf16, f64, i32, i64, bool, strided, offset_view, transposed, permuted3, scalar, empty, expanded`,
    });
    await Deno.copyFile(fixture("legacy.pt"), sparsitySidecarPath(pt));
    await assert.rejects(
      loadTranscoder(pt),
      /legacy \(pre-1\.6\) torch\.save format is not supported/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(loadTranscoder(fixture("nope.pt")), {
    message: `${fixture("nope.pt")} not found`,
  });
});

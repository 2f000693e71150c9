/**
 * `loadTranscoder` and `loadTranscoders`, the one way in: the `"<model>:<layer>"` name form and
 * its errors (an unknown layer lists the layers there; an unknown model gets "did you mean"), a
 * model name, a model folder and a folder of transcoders (sorted by layer, each with its
 * `logSparsity` and `source`), a SAELens-style folder, a reference `.pt` with its sidecar, and
 * missing or misdirected paths.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Runtime } from "../../lib/graph/session.ts";
import { full } from "../../lib/tensor/tensor.ts";
import { loadTranscoder, loadTranscoders } from "../../lib/transcoder/load.ts";
import { saveTranscoderFolder } from "../../lib/transcoder/saelens_folder.ts";
import {
  mlpTranscoderConfig,
  Transcoder,
  TranscoderError,
} from "../../lib/transcoder/transcoder.ts";
import { downloadsDir, embeddedWeightsDir } from "../../lib/weights/locations.ts";

const TINY_TC = join(await embeddedWeightsDir(), "tiny", "transcoders");
const PT = fileURLToPath(
  new URL(
    "../fixtures/pt/final_sparse_autoencoder_gpt2-small_blocks.1.ln2.hook_normalized_64.pt",
    import.meta.url,
  ),
);

function assertSameParams(a: Transcoder, b: Transcoder) {
  assert.deepEqual(a.cfg, b.cfg);
  for (const [k, t] of a.params) assert.deepEqual(b.params.get(k)!.data, t.data, k);
}

Deno.test('"tiny:2" is layer 2 of the tiny model, as its folder', async () => {
  const tc = await loadTranscoder("tiny:2");
  assert.equal(tc.layer, 2);
  assert.equal(tc.cfg.hook_name, "blocks.2.ln2.hook_normalized");
  assert.equal(tc.source, join(TINY_TC, "layer_2"));
  assert.deepEqual(tc.logSparsity?.shape, [2048]);
  const byPath = await loadTranscoder(join(TINY_TC, "layer_2"));
  assert.equal(byPath.source, join(TINY_TC, "layer_2"));
  assertSameParams(tc, byPath);
  assert.deepEqual(byPath.logSparsity!.data, tc.logSparsity!.data);
  // A model folder works in the name form too.
  assert.equal((await loadTranscoder(`${join(TINY_TC, "..")}:3`)).layer, 3);
});

Deno.test('an unknown layer lists the layers there; an unknown model says "did you mean"', async () => {
  await assert.rejects(loadTranscoder("tiny:9"), (e: Error) => {
    assert.ok(e instanceof TranscoderError, String(e));
    assert.equal(
      e.message,
      `tiny:9: no transcoder for layer 9 in ${TINY_TC} (layers found: 0, 1, 2, 3)`,
    );
    return true;
  });
  await assert.rejects(loadTranscoder("tinyy:2"), {
    name: "ConfigError",
    message: /^unknown model "tinyy": .*\(did you mean "tiny"\?\)$/,
  });
  await assert.rejects(loadTranscoders("gpt2-smal"), {
    name: "ConfigError",
    message: /did you mean "gpt2-small"\?/,
  });
  // A model name without a layer names both ways.
  await assert.rejects(loadTranscoder("tiny"), {
    name: "TranscoderError",
    message:
      `"tiny" is a model, not one transcoder: name one layer as "tiny:<layer>", or load them all with loadTranscoders("tiny")`,
  });
});

Deno.test('"gpt2-small:8" loads layer 8 once downloaded, and says how to get it before', async () => {
  if (existsSync(join(downloadsDir(), "gpt2-small", "config.json"))) {
    if (!existsSync(join(downloadsDir(), "gpt2-small", "transcoders"))) return;
    const tc = await loadTranscoder("gpt2-small:8");
    assert.equal(tc.layer, 8);
    assert.ok(tc.source);
  } else {
    await assert.rejects(loadTranscoder("gpt2-small:8"), {
      name: "ConfigError",
      message: /weights for "gpt2-small" are not in .*deno task setup/,
    });
  }
});

Deno.test('loadTranscoders("tiny"): 4 by layer, each with logSparsity and source; the same by folder', async () => {
  const runtime = new Runtime();
  const set = await loadTranscoders("tiny", { runtime });
  assert.deepEqual(set.map((t) => t.layer), [0, 1, 2, 3]);
  for (const t of set) {
    assert.deepEqual(t.logSparsity?.shape, [2048]);
    assert.equal(t.source, join(TINY_TC, `layer_${t.layer}`));
    assert.equal(t.runtime, runtime);
  }
  for (const dir of [join(TINY_TC, ".."), TINY_TC]) { // a model folder; its transcoders folder
    const again = await loadTranscoders(dir);
    assert.deepEqual(again.map((t) => t.source), set.map((t) => t.source), dir);
    assertSameParams(again[1], set[1]);
  }
});

Deno.test("a folder of folders and .pt files loads sorted by layer, and names a layer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "load_test_" });
  try {
    const cfg = (layer: number) => mlpTranscoderConfig(layer, { d_in: 16, d_sae: 64 });
    // Names in the opposite order of the layers.
    await saveTranscoderFolder(join(dir, "a"), Transcoder.random(cfg(2), 0), {
      logSparsity: full([64], -3),
    });
    await saveTranscoderFolder(join(dir, "b"), Transcoder.random(cfg(0), 1));
    const pt = join(dir, "c.pt"); // a name that does not tell its layer (1)
    await Deno.copyFile(PT, pt);
    await Deno.writeTextFile(join(dir, "notes.txt"), "not a transcoder");
    const set = await loadTranscoders(dir);
    assert.deepEqual(set.map((t) => t.layer), [0, 1, 2]);
    assert.deepEqual(set.map((t) => t.source), ["b", "c.pt", "a"].map((n) => join(dir, n)));
    assert.deepEqual(set.map((t) => t.logSparsity?.data[0]), [undefined, undefined, -3]);
    const one = await loadTranscoder(`${dir}:1`);
    assert.equal(one.source, pt);
    await assert.rejects(loadTranscoder(`${dir}:5`), {
      name: "TranscoderError",
      message: `${dir}:5: no transcoder for layer 5 in ${dir} (layers found: 0, 1, 2)`,
    });
    // Two transcoders for one layer: the name form is ambiguous.
    await saveTranscoderFolder(join(dir, "d"), Transcoder.random(cfg(2), 2));
    await assert.rejects(loadTranscoder(`${dir}:2`), {
      name: "TranscoderError",
      message: `${dir}:2: ${dir} holds 2 transcoders for layer 2 (${join(dir, "a")}, ${
        join(dir, "d")
      }): load one by its path`,
    });
    // A folder of transcoders is not one, and one is not a folder of them.
    await assert.rejects(loadTranscoder(dir), /holds several transcoders, not one/);
    await assert.rejects(loadTranscoders(join(dir, "a")), /is one transcoder folder/);
    await assert.rejects(loadTranscoders(pt), /is a file, not a folder of transcoders/);
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    await assert.rejects(loadTranscoders(empty), {
      name: "TranscoderError",
      message: `${empty} holds no transcoder folders or .pt checkpoints`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a reference .pt loads with its sidecar and source", async () => {
  const tc = await loadTranscoder(PT);
  assert.deepEqual([tc.cfg.d_in, tc.cfg.d_sae, tc.layer], [16, 64, 1]);
  assert.equal(tc.source, PT);
  assert.deepEqual(tc.logSparsity?.shape, [64]);
  assert.equal(tc.logSparsity!.data[0], -10); // log10(0 + 1e-10): a feature that never fired
});

Deno.test("missing paths are refused naming the path", async () => {
  const missing = join(TINY_TC, "layer_9");
  for (const p of [missing, `${missing}.pt`]) {
    await assert.rejects(loadTranscoder(p), { name: "TranscoderError", message: `${p} not found` });
  }
  await assert.rejects(loadTranscoders(missing), {
    name: "TranscoderError",
    message: `${missing} not found`,
  });
  await assert.rejects(loadTranscoder(`${missing}:1`), {
    name: "TranscoderError",
    message: `${missing} not found`,
  });
});

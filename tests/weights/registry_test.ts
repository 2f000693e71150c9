import assert from "node:assert/strict";
import {
  GPT2_REVISION,
  REGISTRY,
  RegistryError,
  resolveUrl,
  TRANSCODERS_REVISION,
  validateRegistry,
} from "../../lib/weights/registry.ts";
import { planDownloads } from "../../lib/weights/_install.ts";

Deno.test("the built-in registry: pinned URLs, unique destinations, verified values where known", () => {
  assert.equal(validateRegistry(REGISTRY, "REGISTRY"), REGISTRY);
  const model = REGISTRY["gpt2-small"];
  assert.equal(model.kind, "model");
  assert.deepEqual(model.files.map((f) => f.dest), [
    "gpt2-small/config.json",
    "gpt2-small/model.safetensors",
  ]);
  for (const f of model.files) {
    assert.ok(
      f.url.startsWith(`https://huggingface.co/openai-community/gpt2/resolve/${GPT2_REVISION}/`),
    );
    assert.ok(f.size !== null && f.sha256 !== null);
  }
  const tc = REGISTRY["gpt2-small-transcoders"];
  assert.equal(tc.kind, "transcoders");
  assert.equal(tc.files.length, 24);
  for (const [i, f] of tc.files.entries()) {
    const layer = Math.floor(i / 2);
    const stem = `final_sparse_autoencoder_gpt2-small_blocks.${layer}.ln2.hook_normalized_24576`;
    const name = i % 2 === 0 ? `${stem}.pt` : `${stem}_log_feature_sparsity.pt`;
    assert.equal(
      f.url,
      `https://huggingface.co/pchlenski/gpt2-transcoders/resolve/${TRANSCODERS_REVISION}/${name}`,
    );
    assert.equal(f.dest, `gpt2-small/transcoders/${name}`);
    assert.ok(f.approxSize! > 0);
  }
  const dests = Object.values(REGISTRY).flatMap((s) => s.files.map((f) => f.dest));
  assert.equal(new Set(dests).size, dests.length);
});

Deno.test("resolveUrl moves registry URLs to another endpoint", () => {
  const url = "https://huggingface.co/a/b/resolve/r/f.pt";
  assert.equal(resolveUrl(url), url);
  assert.equal(
    resolveUrl(url, "http://127.0.0.1:9/mirror/"),
    "http://127.0.0.1:9/mirror/a/b/resolve/r/f.pt",
  );
  assert.equal(
    resolveUrl("https://example.org/f.pt", "http://127.0.0.1:9"),
    "https://example.org/f.pt",
  );
  const plan = planDownloads(REGISTRY, ["gpt2-small"], {
    dir: "w",
    endpoint: "http://127.0.0.1:9",
  });
  assert.equal(
    plan[0].fetchUrl,
    `http://127.0.0.1:9/openai-community/gpt2/resolve/${GPT2_REVISION}/config.json`,
  );
  assert.equal(plan[0].path, "w/gpt2-small/config.json");
  assert.throws(
    () => planDownloads(REGISTRY, ["gpt3"], { dir: "w" }),
    /^RegistryError: unknown weight set "gpt3"; known: gpt2-small, gpt2-small-transcoders$/,
  );
});

Deno.test("validateRegistry names the bad field", () => {
  const file = { url: "https://huggingface.co/x", dest: "a/b", size: 1, sha256: null };
  const set = (f: object) => ({
    s: { kind: "model", description: "", files: [{ ...file, ...f }] },
  });
  assert.throws(() => validateRegistry([], "r.json"), RegistryError);
  assert.throws(
    () => validateRegistry(set({ dest: "../x" }), "r.json"),
    /^RegistryError: r\.json: set "s" file 0: dest must be a relative path inside the weights folder, got "\.\.\/x"$/,
  );
  assert.throws(
    () => validateRegistry(set({ sha256: "ABC" }), "r.json"),
    /sha256 must be 64 lower-case hex digits or null/,
  );
  assert.throws(
    () => validateRegistry(set({ url: "ftp://x" }), "r.json"),
    /url must be an http\(s\) URL/,
  );
  assert.throws(
    () => validateRegistry(set({ size: -1 }), "r.json"),
    /size must be a byte count or null/,
  );
  assert.throws(
    () => validateRegistry({ s: { kind: "sae", description: "", files: [] } }, "r.json"),
    /kind must be "model" or "transcoders", got "sae"/,
  );
});

/** Bad input to the model and its loader: each gets a clear error naming the value and what was expected. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, configToHf, gpt2Config } from "../../lib/model/config.ts";
import { loadModel, modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { toHfStateDict, WeightsError } from "../../lib/model/weights.ts";
import { serializeSafetensors } from "../../lib/formats/safetensors.ts";
import { sizeOf, type Tensor } from "../../lib/tensor/tensor.ts";
import { assertRefused } from "../helpers/within_budget.ts";

const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 20, n_ctx: 6 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 1));

async function hfFolder(
  mutate: (sd: Map<string, Tensor>) => void = () => {},
  config = configToHf(cfg),
): Promise<string> {
  const dir = await Deno.makeTempDir();
  const sd: Map<string, Tensor> = toHfStateDict(randomStateDict(cfg, 2), cfg);
  mutate(sd);
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
  await Deno.writeFile(join(dir, "model.safetensors"), serializeSafetensors(sd));
  return dir;
}

Deno.test("token ids outside the vocabulary and sequences longer than n_ctx are refused", async () => {
  await assert.rejects(
    model.loss([0, 5, 20]),
    /token id 20 at \[0, 2\] is outside the vocabulary \[0, 20\)/,
  );
  await assert.rejects(model.loss([0, -1]), /token id -1 at \[0, 1\]/);
  await assert.rejects(model.loss([0, 1.5]), /token id 1\.5 is not an integer/);
  await assert.rejects(
    model.loss([1, 2, 3, 4, 5, 6, 7]),
    /sequence of 7 tokens exceeds the context size n_ctx = 6/,
  );
  await assert.rejects(
    model.loss([[1, 2], [3]]),
    /sequence 1 has 1 tokens but sequence 0 has 2: a batch needs equal lengths/,
  );
  await assert.rejects(model.loss([1]), /the loss needs at least 2 tokens per sequence, got 1/);
  await assert.rejects(model.run([]), /need at least one token/);
});

Deno.test("unknown hook names list the nearest valid names", async () => {
  await assert.rejects(
    model.runWithCache([1, 2], { names: ["blocks.0.hook_mlp_outt"] }),
    /unknown hook "blocks.0.hook_mlp_outt"; nearest valid names: "blocks.0.hook_mlp_out"/,
  );
  await assert.rejects(
    model.runWithCache([1, 2], { names: ["blocks.1.hook_mlp_out"] }),
    /unknown hook "blocks.1.hook_mlp_out"/,
  );
  await assert.rejects(
    model.run([1, 2], {
      patches: {
        "blocks.0.attn.hook_patern": { dtype: "float32", shape: [1], data: new Float32Array(1) },
      },
    }),
    /patch for unknown hook "blocks.0.attn.hook_patern"; nearest valid names: "blocks.0.attn.hook_pattern"/,
  );
});

Deno.test("reading a hook that was not cached names it and the nearest recorded ones", async () => {
  const { cache } = await model.runWithCache([1, 2], {
    names: ["blocks.0.hook_mlp_out", "blocks.0.hook_attn_out"],
  });
  assert.throws(
    () => cache.get("blocks.0.hook_resid_post"),
    /hook "blocks\.0\.hook_resid_post" is not in this cache \(2 hooks recorded; nearest: "blocks\.0\.hook_attn_out", "blocks\.0\.hook_mlp_out"\): pass it in names when running the model/,
  );
});

Deno.test("patches of the wrong shape or dtype, and bad stop layers, are refused", async () => {
  await assert.rejects(
    model.run([1, 2], {
      patches: {
        "blocks.0.hook_mlp_out": { dtype: "float32", shape: [1, 3, 8], data: new Float32Array(24) },
      },
    }),
    /patch for "blocks.0.hook_mlp_out" has shape \[1, 3, 8\], which does not broadcast to the hook's shape \[1, 2, 8\]/,
  );
  await assert.rejects(
    model.run([1, 2], {
      patches: {
        "blocks.0.hook_mlp_out": {
          dtype: "int32",
          shape: [8],
          data: new Int32Array(8),
        } as unknown as Tensor<"float32">,
      },
    }),
    /patch for "blocks.0.hook_mlp_out" is int32, expected float32/,
  );
  await assert.rejects(
    model.runWithCache([1, 2], { stopAtLayer: 2 }),
    /stopAtLayer 2 out of range \[0, 1\]/,
  );
  await assert.rejects(
    model.runWithCache([1, 2], { stopAtLayer: 0, names: ["blocks.0.hook_resid_pre"] }),
    /hook "blocks.0.hook_resid_pre" is not computed when stopAtLayer = 0/,
  );
  assert.throws(() => model.toSingleToken("Hello world"), /is 2 tokens/);
});

Deno.test("loadModel: missing folder, bad config, missing or mis-shaped tensors, truncated file", async () => {
  await assert.rejects(
    loadModel("/nonexistent/gpt2"),
    /\/nonexistent\/gpt2\/config\.json not found: expected a Hugging Face GPT-2 folder/,
  );
  const badCfg = await hfFolder(undefined, { ...configToHf(cfg), n_head: 3 });
  await assert.rejects(
    loadModel(badCfg),
    /config\.json: n_embd \(8\) is not divisible by n_head \(3\)/,
  );
  const act = await hfFolder(undefined, { ...configToHf(cfg), activation_function: "relu" });
  await assert.rejects(loadModel(act), /activation_function "relu" is not supported/);
  const missing = await hfFolder((sd) => sd.delete("h.0.mlp.c_fc.bias"));
  await assert.rejects(
    loadModel(missing),
    /model\.safetensors: missing tensor "h\.0\.mlp\.c_fc\.bias" \[32\]/,
  );
  const shaped = await hfFolder((sd) =>
    sd.set("wpe.weight", { dtype: "float32", shape: [5, 8], data: new Float32Array(40) })
  );
  await assert.rejects(
    loadModel(shaped),
    /tensor "wpe\.weight" has shape \[5, 8\], expected \[6, 8\]/,
  );
  const truncated = await hfFolder();
  const path = join(truncated, "model.safetensors");
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(
    loadModel(truncated),
    /model\.safetensors: tensor "[^"]+": data_offsets end \d+ beyond the \d+ data bytes: truncated file\?/,
  );
  for (const d of [badCfg, act, missing, shaped, truncated]) {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("config.json: null, arrays, strings, huge or non-object values are refused by name", async () => {
  const cases: [unknown, RegExp][] = [
    [{ ...configToHf(cfg), n_embd: null }, /field "n_embd" is null, expected a number/],
    [{ ...configToHf(cfg), n_layer: [2] }, /field "n_layer" is \[2\], expected a number/],
    [{ ...configToHf(cfg), vocab_size: "20" }, /field "vocab_size" is "20", expected a number/],
    [
      { ...configToHf(cfg), n_positions: 1e300 },
      /config\.n_ctx is 1e\+300, expected a positive integer up to 2147483647/,
    ],
    [
      { ...configToHf(cfg), vocab_size: 2 ** 40 },
      /config\.d_vocab is 1099511627776, expected a positive integer up to/,
    ],
    [
      { ...configToHf(cfg), layer_norm_epsilon: 1e300 },
      /layer_norm_eps is 1e\+300, expected a number in \(0, 1\)/,
    ],
    [null, /config\.json: expected a JSON object, got null/],
    [[1, 2], /config\.json: expected a JSON object, got \[1,2\]/],
  ];
  for (const [config, message] of cases) {
    const dir = await hfFolder(undefined, config as Record<string, unknown>);
    await assertRefused(() => loadModel(dir), ConfigError, message);
    await Deno.remove(dir, { recursive: true });
  }
  // NaN is not JSON: Python's json.dump writes it, and the file is refused as invalid JSON.
  const nan = await hfFolder();
  await Deno.writeTextFile(join(nan, "config.json"), '{"n_embd": NaN}');
  await assertRefused(() => loadModel(nan), ConfigError, /config\.json: not valid JSON/);
  await Deno.remove(nan, { recursive: true });
});

Deno.test("lm_head.weight of the wrong rank, shape or dtype is refused like any other tensor", async () => {
  const head =
    (shape: number[], dtype: "float32" | "int32" = "float32") => (sd: Map<string, Tensor>) =>
      sd.set("lm_head.weight", {
        dtype,
        shape,
        data: dtype === "int32" ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape)),
      } as Tensor);
  const cases: [ReturnType<typeof head>, RegExp][] = [
    [
      head([160]),
      /model\.safetensors: tensor "lm_head\.weight" has shape \[160\], expected \[20, 8\]/,
    ],
    [head([8, 20]), /tensor "lm_head\.weight" has shape \[8, 20\], expected \[20, 8\]/],
    [head([20, 8], "int32"), /tensor "lm_head\.weight" has integer dtype int32/],
  ];
  for (const [mutate, message] of cases) {
    const dir = await hfFolder(mutate);
    await assertRefused(() => loadModel(dir), WeightsError, message);
    await Deno.remove(dir, { recursive: true });
  }
  const ok = await hfFolder(head([20, 8]));
  assert.equal((await loadModel(ok)).cfg.d_vocab, 20); // the right shape loads
  await Deno.remove(ok, { recursive: true });
});

Deno.test("a directory where config.json or model.safetensors should be is named as such", async () => {
  for (const name of ["config.json", "model.safetensors"]) {
    const dir = await hfFolder();
    await Deno.remove(join(dir, name));
    await Deno.mkdir(join(dir, name));
    await assert.rejects(loadModel(dir), {
      message: `${join(dir, name)} is a directory, expected a file`,
    });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadModel reads what toHfStateDict wrote, with and without processing", async () => {
  const dir = await hfFolder();
  const raw = await loadModel(dir, { processing: false });
  const processed = await loadModel(dir);
  assert.equal(raw.processing.fold_ln, false);
  assert.equal(processed.processing.fold_ln, true);
  assert.ok(raw.weights.has("blocks.0.ln1.w") && !processed.weights.has("blocks.0.ln1.w"));
  const direct = modelFromStateDict(cfg, randomStateDict(cfg, 2), { processing: false });
  const tokens = [3, 1, 4, 1, 5];
  assert.equal(await raw.loss(tokens), await direct.loss(tokens));
  assert.ok(Math.abs(await processed.loss(tokens) - await raw.loss(tokens)) < 1e-5);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("gpt2Config: a d_model that n_heads does not divide is named, and an explicit d_head is checked", () => {
  assert.throws(() => gpt2Config({ n_layers: 1, d_model: 10, n_heads: 3 }), {
    name: "ConfigError",
    message: "config: d_model (10) is not divisible by n_heads (3); pass d_head",
  });
  assert.throws(() => gpt2Config({ n_layers: 1, d_model: 10, n_heads: 3, d_head: 4 }), {
    name: "ConfigError",
    message: "config: n_heads (3) x d_head (4) must equal d_model (10)",
  });
});

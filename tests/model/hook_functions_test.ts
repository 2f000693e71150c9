/**
 * Host hook functions and ablations: each equals the same intervention built by hand as a patch
 * from a clean cache, on a small random model; hooks run in execution order and see the values
 * earlier hooks returned.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import {
  ablateFeature,
  ablateHead,
  ablatePosition,
  runWithHooks,
} from "../../lib/model/hook_functions.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { mlpTranscoderConfig, Transcoder } from "../../lib/transcoder/transcoder.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";

const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 4, n_ctx: 8, d_vocab: 30 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 7, 0.3));
const tokens = [[1, 5, 9, 2, 7], [3, 3, 8, 1, 0]];
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);

/** The loss with `name` replaced by `edit(clean value)`, as a plain patch. */
async function patchedLoss(name: string, edit: (t: Tensor<"float32">) => void) {
  const { cache } = await model.forward(tokens, { names: [name] });
  const t = cache.get(name);
  const v = { ...t, data: t.data.slice() };
  edit(v);
  return (await model.forward(tokens, { loss: "mean", patches: { [name]: v } })).loss!;
}

Deno.test("ablateHead and ablatePosition equal hand-made patches, in zero and mean modes", async () => {
  const z = "blocks.1.attn.hook_z"; // [2, 5, 4, 4]
  const zeroHead = await runWithHooks(model, tokens, {
    loss: "mean",
    hooks: { [z]: ablateHead(2) },
  });
  close(
    zeroHead.loss!,
    await patchedLoss(z, (v) => {
      for (let i = 0; i < 10; i++) v.data.fill(0, (i * 4 + 2) * 4, (i * 4 + 3) * 4);
    }),
  );
  const meanHead = await runWithHooks(model, tokens, {
    loss: "mean",
    hooks: { [z]: ablateHead(-1, { mode: "mean" }) },
  });
  close(
    meanHead.loss!,
    await patchedLoss(z, (v) => {
      for (let x = 0; x < 4; x++) {
        let m = 0;
        for (let i = 0; i < 10; i++) m += v.data[(i * 4 + 3) * 4 + x] / 10;
        for (let i = 0; i < 10; i++) v.data[(i * 4 + 3) * 4 + x] = m;
      }
    }),
  );
  const r = "blocks.0.hook_resid_mid"; // [2, 5, 16]
  const meanPos = await runWithHooks(model, tokens, {
    loss: "mean",
    hooks: { [r]: ablatePosition(-2, { mode: "mean" }) },
  });
  close(
    meanPos.loss!,
    await patchedLoss(r, (v) => {
      for (let x = 0; x < 16; x++) {
        let m = 0;
        for (let i = 0; i < 10; i++) m += v.data[i * 16 + x] / 10;
        for (const b of [0, 1]) v.data[(b * 5 + 3) * 16 + x] = m;
      }
    }),
  );
  // The pattern keeps heads on axis 1.
  const p = await runWithHooks(model, tokens, {
    names: ["blocks.0.attn.hook_pattern"],
    hooks: { "blocks.0.attn.hook_pattern": ablateHead(1) },
  });
  const pat = p.cache.get("blocks.0.attn.hook_pattern");
  assert.ok(pat.data.every((x, i) => Math.floor(i / 25) % 4 !== 1 || x === 0));
  assert.ok(pat.data.some((x) => x !== 0));
});

Deno.test("hooks run in execution order and each sees what earlier hooks returned", async () => {
  const order: string[] = [];
  let seenResid: Tensor<"float32"> | undefined;
  const res = await runWithHooks(model, tokens, {
    names: ["blocks.1.hook_resid_pre"],
    hooks: {
      // Declared out of order on purpose.
      "blocks.1.hook_resid_pre": (v) => {
        order.push("resid_pre 1");
        seenResid = v;
      },
      "blocks.0.hook_mlp_out": (v) => {
        order.push("mlp_out 0");
        return { ...v, data: new Float32Array(v.data.length) };
      },
    },
  });
  assert.deepEqual(order, ["mlp_out 0", "resid_pre 1"]);
  const { cache } = await model.forward(tokens, {
    names: ["blocks.0.hook_mlp_out", "blocks.1.hook_resid_pre"],
  });
  const zeros = { ...cache.get("blocks.0.hook_mlp_out"), data: new Float32Array(2 * 5 * 16) };
  const want = (await model.forward(tokens, {
    names: ["blocks.1.hook_resid_pre"],
    patches: { "blocks.0.hook_mlp_out": zeros },
  })).cache.get("blocks.1.hook_resid_pre");
  assert.deepEqual(seenResid!.data, want.data);
  assert.deepEqual(res.cache.get("blocks.1.hook_resid_pre").data, want.data);
});

Deno.test("ablateFeature switches one spliced transcoder feature off", async () => {
  const tc = Transcoder.random(mlpTranscoderConfig(1, { d_in: 16, d_sae: 24 }), 3);
  const mlpReplacements = new Map([[1, tc.asReplacement()]]);
  const name = "blocks.1.transcoder.hook_acts";
  const { cache } = await model.forward(tokens, { names: [name], mlpReplacements });
  const acts = cache.get(name);
  const f = [...acts.data.keys()].find((i) => acts.data[i] > 0)! % 24; // a feature that fires
  const res = await runWithHooks(model, tokens, {
    loss: "mean",
    mlpReplacements,
    hooks: { [name]: ablateFeature(f) },
  });
  const off = { ...acts, data: acts.data.map((x, i) => (i % 24 === f ? 0 : x)) };
  const want = await model.forward(tokens, {
    loss: "mean",
    mlpReplacements,
    patches: { [name]: off },
  });
  close(res.loss!, want.loss!);
});

Deno.test("runWithHooks refuses a wrong returned shape and a hook that is also patched", async () => {
  const name = "blocks.0.hook_mlp_out";
  await assert.rejects(
    runWithHooks(model, tokens, {
      hooks: { [name]: (v) => ({ ...v, shape: [10, 16] }) },
    }),
    /the hook function on "blocks\.0\.hook_mlp_out" returned shape \[10, 16\], expected \[2, 5, 16\]/,
  );
  const { cache } = await model.forward(tokens, { names: [name] });
  await assert.rejects(
    runWithHooks(model, tokens, {
      patches: { [name]: cache.get(name) },
      hooks: { [name]: () => {} },
    }),
    /has both a patch and a hook function/,
  );
  await assert.rejects(
    runWithHooks(model, tokens, { hooks: { [name]: ablateHead(0) } }),
    /ablateHead needs an attention hook with a head axis, not "blocks\.0\.hook_mlp_out"/,
  );
  await assert.rejects(
    runWithHooks(model, tokens, { hooks: { "blocks.0.attn.hook_z": ablateHead(4) } }),
    /head 4 is out of range for shape \[2, 5, 4, 4\]/,
  );
});

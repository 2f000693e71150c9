/**
 * Compared passes (`ForwardRequest.compareWith`) start from the primary pass's values at the
 * first MLP that either replaces: each compared pass's loss must equal a separate run of the
 * model with its replacements (1e-6), whatever the primary pass replaces, and a patched primary
 * pass must not leak its patch into them. An extension reads a compared pass's hooks, the ones
 * before its shared prefix being the primary pass's.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import type { MlpReplacementProvider, MlpReplacements } from "../../lib/model/hooked_model.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { randomTranscoder } from "../helpers/random_transcoders.ts";

const cfg = gpt2Config({ n_layers: 3, d_model: 16, n_heads: 4, d_vocab: 40, n_ctx: 8 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 11, 0.3));
const tokens = [[1, 5, 9, 2, 7, 30, 4, 12], [3, 3, 8, 21, 0, 39, 17, 6]];
const tc = [0, 1, 2].map((l) => randomTranscoder(l, l + 1).asReplacement());
const set = (...entries: [number, "zero" | MlpReplacementProvider][]): MlpReplacements =>
  new Map(entries);
const sets = [
  set([0, "zero"]),
  set([1, tc[1]]),
  set([2, "zero"]),
  set([1, "zero"], [2, tc[2]]),
  set(),
];
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

for (
  const [label, primary] of [
    ["clean", set()],
    ["layer 1 replaced", set([1, tc[1]])],
  ] as const
) {
  Deno.test(`compared passes equal separate runs (primary ${label})`, async () => {
    const res = await model.forward(tokens, {
      loss: "mean",
      mlpReplacements: primary,
      compareWith: sets,
    });
    close(res.loss!, await model.loss(tokens, { mlpReplacements: primary }), "primary loss");
    for (const [k, set] of sets.entries()) {
      close(res.comparisons![k].loss, await model.loss(tokens, { mlpReplacements: set }), `${k}`);
    }
    // The last set is the clean model: no KL against a clean primary.
    if (primary.size === 0) assert.ok(Math.abs(res.comparisons![4].kl) < 1e-6);
  });
}

Deno.test("a patched primary pass leaves its compared passes unpatched", async () => {
  const patch = { dtype: "float32" as const, shape: [16], data: new Float32Array(16).fill(0.5) };
  const res = await model.forward(tokens, {
    loss: "mean",
    patches: { "blocks.0.hook_resid_mid": patch },
    compareWith: sets,
  });
  for (const [k, set] of sets.entries()) {
    close(res.comparisons![k].loss, await model.loss(tokens, { mlpReplacements: set }), `${k}`);
  }
});

Deno.test("an extension reads the hooks of a compared pass", async () => {
  const acts = "blocks.1.transcoder.hook_acts";
  const res = await model.forward(tokens, {
    compareWith: sets,
    extension: {
      key: "read-compared",
      build(g, { hook }) {
        g.output("acts", hook(acts, 1));
        g.output("mlpOut", hook("blocks.1.hook_mlp_out", 1));
        g.output("residMid", hook("blocks.1.hook_resid_mid", 1)); // the primary pass's
      },
    },
  });
  const { cache } = await model.runWithCache(tokens, {
    names: [acts, "blocks.1.hook_mlp_out", "blocks.1.hook_resid_mid"],
    mlpReplacements: sets[1],
  });
  for (const [out, name] of [["acts", acts], ["mlpOut", "blocks.1.hook_mlp_out"]]) {
    const got = res.extra![out].data as Float32Array, want = cache.get(name).data;
    got.forEach((v, i) => close(v, want[i], `${name} ${i}`));
  }
  const clean = (await model.runWithCache(tokens, { names: ["blocks.1.hook_resid_mid"] })).cache;
  assert.deepEqual(res.extra!.residMid.data, clean.get("blocks.1.hook_resid_mid").data);
  await assert.rejects(
    model.forward(tokens, {
      compareWith: sets,
      extension: { key: "bad", build: (_, { hook }) => void hook(acts, 9) },
    }),
    /no compared pass 9 \(5 compared\)/,
  );
});

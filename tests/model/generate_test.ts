/** `HookedModel.generate`: greedy decoding equals repeated argmax; top-k sampling stays in the top k and is seeded. */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { topk } from "../../lib/tensor/ops.ts";

const cfg = gpt2Config({ n_layers: 2, d_model: 32, n_heads: 4, n_ctx: 16 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 3, 0.2));
const prompt = [50256, 464, 1578, 1829]; // <|endoftext|>The United States

Deno.test("greedy generation equals taking the argmax of the last logits, one token at a time", async () => {
  const text = await model.generate(prompt, { maxNewTokens: 6, greedy: true });
  const ids = [...prompt];
  for (let i = 0; i < 6; i++) {
    const logits = await model.run(ids);
    const V = cfg.d_vocab;
    ids.push(
      topk((logits.data as Float32Array).subarray((ids.length - 1) * V, ids.length * V), 1)[0]
        .index,
    );
  }
  assert.equal(text, model.toString(ids.slice(prompt.length)));
});

Deno.test("top-k sampling is reproducible with a seed and only picks among the top k", async () => {
  const a = await model.generate(prompt, { maxNewTokens: 5, topK: 3, seed: 7 });
  const b = await model.generate(prompt, { maxNewTokens: 5, topK: 3, seed: 7 });
  assert.equal(a, b);
  const first =
    model.toTokens(await model.generate(prompt, { maxNewTokens: 1, topK: 3, seed: 1 }), {
      prependBos: false,
    }).data[0];
  const logits = await model.run(prompt);
  const V = cfg.d_vocab;
  const top3 = topk((logits.data as Float32Array).subarray((prompt.length - 1) * V), 3).map((t) =>
    t.index
  );
  assert.ok(top3.includes(first), `${first} not in the top 3 ${top3}`);
  await assert.rejects(
    model.generate(prompt, { temperature: 0 }),
    /temperature must be > 0, got 0/,
  );
  await assert.rejects(model.generate([], {}), /generate needs a non-empty prompt/);
});

Deno.test("generation past n_ctx keeps the last n_ctx tokens", async () => {
  const long = Array.from({ length: 15 }, (_, i) => 100 + i);
  const text = await model.generate(long, { maxNewTokens: 4, greedy: true });
  assert.equal(typeof text, "string");
  assert.ok(model.toTokens(text, { prependBos: false }).shape[1] >= 1);
});

/**
 * Transcoder training end to end on a tiny random model: the activation store keeps input and
 * target rows paired through its shuffles, b_dec/b_dec_out start at the buffer means, training
 * lowers the loss, ghost gradients switch on for features that stopped firing, checkpoints
 * resume, and bad options are refused.
 */
import assert from "node:assert/strict";
import { gpt2Config } from "../../lib/model/config.ts";
import { modelFromStateDict } from "../../lib/model/load.ts";
import { randomStateDict } from "../../lib/model/random_weights.ts";
import { ActivationStore, columnMeans } from "../../lib/transcoder/activation_store.ts";
import {
  trainTranscoder,
  type TranscoderStepMetrics,
} from "../../lib/transcoder/train_transcoder.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";

const cfg = gpt2Config({ n_layers: 2, d_model: 16, n_heads: 2, n_ctx: 16, d_vocab: 100 });
const model = modelFromStateDict(cfg, randomStateDict(cfg, 0, 0.3));
const nRows = 48;
const rows: Tensor<"int32"> = {
  dtype: "int32",
  shape: [nRows, 16],
  data: Int32Array.from({ length: nRows * 16 }, (_, i) => (i * 7 + (i >> 4) * 13) % 100),
};
const small = {
  layer: 1,
  dSae: 64,
  trainBatchSize: 64,
  storeBatchSize: 4,
  nBatchesInBuffer: 4,
  warmupSteps: 5,
  lr: 1e-2,
  l1Coefficient: 1e-3,
};

/** The store `trainTranscoder` builds for layer 1 with the small options (seed 42 is its default). */
const layer1Store = (trainBatchSize: number, seed: number) =>
  new ActivationStore(model, rows, {
    inHook: "blocks.1.ln2.hook_normalized",
    outHook: "blocks.1.hook_mlp_out",
    layer: 1,
    storeBatchSize: small.storeBatchSize,
    nBatchesInBuffer: small.nBatchesInBuffer,
    trainBatchSize,
    seed,
  });

Deno.test("the activation store serves paired rows: each target is the MLP of its input", async () => {
  const store = layer1Store(32, 3);
  const w = (n: string) => model.param(`blocks.1.mlp.${n}`).data;
  const [Win, bin, Wout, bout] = [w("W_in"), w("b_in"), w("W_out"), w("b_out")];
  const gelu = (u: number) =>
    0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
  for (let k = 0; k < 5; k++) {
    const { x, y } = await store.nextBatch();
    assert.deepEqual(x.shape, [32, 16]);
    for (let r = 0; r < 32; r += 7) {
      const h = Array.from({ length: 64 }, (_, j) => {
        let s = bin[j];
        for (let i = 0; i < 16; i++) s += x.data[r * 16 + i] * Win[i * 64 + j];
        return gelu(s);
      });
      for (let o = 0; o < 16; o++) {
        let s = bout[o];
        for (let j = 0; j < 64; j++) s += h[j] * Wout[j * 16 + o];
        assert.ok(
          Math.abs(s - y.data[r * 16 + o]) < 1e-4,
          `batch ${k} row ${r}: target is not the MLP of the input`,
        );
      }
    }
  }
  assert.ok(store.cursor > 0);
  assert.deepEqual(Array.from(columnMeans(Float32Array.of(1, 2, 3, 6), 2)), [2, 4]);
});

Deno.test("b_dec and b_dec_out start at the means of the first buffer", async () => {
  const store = layer1Store(64, 42);
  const { x, y } = await store.storage();
  const { transcoder } = await trainTranscoder(model, rows, { ...small, lr: 0, totalTokens: 64 });
  assert.deepEqual(transcoder.b_dec.data, columnMeans(x, 16));
  assert.deepEqual(transcoder.b_dec_out.data, columnMeans(y, 16));
});

Deno.test("training lowers the loss and engages ghost grads for features that stop firing", async () => {
  const metrics: TranscoderStepMetrics[] = [];
  const { transcoder, completed, steps } = await trainTranscoder(
    model,
    rows,
    { ...small, l1Coefficient: 3e-2, totalTokens: 64 * 40, deadFeatureWindow: 3 },
    { onStep: (m) => metrics.push(m) },
  );
  assert.ok(completed);
  assert.equal(steps, 40);
  assert.equal(metrics.length, 40);
  assert.ok(
    metrics[39].mseLoss < 0.5 * metrics[0].mseLoss,
    `mse ${metrics[0].mseLoss} -> ${metrics[39].mseLoss}`,
  );
  assert.ok(
    metrics.some((m) => m.deadFeatures > 0 && m.ghostLoss > 0),
    "no step had dead features with a ghost loss",
  );
  assert.equal(transcoder.cfg.hook_name, "blocks.1.ln2.hook_normalized");
  assert.equal(transcoder.cfg.out_hook_name, "blocks.1.hook_mlp_out");
  assert.equal(transcoder.cfg.l1_coefficient, 3e-2);
  // Without ghost grads no ghost loss is ever reported.
  const plain: TranscoderStepMetrics[] = [];
  await trainTranscoder(model, rows, {
    ...small,
    totalTokens: 64 * 5,
    useGhostGrads: false,
    deadFeatureWindow: 0,
  }, { onStep: (m) => plain.push(m) });
  assert.ok(plain.every((m) => m.ghostLoss === 0));
});

Deno.test("a stopped run checkpoints and resumes from its step; another config is refused", async () => {
  const dir = await Deno.makeTempDir();
  const checkpointPath = `${dir}/checkpoint.safetensors`;
  const opts = { ...small, totalTokens: 64 * 10 };
  let n = 0;
  const first = await trainTranscoder(model, rows, opts, {
    checkpointPath,
    shouldStop: () => ++n >= 4,
  });
  assert.equal(first.completed, false);
  assert.equal(first.steps, 4);
  const saved = await loadCheckpoint(checkpointPath);
  assert.equal(saved.meta.step, 4);
  assert.equal(saved.meta.kind, "transcoder");
  const seen: number[] = [];
  const second = await trainTranscoder(model, rows, opts, {
    checkpointPath,
    onStep: (m) => seen.push(m.step),
  });
  assert.ok(second.completed);
  assert.deepEqual(seen, [5, 6, 7, 8, 9, 10]);
  await assert.rejects(
    trainTranscoder(model, rows, { ...opts, l1Coefficient: 2e-3 }, { checkpointPath }),
    /is from another configuration: l1Coefficient is 0\.002 here but 0\.001 in the checkpoint/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad options: a layer out of range, a buffer smaller than a batch", async () => {
  await assert.rejects(
    trainTranscoder(model, rows, { ...small, layer: 2, totalTokens: 64 }),
    /layer 2 out of range: the model has layers 0\.\.1/,
  );
  await assert.rejects(
    trainTranscoder(model, rows, { ...small, trainBatchSize: 4096, totalTokens: 4096 }),
    /half a buffer holds 128 activations, fewer than one training batch of 4096/,
  );
  await assert.rejects(
    trainTranscoder(model, rows, { ...small, nBatchesInBuffer: 3, totalTokens: 64 }),
    /nBatchesInBuffer must be an even number >= 2, got 3/,
  );
});

Deno.test("a diverging run stops naming the step and the last good checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const checkpointPath = `${dir}/checkpoint.safetensors`;
  await assert.rejects(
    trainTranscoder(model, rows, { ...small, lr: 1e30, warmupSteps: 0, totalTokens: 64 * 20 }, {
      checkpointPath,
      checkpointEvery: 1,
    }),
    (e: Error) => {
      assert.equal(e.name, "NonFiniteLossError");
      assert.match(
        e.message,
        /^step (\d+): loss .*; last good checkpoint: .*checkpoint\.safetensors \(step \d+\)$/,
      );
      const [, failed] = /^step (\d+)/.exec(e.message)!;
      const [, saved] = /\(step (\d+)\)$/.exec(e.message)!;
      assert.equal(Number(saved), Number(failed) - 1);
      return true;
    },
  );
  const { meta } = await loadCheckpoint(checkpointPath);
  assert.ok(meta.step >= 1);
  await Deno.remove(dir, { recursive: true });
});

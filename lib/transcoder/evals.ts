/**
 * Evaluating transcoders the transcoder-correct way (the reference's logged explained variance
 * compared with the input; here everything is against the MLP output, the target):
 *
 * - L0: mean number of active features per token.
 * - Normalised MSE: `sum ||y - y_hat||^2 / sum ||y||^2` over tokens (y = `hook_mlp_out`).
 * - Explained variance: `1 - sum ||y - y_hat||^2 / sum ||y - mean(y)||^2`.
 * - Cross-entropy: clean; with the MLP replaced by the transcoder (the rest of the model sees
 *   `y_hat`); with the MLP zero-ablated; CE score `(zero - replaced) / (zero - clean)`; and
 *   KL(clean || replaced) of the next-token distributions, averaged over positions.
 * - Feature frequencies: per-feature `log10(freq + 1e-10)` (the reference's sidecar), dead
 *   features (never fired) and live ones (log10 frequency > -4).
 *
 * All sums are accumulated in float64.
 *
 * @module
 */
import type { Value } from "../graph/ir.ts";
import type { GraphExtension, HookedModel, MlpReplacements } from "../model/hooked_model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { streamRows } from "../train/_row_stream.ts";
import {
  type Transcoder,
  transcoderForward,
  type TranscoderParam,
  transcoderShapes,
} from "./transcoder.ts";

/**
 * The per-layer reconstruction statistics of one batch, reduced in the clean pass's graph so that
 * no `[tokens, d_sae]` activations leave onnxruntime: for each transcoder, on its MLP input and
 * against the MLP output `y`, its firing count per feature `[d_sae]` (their sum is its L0 count),
 * the summed squared error, and `sum y`, `sum y^2` per dimension `[d]` (the variance and
 * `||y||^2`).
 *
 * The compared pass `alone(k)` replaces transcoder `k`'s layer alone and starts from the clean
 * pass's values at that MLP, so it has already run the dictionary on the clean input: its
 * activations are read from that pass, and so is its output where the dictionary's output is the
 * MLP's (a transcoder, an SAE on the MLP's output); an SAE on the MLP's input, whose output feeds
 * the MLP, is decoded here, and a transcoder that reads another hook than the MLP's input is run
 * here.
 */
function reconstructionStats(
  transcoders: readonly Transcoder[],
  alone: (k: number) => number,
): GraphExtension {
  const params = ["W_enc", "b_enc", "W_dec", "b_dec", "b_dec_out"] as const;
  const feeds: Record<string, Tensor> = {};
  for (const tc of transcoders) {
    for (const n of params) feeds[`tc${tc.layer}.${n}`] = tc.params.get(n)!;
  }
  return {
    key: `eval-recon:${
      transcoders.map((t) => `${t.layer}:${t.cfg.d_sae}:${t.cfg.hook_name}>${t.cfg.out_hook_name}`)
        .join(",")
    }`,
    feeds,
    build(g, { hook, input }) {
      for (const [k, tc] of transcoders.entries()) {
        const l = tc.layer, shapes = transcoderShapes(tc.cfg);
        const param = (n: TranscoderParam) => input(`tc${l}.${n}`, "float32", shapes[n]);
        const mlpIn = `blocks.${l}.ln2.hook_normalized`, y = hook(tc.cfg.out_hook_name);
        let z, yHat; // [b, p, d_sae], [b, p, d]
        if (tc.kind === "transcoder" && tc.cfg.hook_name !== mlpIn) {
          const p = Object.fromEntries(params.map((n) => [n, param(n)]));
          ({ z, yHat } = transcoderForward(
            g,
            hook(tc.cfg.hook_name),
            p as Record<TranscoderParam, Value>,
          ));
        } else {
          z = hook(tc.asReplacement().hookNames(l)[0], alone(k));
          yHat = tc.kind === "sae" && tc.cfg.hook_name === mlpIn
            ? g.add(g.matmul(z, param("W_dec")), param("b_dec_out"))
            : hook(`blocks.${l}.hook_mlp_out`, alone(k));
        }
        const e = g.sub(y, yHat);
        g.output(
          `eval:${l}:fires`,
          g.reduceSum(g.cast(g.greater(z, g.scalar(0)), "float32"), [0, 1]),
        );
        g.output(`eval:${l}:err`, g.reduceSum(g.mul(e, e)));
        g.output(`eval:${l}:sum`, g.reduceSum(y, [0, 1]));
        g.output(`eval:${l}:sumSq`, g.reduceSum(g.mul(y, y), [0, 1]));
      }
    },
  };
}

/** Metrics of one transcoder. */
export interface LayerEval {
  layer: number;
  l0: number;
  nmse: number;
  explainedVariance: number;
  ceClean: number;
  ceReplaced: number;
  ceZeroAblated: number;
  ceScore: number;
  kl: number;
  deadFeatures: number;
  liveFeatures: number;
  /** `[d_sae]` log10(firing frequency + 1e-10). */
  logFrequencies: Float32Array;
}

/** Metrics with every evaluated layer replaced at once. */
export interface AllLayersEval {
  layers: number[];
  ceClean: number;
  ceReplaced: number;
  ceZeroAblated: number;
  ceScore: number;
  kl: number;
}

/** Options of `evaluateTranscoders`. */
export interface EvalOptions {
  /** Sequences per forward pass (default 16). */
  batchSize?: number;
  quiet?: boolean;
}

/**
 * The threshold of a live feature, as in the reference walkthrough: a feature is live when its
 * `log10(freq + 1e-10)` is above it, i.e. when it fires on more than 1 token in 10,000.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LIVE_LOG10_FREQUENCY } from "./evals.ts";
 * Math.log10(1 / 1000 + 1e-10) > LIVE_LOG10_FREQUENCY; // true: fires once in 1,000 tokens
 * assert.equal(Math.log10(1 / 20000 + 1e-10) > LIVE_LOG10_FREQUENCY, false); // once in 20,000
 * ```
 */
export const LIVE_LOG10_FREQUENCY = -4;

/**
 * Evaluates transcoders (one per layer, any subset of layers) on token rows `[n, n_ctx]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { evaluateTranscoders } from "./evals.ts";
 * import { mlpTranscoderConfig, Transcoder } from "./transcoder.ts";
 * const cfg = gpt2Config({ n_layers: 2, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const transcoders = [0, 1].map((l) => Transcoder.random(mlpTranscoderConfig(l, { d_in: 8, d_sae: 16 }), l));
 * const rows = tensor(new Int32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]); // 2 rows of 4 tokens
 * const { perLayer, all, tokens } = await evaluateTranscoders(model, transcoders, rows, { quiet: true });
 * tokens; // 8
 * perLayer[1].logFrequencies.length; // 16 (d_sae)
 * all.layers; // [0, 1]
 * assert.ok(Number.isFinite(perLayer[0].ceScore) && perLayer[0].kl >= 0 && all.kl >= 0);
 * // with 8 tokens every feature that fired at all is live (frequency >= 1/8):
 * assert.equal(perLayer[0].deadFeatures + perLayer[0].liveFeatures, 16);
 * ```
 */
export async function evaluateTranscoders(
  model: HookedModel,
  transcoders: readonly Transcoder[],
  rows: Tensor<"int32">,
  { batchSize = 16, quiet = false }: EvalOptions = {},
): Promise<{ perLayer: LayerEval[]; all: AllLayersEval; tokens: number }> {
  if (transcoders.length === 0) throw new RangeError("no transcoders to evaluate");
  const layers = transcoders.map((t) => t.layer);
  if (new Set(layers).size !== layers.length) {
    throw new RangeError(`two transcoders for one layer: ${layers.join(", ")}`);
  }
  for (const t of transcoders) {
    if (t.cfg.d_in !== model.cfg.d_model || t.cfg.d_out !== model.cfg.d_model) {
      throw new RangeError(
        `transcoder for layer ${t.layer} has d_in ${t.cfg.d_in}, d_out ${t.cfg.d_out}; the model's d_model is ${model.cfg.d_model}`,
      );
    }
  }
  const [n, p] = rows.shape;
  if (n === 0) throw new RangeError("no token rows to evaluate on");
  const d = model.cfg.d_model;
  const acc = transcoders.map((t) => ({
    err: 0,
    sum: new Float64Array(d),
    sumSq: new Float64Array(d),
    fires: new Float64Array(t.cfg.d_sae),
    ceReplaced: 0,
    ceZero: 0,
    kl: 0,
  }));
  let ceClean = 0, ceAll = 0, ceZeroAll = 0, klAll = 0, tokens = 0, batches = 0;
  const replacement = new Map(transcoders.map((t) => [t.layer, t.asReplacement()]));
  // One graph per batch: the clean pass (with the reconstruction statistics of `extension`) and,
  // compared with it, every layer replaced, every layer zero-ablated, then per layer its
  // transcoder and its ablation.
  const compareWith: MlpReplacements[] = [
    replacement,
    new Map(layers.map((l) => [l, "zero" as const])),
    ...layers.flatMap((l): MlpReplacements[] => [
      new Map([[l, replacement.get(l)!]]),
      new Map([[l, "zero" as const]]),
    ]),
  ];
  const extension = reconstructionStats(transcoders, (k) => 2 + 2 * k);
  await streamRows(rows, { batchSize, label: "eval", quiet }, async ({ rows: tok, start, end }) => {
    const b = end - start;
    const clean = await model.forward(tok, { loss: "mean", compareWith, extension });
    const [all, allZero, ...single] = clean.comparisons!;
    ceClean += clean.loss! * b;
    ceAll += all.loss * b;
    klAll += all.kl * b;
    ceZeroAll += allZero.loss * b;
    for (const [k, tc] of transcoders.entries()) {
      const a = acc[k], l = tc.layer, [rep, zero] = [single[2 * k], single[2 * k + 1]];
      a.ceReplaced += rep.loss * b;
      a.kl += rep.kl * b;
      a.ceZero += zero.loss * b;
      const out = (name: string) => clean.extra![`eval:${l}:${name}`].data as Float32Array;
      const fires = out("fires"), sum = out("sum"), sumSq = out("sumSq");
      for (let j = 0; j < fires.length; j++) {
        a.fires[j] += fires[j];
      }
      a.err += out("err")[0];
      for (let j = 0; j < d; j++) {
        a.sum[j] += sum[j];
        a.sumSq[j] += sumSq[j];
      }
    }
    tokens += b * p;
    batches += b;
    return { "CE clean": ceClean / batches };
  });
  const clean = ceClean / batches, zeroAll = ceZeroAll / batches, replacedAll = ceAll / batches;
  const perLayer = transcoders.map((tc, k): LayerEval => {
    const a = acc[k];
    let variance = 0, sq = 0;
    for (let j = 0; j < d; j++) {
      variance += a.sumSq[j] - (a.sum[j] * a.sum[j]) / tokens;
      sq += a.sumSq[j];
    }
    const logFrequencies = Float32Array.from(a.fires, (f) => Math.log10(f / tokens + 1e-10));
    const ceReplaced = a.ceReplaced / batches, ceZero = a.ceZero / batches;
    return {
      layer: tc.layer,
      l0: a.fires.reduce((x, f) => x + f, 0) / tokens,
      nmse: a.err / sq,
      explainedVariance: 1 - a.err / variance,
      ceClean: clean,
      ceReplaced,
      ceZeroAblated: ceZero,
      ceScore: (ceZero - ceReplaced) / (ceZero - clean),
      kl: a.kl / batches,
      deadFeatures: a.fires.filter((f) => f === 0).length,
      liveFeatures: logFrequencies.filter((f) => f > LIVE_LOG10_FREQUENCY).length,
      logFrequencies,
    };
  });
  return {
    perLayer,
    all: {
      layers,
      ceClean: clean,
      ceReplaced: replacedAll,
      ceZeroAblated: zeroAll,
      ceScore: (zeroAll - replacedAll) / (zeroAll - clean),
      kl: klAll / batches,
    },
    tokens,
  };
}

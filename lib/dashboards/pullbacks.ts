/**
 * Pullbacks: how strongly each feature of an earlier transcoder writes along a later direction.
 *
 * - Input-independent (the reference's `plot_pulledback_feature` without input):
 *   `W_dec v` `[d_sae]`, e.g. v = a later feature's encoder column `W_enc'[:, i]`.
 * - Input-dependent (with an input): `(W_dec v) * z` at a token of a prompt (input-times-gradient,
 *   `transcoderIxG` of a `CircuitContext`).
 * - Mean input-times-gradient over a corpus (the reference's `get_mean_ixg`): the mean of
 *   `(W_dec v) * z(t)` over the tokens t where the later feature fires (or any chosen tokens),
 *   with the fraction of those tokens where each earlier feature fires. The corpus pass runs in
 *   the graph: per batch only `sum_t m_t z(t)` and `sum_t m_t [z(t) > 0]` `[d_sae]` (m the token
 *   mask) leave it; the host multiplies by `W_dec v` and accumulates in float64.
 *
 * @module
 */
import { streamRows } from "../train/_row_stream.ts";
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import { transcoderIxG } from "../circuits/attribution.ts";
import type { CircuitContext } from "../circuits/context.ts";
import type { Value } from "../graph/ir.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { decoderProducts, encoderColumn } from "../circuits/weight_products.ts";
import {
  checkRows,
  checkTranscoder,
  encoderFeeds,
  encoderKey,
  runProbe,
  spliceEncoder,
} from "./_probe_graph.ts";
import { type FeatureValue, rankFeatures } from "./ranking.ts";

/** A pullback onto a transcoder's features: all values `[d_sae]` and the top and bottom k. */
export interface Pullback {
  values: Float64Array;
  top: FeatureValue[];
  bottom: FeatureValue[];
}

/**
 * `W_dec v` `[d_sae]` of a transcoder for a vector `v` `[d_out]` (float64). With `meanFree`
 * each decoder row is first made mean-free (what a following LayerNorm keeps); the reference
 * does not (default false).
 *
 * @example
 * ```ts
 * import { vectorPullback } from "./pullbacks.ts";
 * import { mlpTranscoderConfig, Transcoder } from "../transcoder/transcoder.ts";
 * import assert from "node:assert/strict";
 * const tc = Transcoder.random(mlpTranscoderConfig(0, { d_in: 4, d_sae: 8 }), 0);
 * const { values, top } = vectorPullback(tc, [0, 1, 0, 0], { k: 2 }); // v = e_1
 * top.length; // 2: the features writing most along v, largest first
 * // W_dec e_1 is column 1 of W_dec [d_sae, d_out]:
 * const column1 = Array.from({ length: 8 }, (_, i) => tc.W_dec.data[i * 4 + 1]);
 * assert.deepEqual(Array.from(values), column1);
 * assert.equal(top[0].value, Math.max(...values));
 * ```
 */
export function vectorPullback(
  tc: Transcoder,
  v: ArrayLike<number>,
  { k = 7, meanFree = false }: { k?: number; meanFree?: boolean } = {},
): Pullback {
  const values = decoderProducts(tc, v, { meanFree });
  return { values, ...rankFeatures(values, k) };
}

function checkOrder(upstream: Transcoder, downstream: Transcoder): void {
  if (!(upstream.layer < downstream.layer)) {
    throw new RangeError(
      `the upstream transcoder (layer ${upstream.layer}) must come before the downstream one (layer ${downstream.layer})`,
    );
  }
  if (upstream.cfg.d_out !== downstream.cfg.d_in) {
    throw new RangeError(
      `upstream d_out ${upstream.cfg.d_out} does not match downstream d_in ${downstream.cfg.d_in}`,
    );
  }
}

/**
 * Input-independent pullback of a later transcoder feature onto an earlier transcoder:
 * `W_dec @ W_enc'[:, i]`.
 *
 * @example
 * ```ts
 * import { featurePullback, vectorPullback } from "./pullbacks.ts";
 * import { decoderProducts, encoderColumn } from "../circuits/weight_products.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { transcoders } = await loadPretrained("tiny");
 * const [up, down] = [transcoders[0]!, transcoders[1]!];
 * // Layer-0 features that write along layer-1 feature 332 (which fires on " people"):
 * const p = featurePullback(up, down, 332, { k: 3 });
 * p.top.map((r) => r.feature); // [839, 1748, 53]; 53 reads " citizens", " people"
 * assert.deepEqual(p.values, vectorPullback(up, encoderColumn(down, 332)).values);
 * ```
 */
export function featurePullback(
  upstream: Transcoder,
  downstream: Transcoder,
  feature: number,
  options: { k?: number; meanFree?: boolean } = {},
): Pullback {
  checkOrder(upstream, downstream);
  return vectorPullback(upstream, encoderColumn(downstream, feature), options);
}

/**
 * Input-dependent pullback at a token of a prompt: `(W_dec v) * z` `[d_sae]` of the layer's
 * transcoder (the context's `meanFreeDecoders` setting applies).
 *
 * @example
 * ```ts
 * import { featurePullback, inputDependentPullback } from "./pullbacks.ts";
 * import { CircuitContext } from "../circuits/context.ts";
 * import { transcoderFeatureVector } from "../circuits/paths.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const prompt = "The Congress and the people of the State";
 * const ctx = await CircuitContext.create(model, transcoders, prompt, { meanFreeDecoders: false });
 * const fv = transcoderFeatureVector(transcoders[1]!, 332); // fires on " people"
 * const ixg = inputDependentPullback(ctx, 0, 5, fv.vector, { k: 3 }); // token 5: " people"
 * ixg.top.map((r) => r.feature); // [53, 329, 809]: layer-0 feature 53 (" citizens", " people")
 * // (W_dec v) * z: the input-independent pullback times each feature's activation there.
 * const pull = featurePullback(transcoders[0]!, transcoders[1]!, 332).values;
 * assert.ok(Math.abs(ixg.values[53] - pull[53] * ctx.featureActs(0, 5)[53]) < 1e-12);
 * ```
 */
export function inputDependentPullback(
  ctx: CircuitContext,
  layer: number,
  token: number,
  v: ArrayLike<number>,
  { k = 7 }: { k?: number } = {},
): Pullback {
  const tc = ctx.transcoder(layer);
  if (v.length !== tc.cfg.d_out) {
    throw new RangeError(`vector has ${v.length} entries, expected d_out ${tc.cfg.d_out}`);
  }
  const values = transcoderIxG(ctx, layer, token, v);
  return { values, ...rankFeatures(values, k) };
}

/** Options of `meanIxG`. */
export interface MeanIxGOptions {
  /** Rows per forward pass (default 8). */
  batchSize?: number;
  /** Tokens count when the later feature's activation exceeds this (default 0: it fires). */
  threshold?: number;
  /** Average over these tokens (row indices into `rows`) instead of where the feature fires. */
  tokens?: readonly { row: number; pos: number }[];
  /** Make decoder rows mean-free first (default false, as the reference). */
  meanFree?: boolean;
  /** Top and bottom k to rank (default 7). */
  k?: number;
  quiet?: boolean;
}

/** The result of `meanIxG`. */
export interface MeanIxG extends Pullback {
  feature: number;
  upstreamLayer: number;
  downstreamLayer: number;
  /** Tokens averaged over, and all tokens seen. */
  selectedTokens: number;
  totalTokens: number;
  /** The input-independent pullback `W_dec @ W_enc'[:, i]` `[d_sae]`. */
  pullback: Float64Array;
  /** `[d_sae]` the sum of `(W_dec v)_j z_j` over the selected tokens divided by the number of
   * them where feature j fires (`values` divides by all selected tokens). */
  meanOverFiring: Float64Array;
  /** Fraction of the selected tokens where each upstream feature fires `[d_sae]`. */
  firingFraction: Float64Array;
}

/**
 * Mean input-times-gradient of every feature of `upstream` onto feature `i` of `downstream`
 * over token rows `[n, n_ctx]` (see the module notes). `values` is the mean over the selected
 * tokens; empty selections give zeros.
 *
 * @example
 * ```ts
 * import { meanIxG } from "./pullbacks.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The Congress and the people of the State"]); // [1, 9]
 * // Layer-0 features with the largest mean IxG onto layer-1 feature 332 where it fires:
 * const m = await meanIxG(model, transcoders[0]!, transcoders[1]!, 332, rows, { k: 3 });
 * m.top.map((r) => r.feature); // [1060, 53, 1714]
 * [m.selectedTokens, m.totalTokens]; // [2, 9]: 332 fires on " Congress" and " people"
 * m.firingFraction[53]; // 0.5: feature 53 fires on one of them
 * assert.equal(m.selectedTokens, 2);
 * assert.equal(m.firingFraction[53], 0.5);
 * ```
 */
export async function meanIxG(
  model: HookedModel,
  upstream: Transcoder,
  downstream: Transcoder,
  feature: number,
  rows: Tensor<"int32">,
  options: MeanIxGOptions = {},
): Promise<MeanIxG> {
  const { batchSize = 8, threshold = 0, meanFree = false, k = 7, quiet = true } = options;
  checkTranscoder(model, upstream);
  checkTranscoder(model, downstream);
  checkOrder(upstream, downstream);
  checkFeatureIndex(feature, downstream.cfg.d_sae);
  checkRows(model, rows);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const [n, p] = rows.shape, S = upstream.cfg.d_sae;
  let mask: Float32Array | undefined;
  if (options.tokens) {
    mask = new Float32Array(n * p);
    for (const { row, pos } of options.tokens) {
      if (
        !(Number.isInteger(row) && row >= 0 && row < n && Number.isInteger(pos) && pos >= 0 &&
          pos < p)
      ) {
        throw new RangeError(`token (${row}, ${pos}) out of range for rows [${n}, ${p}]`);
      }
      mask[row * p + pos] = 1;
    }
  }
  const pullback = featurePullback(upstream, downstream, feature, { meanFree, k: 0 }).values;
  const sumZ = new Float64Array(S), fires = new Float64Array(S);
  let selected = 0;
  const feeds: Record<string, Tensor> = {
    ...encoderFeeds(upstream),
    ...encoderFeeds(downstream),
    "ixg:feature": { dtype: "int32", shape: [1], data: Int32Array.of(feature) },
    "ixg:threshold": { dtype: "float32", shape: [1], data: Float32Array.of(threshold) },
  };
  const label = `mean IxG L${upstream.layer}->L${downstream.layer}`;
  await streamRows(rows, { batchSize, label, quiet }, async ({ rows: batch, start, end }) => {
    const b = end - start;
    if (mask) {
      feeds["ixg:mask"] = {
        dtype: "float32",
        shape: [1, b * p],
        data: mask.subarray(start * p, end * p),
      };
    }
    const res = await runProbe(model, batch, {
      key: `ixg:${encoderKey(upstream)}:${encoderKey(downstream)}:${mask ? "mask" : "fire"}`,
      stopAtLayer: downstream.layer + 1,
      build(g, probe) {
        const zu = g.reshape(spliceEncoder(g, probe, upstream).z, [b * p, S]); // [t, S]
        let m: Value;
        if (mask) m = probe.input("ixg:mask", "float32", [1, b * p]);
        else {
          const zd = spliceEncoder(g, probe, downstream).z; // [b, p, S']
          const col = g.gather(zd, probe.input("ixg:feature", "int32", [1]), 2); // [b, p, 1]
          const fire = g.greater(col, probe.input("ixg:threshold", "float32", [1]));
          m = g.reshape(g.cast(fire, "float32"), [1, b * p]);
        }
        g.output("sumZ", g.matmul(m, zu)); // [1, S]
        g.output("fires", g.matmul(m, g.cast(g.greater(zu, g.scalar(0)), "float32"))); // [1, S]
        g.output("selected", g.reduceSum(m)); // []
      },
    }, feeds);
    const sz = res.sumZ.data as Float32Array, fz = res.fires.data as Float32Array;
    for (let j = 0; j < S; j++) {
      sumZ[j] += sz[j];
      fires[j] += fz[j];
    }
    selected += (res.selected.data as Float32Array)[0];
  });
  const values = new Float64Array(S), meanOverFiring = new Float64Array(S);
  const firingFraction = new Float64Array(S);
  for (let j = 0; j < S; j++) {
    values[j] = selected > 0 ? (pullback[j] * sumZ[j]) / selected : 0;
    meanOverFiring[j] = fires[j] > 0 ? (pullback[j] * sumZ[j]) / fires[j] : 0;
    firingFraction[j] = selected > 0 ? fires[j] / selected : 0;
  }
  return {
    feature,
    upstreamLayer: upstream.layer,
    downstreamLayer: downstream.layer,
    selectedTokens: selected,
    totalTokens: n * p,
    pullback,
    values,
    meanOverFiring,
    firingFraction,
    ...rankFeatures(values, k),
  };
}

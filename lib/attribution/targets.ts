/**
 * The targets of an attribution graph: the salient logits of the last position (circuit-tracer's
 * `AttributionTargets`), or custom ones (a logit difference, a feature, any direction read at a
 * layer), each with the vector its row is seeded with.
 *
 * @module
 */
import type { HookedModel } from "../model/hooked_model.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import type { LogitTarget } from "./graph_types.ts";

/** A custom target: a direction read in the residual stream. */
export interface CustomTarget {
  /** Shown in the graph (e.g. `" Mary" - " John"`). */
  label: string;
  /** The read vector `[d_model]`. */
  vector: Float32Array;
  /** Its weight in influence (circuit-tracer's logit probability; default 1). */
  weight?: number;
  /**
   * Where it is read: the final residual (after ln_final, default) or a transcoder's input at
   * this layer.
   */
  layer?: number;
  /** The position read (default: the last). */
  pos?: number;
}

/** A target with everything its row needs. */
export interface ResolvedTarget extends LogitTarget {
  /** The read vector `[d_model]`. */
  vector: Float32Array;
  /** The layer read (`n_layers`: the final residual). */
  layer: number;
  pos: number;
}

/** Options of `salientLogitTargets`. */
export interface SalientLogitOptions {
  /** At most this many logits (default 10). */
  maxNLogits?: number;
  /** The smallest prefix of the top logits whose cumulative probability reaches this (0.95). */
  desiredLogitProb?: number;
}

/**
 * The demeaned unembedding column of a token: `W_U[:, v] - mean_j W_U[:, j]` (`[d_model]`),
 * which reads the logit minus the mean logit (b_U drops out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "../model/load.ts";
 * import { demeanedUnembedding } from "./targets.ts";
 * const model = await loadModel("tiny");
 * const u = demeanedUnembedding(model, model.toSingleToken(" the"));
 * u.length; // 96 (d_model)
 * assert.equal(u.length, model.cfg.d_model);
 * ```
 */
export function demeanedUnembedding(model: HookedModel, tokenId: number): Float32Array {
  const { d_model: d, d_vocab: V } = model.cfg;
  if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= V) {
    throw new RangeError(`token id ${tokenId} is out of range [0, ${V})`);
  }
  const W = model.W_U.data as Float32Array; // [d, V]
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    let mean = 0;
    const row = W.subarray(i * V, (i + 1) * V);
    for (let j = 0; j < V; j++) mean += row[j];
    out[i] = row[tokenId] - mean / V;
  }
  return out;
}

/**
 * The salient logits of the last position: the most probable tokens, the smallest prefix of them
 * whose cumulative probability reaches `desiredLogitProb`, at most `maxNLogits`.
 *
 * @param lastLogits the logits of the last position `[d_vocab]`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "../model/load.ts";
 * import { salientLogitTargets } from "./targets.ts";
 * const model = await loadModel("tiny");
 * const tokens = model.toTokens("The cat sat on the");
 * const logits = await model.run(tokens); // [1, T, d_vocab]
 * const V = model.cfg.d_vocab, T = tokens.shape[1];
 * const last = (logits.data as Float32Array).subarray((T - 1) * V, T * V);
 * const targets = salientLogitTargets(model, last, { maxNLogits: 3 });
 * targets.length; // at most 3, most probable first
 * assert.ok(targets.length >= 1 && targets.length <= 3);
 * assert.ok(targets[0].probability >= targets.at(-1)!.probability);
 * ```
 */
export function salientLogitTargets(
  model: HookedModel,
  lastLogits: Float32Array,
  { maxNLogits = 10, desiredLogitProb = 0.95 }: SalientLogitOptions = {},
): ResolvedTarget[] {
  if (!Number.isInteger(maxNLogits) || maxNLogits < 1) {
    throw new RangeError(`maxNLogits must be a positive integer, got ${maxNLogits}`);
  }
  if (!(desiredLogitProb > 0 && desiredLogitProb <= 1)) {
    throw new RangeError(`desiredLogitProb must be in (0, 1], got ${desiredLogitProb}`);
  }
  let max = -Infinity;
  for (const x of lastLogits) if (x > max) max = x;
  let z = 0;
  for (const x of lastLogits) z += Math.exp(x - max);
  // The top maxNLogits by probability (ties: lower id first).
  const top: number[] = [];
  for (let v = 0; v < lastLogits.length; v++) {
    if (top.length < maxNLogits || lastLogits[v] > lastLogits[top[top.length - 1]]) {
      let i = top.length < maxNLogits ? top.length : top.length - 1;
      top[i] = v;
      while (i > 0 && lastLogits[top[i - 1]] < lastLogits[top[i]]) {
        [top[i - 1], top[i]] = [top[i], top[i - 1]];
        i--;
      }
    }
  }
  const probs = top.map((v) => Math.exp(lastLogits[v] - max) / z);
  let cum = 0, cutoff = probs.length;
  for (let i = 0; i < probs.length; i++) {
    cum += probs[i];
    if (cum >= desiredLogitProb) {
      cutoff = i + 1;
      break;
    }
  }
  const L = model.cfg.n_layers, T = -1;
  return top.slice(0, cutoff).map((v, i) => ({
    tokenId: v,
    label: model.toString([v]),
    probability: probs[i],
    vector: demeanedUnembedding(model, v),
    layer: L,
    pos: T,
  }));
}

/**
 * A custom target that reads the difference of two tokens' demeaned logits (e.g. `" Mary"`
 * against `" John"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "../model/load.ts";
 * import { logitDifferenceTarget } from "./targets.ts";
 * const model = await loadModel("tiny");
 * const t = logitDifferenceTarget(model, " cat", " dog");
 * t.label; // '" cat" - " dog"'
 * assert.equal(t.vector.length, model.cfg.d_model);
 * ```
 */
export function logitDifferenceTarget(
  model: HookedModel,
  a: string | number,
  b: string | number,
): CustomTarget {
  const id = (t: string | number) => typeof t === "number" ? t : model.toSingleToken(t);
  const [ia, ib] = [id(a), id(b)];
  const ua = demeanedUnembedding(model, ia), ub = demeanedUnembedding(model, ib);
  const text = (t: number) => JSON.stringify(model.toString([t]));
  return { label: `${text(ia)} - ${text(ib)}`, vector: ua.map((x, i) => x - ub[i]) };
}

/**
 * A custom target that reads a transcoder feature's pre-activation at a position (its encoder
 * column at the transcoder's layer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { featureTarget } from "./targets.ts";
 * const { transcoders } = await loadPretrained("tiny");
 * const t = featureTarget(transcoders[2]!, 100, 5);
 * t.label; // "L2/100@5"
 * assert.equal(t.layer, 2);
 * ```
 */
export function featureTarget(tc: Transcoder, feature: number, pos: number): CustomTarget {
  checkFeatureIndex(feature, tc.cfg.d_sae);
  const { d_in, d_sae } = tc.cfg;
  const W = tc.W_enc.data as Float32Array; // [d_in, d_sae]
  const vector = new Float32Array(d_in);
  for (let i = 0; i < d_in; i++) vector[i] = W[i * d_sae + feature];
  return { label: `L${tc.layer}/${feature}@${pos}`, vector, layer: tc.layer, pos };
}

/**
 * Custom targets resolved against a prompt: virtual token ids `d_vocab + i`, positions made
 * non-negative, layers checked.
 */
export function resolveCustomTargets(
  model: HookedModel,
  targets: readonly CustomTarget[],
  nPos: number,
): ResolvedTarget[] {
  const { d_model, d_vocab, n_layers } = model.cfg;
  return targets.map((t, i) => {
    if (t.vector.length !== d_model) {
      throw new RangeError(
        `target "${t.label}": its vector has ${t.vector.length} entries, expected d_model = ${d_model}`,
      );
    }
    const layer = t.layer ?? n_layers;
    if (!Number.isInteger(layer) || layer < 0 || layer > n_layers) {
      throw new RangeError(
        `target "${t.label}": layer ${layer} is out of range [0, ${n_layers}] (${n_layers}: the final residual)`,
      );
    }
    const pos = t.pos === undefined ? nPos - 1 : t.pos < 0 ? nPos + t.pos : t.pos;
    if (!Number.isInteger(pos) || pos < 1 || pos >= nPos) {
      throw new RangeError(
        `target "${t.label}": position ${t.pos} is out of range [1, ${nPos}) (position 0 is BOS)`,
      );
    }
    return {
      tokenId: d_vocab + i,
      label: t.label,
      probability: t.weight ?? 1,
      vector: t.vector,
      layer,
      pos,
    };
  });
}

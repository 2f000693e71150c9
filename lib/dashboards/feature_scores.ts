/**
 * Per-feature scores over a corpus: the reference's `get_feature_scores`. For one feature (or a
 * few) the model runs up to the transcoder's layer, the transcoder's encoder is applied in the
 * graph to the clean MLP input, and only the chosen columns `[n, n_ctx]` leave the graph. One
 * pass over the corpus per feature, as in the reference: the baseline that `computeFeatureStats`
 * (all features in one pass) is measured against.
 *
 * Score kinds (the reference's `use_raw_scores` / `use_decoder` / `feature_post`):
 *
 * - `"activation"` (default): `z_i = ReLU((x - b_dec) W_enc[:, i] + b_enc[i])`, from the full
 *   encoder (all `d_sae` features computed, column i kept), as the reference does.
 * - `"pre"`: the raw pre-activation `(x - b_dec) . W_enc[:, i] + b_enc[i]` (a matrix-vector
 *   product only).
 * - `"decoder"`: `(x - b_dec) . W_dec[i]` (the input projected on the decoder row, no bias).
 * - a `vector` `[d_in]`: `(x - b_dec) . vector` (the reference's `feature_post`).
 *
 * @module
 */
import { streamRows } from "../train/_row_stream.ts";
import { checkFeatureIndex } from "../transcoder/transcoder.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { tokenStrings } from "../tokenizer/gpt2_tokenizer.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import {
  checkRows,
  checkTranscoder,
  encoderFeeds,
  encoderKey,
  encoderStop,
  runProbe,
  spliceEncoder,
  transcoderInputName,
} from "./_probe_graph.ts";

/** Options of `featureScores` and `featureColumns`. */
export interface FeatureScoresOptions {
  /** Rows per forward pass (default 8). */
  batchSize?: number;
  /** No progress line on stderr (default false). */
  quiet?: boolean;
}

/** What to score (see the module notes). */
export type ScoreKind = "activation" | "pre" | "decoder";

function checkBatch(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

/**
 * Activations `[n, p, F]` of the listed features on every token of the rows `[n, p]`: the full
 * encoder runs in the graph and only these F columns are copied out.
 *
 * @example
 * ```ts
 * import { featureColumns } from "./feature_scores.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The Congress and the people of the State"]); // [1, 9]
 * const cols = await featureColumns(model, transcoders[0]!, rows, [37, 53]); // [1, 9, 2]
 * const strs = model.toStrTokens(rows.data);
 * const firesOn = (j: number) => strs.filter((_, q) => cols.data[q * 2 + j] > 0);
 * assert.deepEqual(firesOn(0), [" Congress", " State"]); // feature 37
 * assert.deepEqual(firesOn(1), [" people"]); // feature 53
 * ```
 */
export async function featureColumns(
  model: HookedModel,
  tc: Transcoder,
  rows: Tensor<"int32">,
  features: readonly number[],
  { batchSize = 8, quiet = true }: FeatureScoresOptions = {},
): Promise<Tensor<"float32">> {
  checkTranscoder(model, tc);
  checkRows(model, rows);
  checkBatch(batchSize);
  if (features.length === 0) throw new RangeError("featureColumns needs at least one feature");
  for (const f of features) checkFeatureIndex(f, tc.cfg.d_sae);
  const [n, p] = rows.shape, F = features.length;
  const out = new Float32Array(n * p * F);
  const feeds = {
    ...encoderFeeds(tc),
    "columns:features": { dtype: "int32", shape: [F], data: Int32Array.from(features) },
  } as Record<string, Tensor>;
  const label = `feature columns L${tc.layer}`;
  await streamRows(rows, { batchSize, label, quiet }, async ({ rows: batch, start }) => {
    const res = await runProbe(model, batch, {
      key: `columns:${encoderKey(tc)}:${F}`,
      ...encoderStop(tc),
      build(g, probe) {
        const { z } = spliceEncoder(g, probe, tc); // [b, p, d_sae]
        const idx = probe.input("columns:features", "int32", [F]);
        g.output("columns", g.gather(z, idx, 2)); // [b, p, F]
      },
    }, feeds);
    out.set(res.columns.data as Float32Array, start * p * F);
  });
  return { dtype: "float32", shape: [n, p, F], data: out };
}

/**
 * The reference's `get_feature_scores`: one feature's score on every token of every row,
 * `[n, p]` float32 (the reference returns float16), one pass over the rows.
 *
 * @example
 * ```ts
 * import { featureScores } from "./feature_scores.ts";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import assert from "node:assert/strict";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const rows = model.toTokens(["The Congress and the people of the State"]); // [1, 9]
 * const scores = await featureScores(model, transcoders[0]!, rows, 37); // post-ReLU [1, 9]
 * const raw = await featureScores(model, transcoders[0]!, rows, 37, { kind: "pre" }); // pre-ReLU
 * Array.from(scores.data, (x) => +x.toFixed(2)); // [0, 0, 0.48, 0, 0, 0, 0, 0, 0.47]
 * Array.from(raw.data, (x) => +x.toFixed(2)); // [-0.14, -0.42, 0.48, -0.29, ..., 0.47]
 * raw.data.forEach((x, q) => assert.ok(Math.abs(Math.max(x, 0) - scores.data[q]) < 1e-5));
 * ```
 */
export async function featureScores(
  model: HookedModel,
  tc: Transcoder,
  rows: Tensor<"int32">,
  feature: number,
  options: FeatureScoresOptions & { kind?: ScoreKind; vector?: ArrayLike<number> } = {},
): Promise<Tensor<"float32">> {
  const { kind = "activation", vector, batchSize = 8, quiet = true } = options;
  checkTranscoder(model, tc);
  checkFeatureIndex(feature, tc.cfg.d_sae);
  checkRows(model, rows);
  checkBatch(batchSize);
  if (!["activation", "pre", "decoder"].includes(kind)) {
    throw new RangeError(`score kind "${kind}" is not one of activation, pre, decoder`);
  }
  const [n, p] = rows.shape;
  if (kind === "activation" && vector === undefined) {
    const cols = await featureColumns(model, tc, rows, [feature], { batchSize, quiet });
    return { dtype: "float32", shape: [n, p], data: cols.data };
  }
  // Raw scores: (x - b_dec) . v + bias, a matrix-vector product in the graph.
  const d = tc.cfg.d_in, S = tc.cfg.d_sae;
  const v = new Float32Array(d);
  let bias = 0;
  if (vector !== undefined) {
    if (vector.length !== d) {
      throw new RangeError(`score vector has ${vector.length} entries, expected d_in ${d}`);
    }
    for (let k = 0; k < d; k++) v[k] = vector[k];
  } else if (kind === "pre") {
    for (let k = 0; k < d; k++) v[k] = tc.W_enc.data[k * S + feature];
    bias = tc.b_enc.data[feature];
  } else {
    v.set(tc.W_dec.data.subarray(feature * tc.cfg.d_out, (feature + 1) * tc.cfg.d_out));
  }
  const feeds: Record<string, Tensor> = {
    [transcoderInputName(tc.layer, "b_dec")]: tc.b_dec,
    "raw:v": { dtype: "float32", shape: [d, 1], data: v },
    "raw:bias": { dtype: "float32", shape: [1], data: Float32Array.of(bias) },
  };
  const out = new Float32Array(n * p);
  const label = `feature scores L${tc.layer}`;
  await streamRows(rows, { batchSize, label, quiet }, async ({ rows: batch, start, end }) => {
    const res = await runProbe(model, batch, {
      key: `raw:${encoderKey(tc)}`,
      ...encoderStop(tc),
      build(g, probe) {
        const x = probe.hook(tc.cfg.hook_name);
        const bDec = probe.input(transcoderInputName(tc.layer, "b_dec"), "float32", [d]);
        const s = g.add(
          g.matmul(g.sub(x, bDec), probe.input("raw:v", "float32", [d, 1])),
          probe.input("raw:bias", "float32", [1]),
        ); // [b, p, 1]
        g.output("scores", g.reshape(s, [end - start, p]));
      },
    }, feeds);
    out.set(res.scores.data as Float32Array, start * p);
  });
  return { dtype: "float32", shape: [n, p], data: out };
}

/** Tokens around an example, for display. */
export interface ExampleContext {
  /** Token ids of `[start, end)` of the row. */
  tokens: Int32Array;
  /** Their text (GPT-2 tokenizer). */
  strings: string[];
  /** First position shown (inclusive) and last (exclusive). */
  start: number;
  end: number;
  /** Index of the example's token within `tokens`. */
  focus: number;
}

/**
 * The tokens of row `row` from `pos - window` to `pos + window` (clipped to the row), with
 * their strings: the reference's `make_sequence_html(..., window_size)` crop.
 *
 * @example
 * ```ts
 * import { exampleContext } from "./feature_scores.ts";
 * const rows = { dtype: "int32" as const, shape: [1, 4], data: Int32Array.from([50256, 15496, 11, 995]) };
 * exampleContext(rows, { row: 0, pos: 1, window: 1 }).strings; // ["<|endoftext|>", "Hello", ","]
 * ```
 */
export function exampleContext(
  rows: Tensor<"int32">,
  { row, pos, window }: { row: number; pos: number; window: number },
): ExampleContext {
  const [n, p] = rows.shape;
  if (!Number.isInteger(row) || row < 0 || row >= n) {
    throw new RangeError(`row ${row} out of range for ${n} rows`);
  }
  if (!Number.isInteger(pos) || pos < 0 || pos >= p) {
    throw new RangeError(`position ${pos} out of range for rows of ${p} tokens`);
  }
  if (!(window >= 0)) throw new RangeError(`window must be >= 0, got ${window}`);
  const start = Math.max(0, pos - window), end = Math.min(p, pos + window + 1);
  const tokens = rows.data.slice(row * p + start, row * p + end);
  return { tokens, strings: tokenStrings(tokens), start, end, focus: pos - start };
}

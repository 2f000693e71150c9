/**
 * Attribution graphs of a prompt, as circuit-tracer builds them: every active transcoder feature
 * (BOS excluded), one error node per (layer, position), one token node per position and the
 * salient logits, with the exact direct effect between every pair.
 *
 * The features are computed from the real model (its MLPs keep running), so an error node is
 * the MLP's true output minus the transcoder's reconstruction and the graph is exact for the
 * real model. Rows come from batched reverse passes (lib/attribution/_reverse_pass.ts): the
 * logits' rows first, then the features' in order of their estimated influence on the logits
 * (`maxFeatureNodes` at most; features never given a row are dropped, and the result says how
 * many).
 *
 * @module
 */
import type { HookedModel } from "../model/hooked_model.ts";
import type { TokensLike } from "../model/tokens.ts";
import type { Transcoder } from "../transcoder/transcoder.ts";
import { tokenStrings } from "../tokenizer/gpt2_tokenizer.ts";
import { Progress } from "../train/_progress.ts";
import type { AttributionGraph } from "./graph_types.ts";
import { partialInfluences } from "./influence.ts";
import {
  AttributionContext,
  type AttributionContextOptions,
  type RowTask,
} from "./_attribution_context.ts";
import {
  type CustomTarget,
  resolveCustomTargets,
  type ResolvedTarget,
  type SalientLogitOptions,
  salientLogitTargets,
} from "./targets.ts";

/** Options of `attributionGraph`. */
export interface AttributionGraphOptions extends SalientLogitOptions, AttributionContextOptions {
  /** Custom targets instead of the salient logits (a logit difference, a feature, ...). */
  targets?: readonly CustomTarget[];
  /** At most this many feature nodes (default 8192, as circuit-tracer's demos). */
  maxFeatureNodes?: number;
  /**
   * Batches of feature rows computed between two influence estimates (default: 1024 rows, as
   * circuit-tracer's 4 batches of 256).
   */
  updateInterval?: number;
  /** The model's name or folder, for the JSON export (default "custom"). */
  scan?: string;
  /** Print a progress line on stderr (default false). */
  progress?: boolean;
}

/** Seconds spent in each phase of `attributionGraph`, and the work done. */
export interface AttributionTimings {
  /** The clean pass, transcoder activations and source vectors. */
  setup: number;
  /** The logit rows. */
  logitRows: number;
  /** The feature rows (reverse passes and influence estimates). */
  featureRows: number;
  /** Of which: estimating influences to choose the next features. */
  influence: number;
  /** Building the square adjacency matrix. */
  packaging: number;
  /** Reverse passes run. */
  passes: number;
  /** Of the row seconds: running the reverse passes in onnxruntime. */
  passSeconds: number;
  /** Floating-point operations of the reverse passes. */
  flops: number;
}

/** An attribution graph with how it was computed. */
export interface AttributionResult extends AttributionGraph {
  timings: AttributionTimings;
}

/**
 * The attribution graph of a prompt.
 *
 * @param transcoders one per layer (as `loadPretrained` gives them)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPretrained } from "../weights/pretrained.ts";
 * import { attributionGraph } from "./attribution_graph.ts";
 * import { nodeCounts } from "./graph_types.ts";
 * const { model, transcoders } = await loadPretrained("tiny");
 * const graph = await attributionGraph(model, transcoders, "The cat sat on the", { maxFeatureNodes: 64 });
 * const n = nodeCounts(graph);
 * n.features; // 64 (of graph.activeFeatures.length / 3 active)
 * assert.equal(n.features, 64);
 * assert.equal(graph.adjacency.length, n.total * n.total);
 * assert.ok(graph.logitTargets[0].probability > 0);
 * ```
 */
export async function attributionGraph(
  model: HookedModel,
  transcoders: readonly (Transcoder | undefined)[],
  prompt: string | TokensLike,
  options: AttributionGraphOptions = {},
): Promise<AttributionResult> {
  const { maxFeatureNodes = 8192, batchSize = 64 } = options;
  const { updateInterval = Math.ceil(1024 / batchSize) } = options;
  for (const [name, v] of Object.entries({ maxFeatureNodes, updateInterval })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }
  const t0 = performance.now();
  const ctx = await AttributionContext.create(model, transcoders, prompt, options);
  const { n_layers: L } = model.cfg;
  const T = ctx.nPos, F = ctx.nFeatures;
  const targets: ResolvedTarget[] = options.targets
    ? resolveCustomTargets(model, options.targets, T)
    : salientLogitTargets(model, ctx.lastLogits, options).map((t) => ({ ...t, pos: T - 1 }));
  const K = targets.length;
  const C = ctx.nSourceColumns + K;
  const S = Math.min(F, maxFeatureNodes);
  const rows = new Float32Array((S + K) * C);
  /** The column of each row's own node. */
  const rowCol = new Int32Array(S + K);
  /** The layer each row reads (its sources lie below it), and the sum of its |entries|. */
  const rowLayer = new Int32Array(S + K);
  const rowAbsSum = new Float64Array(S + K);
  // A row of layer l has sources in the layers below only: features of layers < l (a prefix of
  // the feature columns, which are sorted by layer), errors of layers < l, and every token.
  const firstFeatureOfLayer = new Int32Array(L + 2).fill(F);
  for (let k = F - 1; k >= 0; k--) firstFeatureOfLayer[ctx.activeFeatures[3 * k]] = k;
  for (let l = L; l >= 0; l--) {
    firstFeatureOfLayer[l] = Math.min(firstFeatureOfLayer[l], firstFeatureOfLayer[l + 1]);
  }
  const spans = Array.from({ length: L + 1 }, (_, l) =>
    Int32Array.of(
      0,
      firstFeatureOfLayer[l],
      ctx.errorColumn(0, 0),
      ctx.errorColumn(0, 0) + l * T,
      ctx.tokenColumn(0),
      ctx.tokenColumn(0) + T,
    ));
  const sumRows = (from: number, to: number) => {
    for (let r = from; r < to; r++) {
      let acc = 0;
      const sp = spans[rowLayer[r]];
      for (let i = 0; i < sp.length; i += 2) {
        for (let c = r * C + sp[i], end = r * C + sp[i + 1]; c < end; c++) acc += Math.abs(rows[c]);
      }
      rowAbsSum[r] = acc;
    }
  };
  const tSetup = performance.now();

  // Logit rows first.
  targets.forEach((t, k) => {
    rowCol[k] = ctx.nSourceColumns + k;
    rowLayer[k] = t.layer;
  });
  await ctx.computeRows(
    targets.map((t, k) => ({
      layer: t.layer,
      readHook: ctx.readHookOf(t.layer),
      pos: t.pos,
      vector: t.vector,
      row: k,
    })),
    rows,
    C,
  );
  const tLogits = performance.now();

  // Feature rows: all of them in order, or by estimated influence when over the budget.
  const progress = options.progress ? new Progress("attribution", S, { unit: "rows" }) : undefined;
  const featureTasks = (ks: readonly number[], firstRow: number): RowTask[] =>
    ks.map((k, i) => {
      rowCol[firstRow + i] = k;
      rowLayer[firstRow + i] = ctx.activeFeatures[3 * k];
      return ctx.featureTask(k, firstRow + i);
    });
  let influenceSeconds = 0;
  const visited = new Uint8Array(F);
  if (S === F) {
    const all = Array.from({ length: F }, (_, k) => k);
    await ctx.computeRows(featureTasks(all, K), rows, C, (n) => progress?.update(n));
  } else {
    const logitProbs = Float32Array.from(targets, (t) => t.probability);
    sumRows(0, K);
    let done = 0;
    while (done < S) {
      const ti = performance.now();
      const influence = partialInfluences(
        rows.subarray(0, (K + done) * C),
        C,
        rowCol.subarray(0, K + done),
        logitProbs,
        {
          rowLayers: rowLayer.subarray(0, K + done),
          rowAbsSums: rowAbsSum,
          layerColumnSpans: spans,
        },
      );
      const order = Array.from({ length: F }, (_, k) => k).filter((k) => !visited[k]);
      order.sort((a, b) => influence[b] - influence[a] || a - b);
      const chosen = order.slice(0, Math.min(updateInterval * batchSize, S - done));
      // Rows run in batches per layer: fill each layer's share up to whole batches with its
      // next-ranked features (while the budget lasts), so that no batch runs half empty.
      const need = new Map<number, number>();
      for (const k of chosen) {
        need.set(ctx.activeFeatures[3 * k], (need.get(ctx.activeFeatures[3 * k]) ?? 0) + 1);
      }
      for (const [l, n] of need) need.set(l, (batchSize - (n % batchSize)) % batchSize);
      for (let i = chosen.length; i < order.length && done + chosen.length < S; i++) {
        const l = ctx.activeFeatures[3 * order[i]];
        if (need.get(l)! > 0) {
          chosen.push(order[i]);
          need.set(l, need.get(l)! - 1);
        }
      }
      influenceSeconds += (performance.now() - ti) / 1000;
      chosen.forEach((k) => (visited[k] = 1));
      const before = done;
      await ctx.computeRows(
        featureTasks(chosen, K + done),
        rows,
        C,
        (n) => progress?.update(before + n),
      );
      sumRows(K + done, K + done + chosen.length);
      done += chosen.length;
    }
  }
  progress?.done();
  const tFeatures = performance.now();

  // ---- the square matrix in node order ---------------------------------------------------------
  const selected = S === F
    ? Int32Array.from({ length: F }, (_, k) => k)
    : Int32Array.from(visited.keys()).filter((k) => visited[k] === 1);
  const N = S + L * T + T + K;
  const nodeOfCol = new Int32Array(C).fill(-1);
  selected.forEach((k, i) => (nodeOfCol[k] = i));
  for (let c = F; c < C; c++) nodeOfCol[c] = S + (c - F);
  const adjacency = new Float32Array(N * N);
  for (let r = 0; r < S + K; r++) {
    const node = nodeOfCol[rowCol[r]];
    const src = rows.subarray(r * C, (r + 1) * C);
    const dst = adjacency.subarray(node * N, (node + 1) * N);
    // Only features of the layers below the row's can be nonzero (selected is ascending).
    const limit = firstFeatureOfLayer[rowLayer[r]];
    for (let i = 0; i < S && selected[i] < limit; i++) dst[i] = src[selected[i]];
    dst.set(src.subarray(F), S); // errors, tokens and logits keep their order
  }
  const tEnd = performance.now();

  return {
    scan: options.scan ?? "custom",
    nLayers: L,
    tokens: ctx.tokens,
    tokenStrings: tokenStrings(ctx.tokens),
    activeFeatures: ctx.activeFeatures,
    activations: ctx.activations,
    selectedFeatures: selected,
    logitTargets: targets.map(({ tokenId, label, probability }) => ({
      tokenId,
      label,
      probability,
    })),
    adjacency,
    droppedFeatures: F - S,
    timings: {
      setup: (tSetup - t0) / 1000,
      logitRows: (tLogits - tSetup) / 1000,
      featureRows: (tFeatures - tLogits) / 1000,
      influence: influenceSeconds,
      packaging: (tEnd - tFeatures) / 1000,
      passes: ctx.passes,
      passSeconds: ctx.runSeconds,
      flops: ctx.flops,
    },
  };
}

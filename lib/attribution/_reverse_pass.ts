/**
 * The batched reverse pass that computes rows of an attribution graph.
 *
 * For targets that read the residual stream at one layer (a transcoder's input hook at layer
 * l, or the final LayerNorm's output for logits, layer L), the graph runs GPT-2 up to that
 * read point with attention patterns, LayerNorm scales, the token embedding and every MLP
 * output replaced by fed tensors (frozen), and differentiates the read value, seeded with
 * each target's read vector at its position, with respect to the embedding and to the MLP
 * outputs of the layers below: a gradient that crosses only frozen attention (linear in V),
 * LayerNorm centring and the residual stream, never an MLP. None of the forward values are
 * needed by that gradient, so the serialised graph holds the reverse pass alone.
 *
 * The gradient of each source slot (the embedding, then the MLP output of layers 0..l-1) is
 * multiplied in the graph by the source vectors of that slot, grouped by position
 * (`[T', d, n]`: token embeddings; error vectors and activation-scaled decoder rows), as one
 * batched matmul, so only the edge values leave onnxruntime: `[T', B, n]` per slot.
 *
 * Prompts are causal: a target at position p depends on positions 0..p only, so a batch
 * whose targets lie before position T' runs on the prompt's first T' positions.
 *
 * @module
 */
import { Graph } from "../graph/builder.ts";
import { gradients } from "../graph/autodiff.ts";
import { HookPoints, type PatchSpec } from "../graph/hooks.ts";
import type { CompiledGraph } from "../graph/session.ts";
import type { Value } from "../graph/ir.ts";
import { gpt2Forward, WeightInputs } from "../model/_gpt2_graph.ts";
import type { HookedModel } from "../model/hooked_model.ts";
import { expectedShapes } from "../model/weights.ts";

/** The structure of one reverse-pass graph. */
export interface ReverseShape {
  /** The layer whose input the targets read; `n_layers` for the final residual (logits). */
  layer: number;
  /** The hook the targets read (`blocks.{l}.ln2.hook_normalized`, or `ln_final.hook_normalized`). */
  readHook: string;
  /** Positions T' of the prompt prefix. */
  positions: number;
  /** Targets per run B. */
  batch: number;
  /**
   * Per source slot (embedding, then layers 0..layer-1): its chunks of source vectors in the
   * prefix, and the vectors per chunk (each chunk belongs to one position).
   */
  sourceChunks: readonly (readonly [chunks: number, width: number])[];
}

/** The frozen hooks a reverse pass replaces, with their shapes for a prefix of T positions. */
export function frozenHookShapes(
  model: HookedModel,
  layer: number,
  positions: number,
): Map<string, number[]> {
  const { d_model: d, n_heads: h, n_layers: L } = model.cfg;
  const shapes = new Map<string, number[]>([["hook_embed", [1, positions, d]]]);
  for (let l = 0; l <= Math.min(layer, L - 1); l++) {
    shapes.set(`blocks.${l}.attn.hook_pattern`, [1, h, positions, positions]);
    shapes.set(`blocks.${l}.ln1.hook_scale`, [1, positions, 1]);
    shapes.set(`blocks.${l}.ln2.hook_scale`, [1, positions, 1]);
    shapes.set(`blocks.${l}.hook_mlp_out`, [1, positions, d]);
  }
  if (layer === L) shapes.set("ln_final.hook_scale", [1, positions, 1]);
  return shapes;
}

/** The graph input names of a reverse pass. */
export const SEED_INPUT = "seed", TOKENS_INPUT = "tokens";
/**
 * The inputs holding slot s's source vectors `[chunks, d, w]` and each chunk's position
 * `[chunks]`, and its edge output `[chunks, B, w]`.
 */
export const sourcesInput = (s: number) => `sources:${s}`,
  chunkPositionsInput = (s: number) => `chunk_positions:${s}`,
  edgesOutput = (s: number) => `edges:${s}`;

/**
 * Builds the reverse-pass graph for one shape (see the module doc).
 *
 * Inputs: `tokens` int32 `[B, T']` (unused, any values), the model's weights, `patch:<hook>`
 * for every frozen hook (`frozenHookShapes`), `seed` `[B, T', d]` (each target's read vector
 * at its position, zero elsewhere), `sources:<s>` `[chunks, d, w]` and (except for the
 * embedding slot, one vector per position) `chunk_positions:<s>` int32 `[chunks]`. Outputs `edges:<s>` `[chunks, B, w]`: entry (c, b, j) is the direct effect
 * on target b of source vector j of chunk c (at its position) of slot s. Chunks of a few vectors
 * each (rather than one padded block per position) keep the padding small where positions have
 * very different numbers of active features.
 */
export function buildReversePass(model: HookedModel, shape: ReverseShape): Graph {
  const { cfg } = model;
  const { layer, positions: T, batch: B } = shape;
  const g = new Graph();
  const patches = new Map<string, PatchSpec>();
  for (const [name, s] of frozenHookShapes(model, layer, T)) {
    // Patterns and scales are broadcast over the batch; the embedding and MLP outputs are
    // expanded, since they are what the gradients are taken with respect to (per target).
    const keepShape = name.endsWith("hook_pattern") || name.endsWith("hook_scale");
    patches.set(name, { mode: "replace", shape: s, keepShape });
  }
  const hooks = new HookPoints(g, [], patches);
  const weights = new WeightInputs(g, expectedShapes(cfg, !model.processing.fold_ln));
  const tokens = g.input(TOKENS_INPUT, "int32", [B, T]);
  const fwd = gpt2Forward(g, cfg, {
    tokens,
    hooks,
    weights,
    stopAtLayer: layer < cfg.n_layers ? layer + 1 : undefined,
  });
  const read = hooks.values.get(shape.readHook) ??
    (shape.readHook === "ln_final.hook_normalized" ? fwd.final : undefined);
  if (!read) throw new RangeError(`the reverse pass has no hook "${shape.readHook}"`);
  const wrt: Value[] = [hooks.values.get("hook_embed")!];
  for (let l = 0; l < layer; l++) wrt.push(hooks.values.get(`blocks.${l}.hook_mlp_out`)!);
  if (shape.sourceChunks.length !== wrt.length) {
    throw new RangeError(
      `reverse pass at layer ${layer}: ${shape.sourceChunks.length} source slots, expected ${wrt.length}`,
    );
  }
  const seed = g.input(SEED_INPUT, "float32", [B, T, cfg.d_model]);
  const grads = gradients(g, read, wrt, seed); // each [B, T', d]
  grads.forEach((grad, s) => {
    const [chunks, w] = shape.sourceChunks[s];
    const sources = g.input(sourcesInput(s), "float32", [chunks, cfg.d_model, w]);
    if (s === 0 && chunks === T && w === 1) {
      // The embedding slot: one token vector per position, a dot product at each position.
      const tokens = g.reshape(sources, [1, T, cfg.d_model]);
      const dots = g.reduceSum(g.mul(grad, tokens), [2], true); // [B, T', 1]
      g.output(edgesOutput(s), g.transpose(dots, [1, 0, 2])); // [T', B, 1]
      return;
    }
    const at = g.input(chunkPositionsInput(s), "int32", [chunks]);
    const perChunk = g.gather(g.transpose(grad, [1, 0, 2]), at, 0); // [chunks, B, d]
    g.output(edgesOutput(s), g.matmul(perChunk, sources)); // [chunks, B, w]
  });
  return g;
}

const compiledPasses = new WeakMap<HookedModel, Map<string, Promise<CompiledGraph>>>();

/** The reverse pass for a shape, compiled once per model and shape and reused. */
export function compiledReversePass(
  model: HookedModel,
  shape: ReverseShape,
): Promise<CompiledGraph> {
  let byKey = compiledPasses.get(model);
  if (!byKey) compiledPasses.set(model, byKey = new Map());
  const key = JSON.stringify(shape);
  let entry = byKey.get(key);
  if (!entry) {
    entry = model.runtime.compile(buildReversePass(model, shape));
    entry.catch(() => byKey.delete(key));
    byKey.set(key, entry);
  }
  return entry;
}

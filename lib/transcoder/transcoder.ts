/**
 * A transcoder: a wide, sparsely activating replacement for one MLP sublayer, trained to map
 * the MLP's input (`blocks.{l}.ln2.hook_normalized`) to its output (`blocks.{l}.hook_mlp_out`):
 *
 * ```
 * z     = ReLU((x - b_dec) W_enc + b_enc)      // [n, d_sae] feature activations
 * y_hat = z W_dec + b_dec_out                  // [n, d_out]
 * ```
 *
 * Parameters in the reference's names and shapes: `W_enc [d_in, d_sae]`, `b_enc [d_sae]`,
 * `W_dec [d_sae, d_out]`, `b_dec [d_in]` (input side, subtracted from x), `b_dec_out [d_out]`.
 *
 * The same class holds a sparse autoencoder (SAE): a dictionary whose input and target hooks are
 * the same (`cfg.hook_name === cfg.out_hook_name`, `kind === "sae"`), with the output bias tied
 * to the input one as in the reference's `SparseAutoencoder` (`b_dec_out` is `b_dec`, the same
 * tensor). Spliced, an SAE on `blocks.{l}.hook_mlp_out` replaces the MLP's output by its
 * reconstruction, and one on `blocks.{l}.ln2.hook_normalized` feeds the MLP its reconstructed
 * input.
 *
 * @module
 */
import type { Graph } from "../graph/builder.ts";
import { Graph as GraphBuilder } from "../graph/builder.ts";
import type { HookPoints } from "../graph/hooks.ts";
import type { Value } from "../graph/ir.ts";
import { type CompiledGraph, Runtime } from "../graph/session.ts";
import { markWeights } from "../graph/_device_weights.ts";
import type { MlpReplacementProvider } from "../model/hooked_model.ts";
import { shapeStr, type Tensor } from "../tensor/tensor.ts";

/** The configuration of a transcoder (SAELens-style names; extra provenance fields allowed). */
export interface TranscoderConfig {
  d_in: number;
  d_sae: number;
  d_out: number;
  /** Input hook, e.g. `blocks.8.ln2.hook_normalized`. */
  hook_name: string;
  /** The layer whose MLP it replaces. */
  hook_layer: number;
  /** Output hook, e.g. `blocks.8.hook_mlp_out`. */
  out_hook_name: string;
  [key: string]: unknown;
}

/**
 * The config of a transcoder replacing the MLP of `layer` (the reference's hooks: input
 * `blocks.{l}.ln2.hook_normalized`, target `blocks.{l}.hook_mlp_out`); d_out defaults to d_in.
 *
 * @example
 * ```ts
 * import { mlpTranscoderConfig } from "./transcoder.ts";
 * mlpTranscoderConfig(8, { d_in: 768, d_sae: 24576 }).out_hook_name; // "blocks.8.hook_mlp_out"
 * ```
 */
export function mlpTranscoderConfig(
  layer: number,
  { d_in, d_sae, d_out = d_in }: { d_in: number; d_sae: number; d_out?: number },
): TranscoderConfig {
  return {
    d_in,
    d_sae,
    d_out,
    hook_name: `blocks.${layer}.ln2.hook_normalized`,
    hook_layer: layer,
    out_hook_name: `blocks.${layer}.hook_mlp_out`,
  };
}

/** Where an MLP sparse autoencoder reads and reconstructs: the MLP's output, or its input. */
export type SaeSite = "mlp_out" | "mlp_in";

/** The hook of an SAE site of a layer. */
export function saeHookName(layer: number, site: SaeSite): string {
  return site === "mlp_out"
    ? `blocks.${layer}.hook_mlp_out`
    : `blocks.${layer}.ln2.hook_normalized`;
}

/**
 * The config of a sparse autoencoder on the MLP of `layer`: on its output
 * (`blocks.{l}.hook_mlp_out`, the reference's sweep) or its input
 * (`blocks.{l}.ln2.hook_normalized`, the reference's interpretability comparison); input and
 * target hooks are the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlpSaeConfig, Transcoder } from "./transcoder.ts";
 * const cfg = mlpSaeConfig(2, { d_in: 4, d_sae: 8 }, "mlp_out");
 * cfg.hook_name; // "blocks.2.hook_mlp_out"
 * const sae = Transcoder.random(cfg, 0);
 * sae.kind; // "sae"
 * assert.equal(sae.b_dec_out, sae.b_dec); // the output bias is tied to the input one
 * ```
 */
export function mlpSaeConfig(
  layer: number,
  { d_in, d_sae }: { d_in: number; d_sae: number },
  site: SaeSite,
): TranscoderConfig {
  const hook = saeHookName(layer, site);
  return { d_in, d_sae, d_out: d_in, hook_name: hook, hook_layer: layer, out_hook_name: hook };
}

/** Whether a config is an SAE's (input and target hooks are the same). */
export function isSaeConfig(cfg: Pick<TranscoderConfig, "hook_name" | "out_hook_name">): boolean {
  return cfg.hook_name === cfg.out_hook_name;
}

/**
 * The parameter names, in the reference's order.
 *
 * @example
 * ```ts
 * import { TRANSCODER_PARAMS } from "./transcoder.ts";
 * TRANSCODER_PARAMS.join(" "); // "W_enc b_enc W_dec b_dec b_dec_out"
 * ```
 */
export const TRANSCODER_PARAMS = ["W_enc", "b_enc", "W_dec", "b_dec", "b_dec_out"] as const;
/** One parameter name. */
export type TranscoderParam = typeof TRANSCODER_PARAMS[number];

/**
 * Shapes of the parameters for a config.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transcoderShapes } from "./transcoder.ts";
 * const shapes = transcoderShapes({ d_in: 4, d_sae: 16, d_out: 6 });
 * shapes.W_enc; // [4, 16]
 * shapes.W_dec; // [16, 6]
 * assert.deepEqual(shapes.b_dec, [4]); // the input side
 * assert.deepEqual(shapes.b_dec_out, [6]); // the output side
 * ```
 */
export function transcoderShapes(
  cfg: Pick<TranscoderConfig, "d_in" | "d_sae" | "d_out">,
): Record<TranscoderParam, number[]> {
  return {
    W_enc: [cfg.d_in, cfg.d_sae],
    b_enc: [cfg.d_sae],
    W_dec: [cfg.d_sae, cfg.d_out],
    b_dec: [cfg.d_in],
    b_dec_out: [cfg.d_out],
  };
}

const SYMBOLIC_SHAPES: Record<TranscoderParam, string> = {
  W_enc: "[d_in, d_sae]",
  b_enc: "[d_sae]",
  W_dec: "[d_sae, d_out]",
  b_dec: "[d_in]",
  b_dec_out: "[d_out]",
};

/** Options of {@linkcode checkTranscoderParams}. */
export interface CheckParamsOptions {
  /** Names the parameters' origin in messages (default `transcoder`). */
  source?: string;
  /** What a parameter is called in messages (default `parameter`; `state_dict`, `tensor`). */
  what?: string;
  /** Parameters that may be missing (a present one is still checked). */
  optional?: readonly TranscoderParam[];
}

/**
 * Checks that every parameter has the shape the config gives it, before anything is allocated
 * from the config's sizes; throws a TranscoderError naming the parameter, both shapes and the
 * config's sizes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTranscoderParams, mlpTranscoderConfig, Transcoder } from "./transcoder.ts";
 * const tc = Transcoder.random(mlpTranscoderConfig(0, { d_in: 4, d_sae: 8 }), 0);
 * const huge = { ...tc.cfg, d_sae: 2 ** 40 }; // nothing of this size is ever allocated
 * assert.throws(() => checkTranscoderParams(huge, tc.params, { source: "cfg.json" }), {
 *   message: 'cfg.json: parameter "W_enc" has shape [4, 8], expected [d_in, d_sae] = ' +
 *     "[4, 1099511627776] (cfg d_in 4, d_sae 1099511627776, d_out 4)",
 * });
 * ```
 */
export function checkTranscoderParams(
  cfg: Pick<TranscoderConfig, "d_in" | "d_sae" | "d_out">,
  params: ReadonlyMap<string, Tensor>,
  { source = "transcoder", what = "parameter", optional = [] }: CheckParamsOptions = {},
): void {
  const shapes = transcoderShapes(cfg);
  for (const name of TRANSCODER_PARAMS) {
    const t = params.get(name);
    if (!t) {
      if (optional.includes(name)) continue;
      throw new TranscoderError(`${source}: missing ${what} "${name}" ${shapeStr(shapes[name])}`);
    }
    const want = shapes[name];
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new TranscoderError(
        `${source}: ${what} "${name}" has shape ${shapeStr(t.shape)}, expected ${
          SYMBOLIC_SHAPES[name]
        } = ${shapeStr(want)} (cfg d_in ${cfg.d_in}, d_sae ${cfg.d_sae}, d_out ${cfg.d_out})`,
      );
    }
  }
}

/**
 * Raised for transcoder parameters or inputs of the wrong shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlpTranscoderConfig, Transcoder, TranscoderError } from "./transcoder.ts";
 * const cfg = mlpTranscoderConfig(0, { d_in: 4, d_sae: 8 });
 * assert.throws(() => new Transcoder(cfg, new Map()), TranscoderError); // missing "W_enc" [4, 8]
 * await assert.rejects(
 *   Transcoder.random(cfg, 0).encode({ dtype: "float32", shape: [2, 3], data: new Float32Array(6) }),
 *   /expected a float32 \[\.\.\., 4\] tensor/,
 * );
 * ```
 */
export class TranscoderError extends Error {
  override name = "TranscoderError";
}

/** Feature activations of one row in sparse form: the active feature ids, ascending, and values. */
export interface SparseActivations {
  indices: Int32Array;
  values: Float32Array;
}

/**
 * The transcoder as graph operations: returns the pre-activations `[.., d_sae]`, the feature
 * activations `z` and the output `y_hat [.., d_out]` for an input `x [.., d_in]`; `hookActs`
 * lets a hook point observe or patch `z`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import type { Value } from "../graph/ir.ts";
 * import { Runtime } from "../graph/session.ts";
 * import { full } from "../tensor/tensor.ts";
 * import {
 *   mlpTranscoderConfig,
 *   Transcoder,
 *   TRANSCODER_PARAMS,
 *   type TranscoderParam,
 *   transcoderForward,
 *   transcoderShapes,
 * } from "./transcoder.ts";
 * const cfg = mlpTranscoderConfig(0, { d_in: 4, d_sae: 8 });
 * const g = new Graph();
 * const p = {} as Record<TranscoderParam, Value>;
 * for (const name of TRANSCODER_PARAMS) p[name] = g.input(name, "float32", transcoderShapes(cfg)[name]);
 * const { z, yHat } = transcoderForward(g, g.input("x", "float32", [2, 4]), p);
 * g.output("z", z);
 * g.output("y", yHat);
 * const tc = Transcoder.random(cfg, 0);
 * const x = full([2, 4], 0.5);
 * const out = await (await new Runtime().compile(g)).run({ ...Object.fromEntries(tc.params), x });
 * out.y.shape; // [2, 4]
 * assert.deepEqual(out.y.data, (await tc.decode(await tc.encode(x))).data); // as the Transcoder computes it
 * ```
 */
export function transcoderForward(
  g: Graph,
  x: Value,
  p: Record<TranscoderParam, Value>,
  hookActs: (z: Value) => Value = (z) => z,
): { hiddenPre: Value; z: Value; yHat: Value } {
  const { hiddenPre, z: acts } = transcoderEncode(g, x, p);
  const z = hookActs(acts);
  const yHat = g.add(g.matmul(z, p.W_dec), p.b_dec_out);
  return { hiddenPre, z, yHat };
}

/**
 * The encoder half: pre-activations `(x - b_dec) W_enc + b_enc` and `z = ReLU(...)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Graph } from "../graph/builder.ts";
 * import { Runtime } from "../graph/session.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import { transcoderEncode } from "./transcoder.ts";
 * const g = new Graph();
 * const { hiddenPre, z } = transcoderEncode(g, g.input("x", "float32", [1, 2]), {
 *   W_enc: g.input("W_enc", "float32", [2, 3]),
 *   b_enc: g.input("b_enc", "float32", [3]),
 *   b_dec: g.input("b_dec", "float32", [2]),
 * });
 * g.output("pre", hiddenPre);
 * g.output("z", z);
 * const out = await (await new Runtime().compile(g)).run({
 *   x: tensor(new Float32Array([2, 3]), [1, 2]),
 *   W_enc: tensor(new Float32Array([1, 0, -1, 0, 1, 0]), [2, 3]), // feature 2 reads -x0
 *   b_enc: tensor(new Float32Array([0, 0, 0.5]), [3]),
 *   b_dec: tensor(new Float32Array([1, 1]), [2]),
 * });
 * out.pre.data; // Float32Array [1, 2, -0.5]
 * assert.deepEqual(out.z.data, new Float32Array([1, 2, 0]));
 * ```
 */
export function transcoderEncode(
  g: Graph,
  x: Value,
  p: Pick<Record<TranscoderParam, Value>, "W_enc" | "b_enc" | "b_dec">,
): { hiddenPre: Value; z: Value } {
  const hiddenPre = g.add(g.matmul(g.sub(x, p.b_dec), p.W_enc), p.b_enc);
  return { hiddenPre, z: g.relu(hiddenPre) };
}

/**
 * Throws `RangeError: feature 30000 out of range for d_sae 24576` for a bad feature index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFeatureIndex } from "./transcoder.ts";
 * checkFeatureIndex(24575, 24576); // fine
 * assert.throws(() => checkFeatureIndex(30000, 24576), /feature 30000 out of range for d_sae 24576/);
 * assert.throws(() => checkFeatureIndex(1.5, 24576), RangeError);
 * ```
 */
export function checkFeatureIndex(feature: number, dSae: number): void {
  if (!Number.isInteger(feature) || feature < 0 || feature >= dSae) {
    throw new RangeError(`feature ${feature} out of range for d_sae ${dSae}`);
  }
}

/**
 * A transcoder with host parameters; encode/decode run as compiled graphs (one per batch size).
 *
 * @example
 * ```ts
 * import { Transcoder } from "./transcoder.ts";
 * const tc = Transcoder.random({ d_in: 4, d_sae: 8, d_out: 4, hook_name: "blocks.0.ln2.hook_normalized", hook_layer: 0, out_hook_name: "blocks.0.hook_mlp_out" }, 0);
 * const x = { dtype: "float32" as const, shape: [2, 4], data: new Float32Array(8).fill(0.5) };
 * const z = await tc.encode(x);        // [2, 8]
 * const y = await tc.decode(z);        // [2, 4]
 * ```
 */
export class Transcoder {
  readonly cfg: TranscoderConfig;
  readonly params: Map<TranscoderParam, Tensor<"float32">>;
  readonly runtime: Runtime;
  /**
   * `[d_sae]` log10 firing frequency of each feature (`log10(freq + 1e-10)`), when the loader
   * found it beside the weights (`sparsity.safetensors` in a SAELens-style folder, the
   * `<stem>_log_feature_sparsity.pt` sidecar of a reference checkpoint); `undefined` otherwise.
   * Set by the loaders (`loadTranscoder`, `loadTranscoders`); treat it as read-only.
   */
  logSparsity?: Tensor<"float32">;
  /**
   * The folder or `.pt` file this transcoder was loaded from, as the loader was given it
   * (resolved to a path for the `"<model>:<layer>"` form); `undefined` for one built in memory.
   * Set by the loaders; treat it as read-only.
   */
  source?: string;
  readonly #graphs = new Map<string, Promise<CompiledGraph>>();

  constructor(
    cfg: TranscoderConfig,
    params: Map<string, Tensor<"float32">>,
    runtime: Runtime = new Runtime(),
    source = "transcoder",
  ) {
    const tied = isSaeConfig(cfg) && !params.has("b_dec_out");
    checkTranscoderParams(cfg, params, { source, optional: tied ? ["b_dec_out"] : [] });
    this.cfg = cfg;
    this.params = new Map(
      TRANSCODER_PARAMS.map((n) => [n, params.get(tied && n === "b_dec_out" ? "b_dec" : n)!]),
    );
    markWeights(this.params.values()); // a GPU runtime keeps them on its device
    this.runtime = runtime;
  }

  /**
   * Kaiming-uniform initialisation as the reference (torch's `kaiming_uniform_`), unit-norm
   * decoder rows, zero biases (an SAE's output bias tied to its input one).
   */
  static random(cfg: TranscoderConfig, seed: number, runtime?: Runtime): Transcoder {
    const params = initialTranscoderParams(cfg, seed);
    if (isSaeConfig(cfg)) params.delete("b_dec_out");
    return new Transcoder(cfg, params, runtime);
  }

  /**
   * `"sae"` for a sparse autoencoder (input and target hooks are the same), else
   * `"transcoder"`.
   */
  get kind(): "transcoder" | "sae" {
    return isSaeConfig(this.cfg) ? "sae" : "transcoder";
  }

  /** Whether the output bias is the input bias (an SAE's, as the reference ties them). */
  get tiedBias(): boolean {
    return this.b_dec_out === this.b_dec;
  }

  get W_enc(): Tensor<"float32"> {
    return this.params.get("W_enc")!;
  }
  get b_enc(): Tensor<"float32"> {
    return this.params.get("b_enc")!;
  }
  get W_dec(): Tensor<"float32"> {
    return this.params.get("W_dec")!;
  }
  get b_dec(): Tensor<"float32"> {
    return this.params.get("b_dec")!;
  }
  get b_dec_out(): Tensor<"float32"> {
    return this.params.get("b_dec_out")!;
  }
  /** The layer whose MLP this transcoder replaces. */
  get layer(): number {
    return this.cfg.hook_layer;
  }

  /** The rows of `[..., width]` as `[n, width]` (a view), with the leading dimensions. */
  #rows(x: Tensor, width: number, what: string): { rows: Tensor<"float32">; lead: number[] } {
    if (x.dtype !== "float32" || x.shape.length < 1 || x.shape.at(-1) !== width) {
      throw new TranscoderError(
        `${what}: expected a float32 [..., ${width}] tensor, got ${x.dtype} ${shapeStr(x.shape)}`,
      );
    }
    const lead = x.shape.slice(0, -1);
    const n = lead.reduce((a, b) => a * b, 1);
    return { rows: { dtype: "float32", shape: [n, width], data: x.data as Float32Array }, lead };
  }

  async #run(
    kind: "encode" | "decode",
    input: Tensor<"float32">,
    n: number,
  ): Promise<Tensor<"float32">> {
    const key = `${kind}:${n}`;
    let c = this.#graphs.get(key);
    if (!c) {
      const g = new GraphBuilder();
      const p = {} as Record<TranscoderParam, Value>;
      for (const [name, shape] of Object.entries(transcoderShapes(this.cfg))) {
        p[name as TranscoderParam] = g.input(name, "float32", shape);
      }
      if (kind === "encode") {
        g.output("z", transcoderForward(g, g.input("x", "float32", [n, this.cfg.d_in]), p).z);
      } else {g.output(
          "y",
          g.add(g.matmul(g.input("z", "float32", [n, this.cfg.d_sae]), p.W_dec), p.b_dec_out),
        );}
      c = this.runtime.compile(g);
      this.#graphs.set(key, c);
    }
    const feeds: Record<string, Tensor> = Object.fromEntries(this.params);
    feeds[kind === "encode" ? "x" : "z"] = input;
    const out = await (await c).run(feeds);
    return out[kind === "encode" ? "z" : "y"] as Tensor<"float32">;
  }

  /**
   * Dense feature activations `[..., d_sae]` of inputs `[..., d_in]` (e.g. the
   * `[batch, pos, d_model]` tensors a cache holds): the leading dimensions are kept.
   */
  async encode(x: Tensor<"float32">): Promise<Tensor<"float32">> {
    const { rows, lead } = this.#rows(x, this.cfg.d_in, "encode()");
    const z = await this.#run("encode", rows, rows.shape[0]);
    return { ...z, shape: [...lead, this.cfg.d_sae] };
  }

  /**
   * Feature activations of inputs `[..., d_in]` as one (indices, values) pair per row, rows in
   * row-major order of the leading dimensions (`[batch, pos]` gives batch 0's positions first);
   * within a row, features in ascending id order, or by decreasing activation with
   * `{ order: "activation" }`.
   */
  async encodeSparse(
    x: Tensor<"float32">,
    { order = "index" }: { order?: "index" | "activation" } = {},
  ): Promise<SparseActivations[]> {
    const z = await this.encode(x);
    const sparse = toSparse({ ...z, shape: [z.data.length / this.cfg.d_sae, this.cfg.d_sae] });
    return order === "index" ? sparse : sparse.map(byActivation);
  }

  /**
   * Outputs `[..., d_out]` from dense activations `[..., d_sae]` (leading dimensions kept) or
   * sparse rows (`[rows, d_out]`).
   */
  async decode(z: Tensor<"float32"> | readonly SparseActivations[]): Promise<Tensor<"float32">> {
    const dense = Array.isArray(z)
      ? toDense(z as SparseActivations[], this.cfg.d_sae)
      : z as Tensor<"float32">;
    const { rows, lead } = this.#rows(dense, this.cfg.d_sae, "decode()");
    const y = await this.#run("decode", rows, rows.shape[0]);
    return { ...y, shape: [...lead, this.cfg.d_out] };
  }

  /**
   * Splices this dictionary into a model: a transcoder in place of its layer's MLP; an SAE on
   * the MLP's output replaces that output by its reconstruction, one on the MLP's input feeds
   * the MLP its reconstruction.
   */
  asReplacement(): MlpReplacementProvider {
    return transcoderReplacement(this);
  }
}

/** A sparse row with its features ordered by decreasing activation (ties: ascending id). */
function byActivation({ indices, values }: SparseActivations): SparseActivations {
  const order = [...indices.keys()].sort((a, b) =>
    values[b] - values[a] || indices[a] - indices[b]
  );
  return {
    indices: Int32Array.from(order, (i) => indices[i]),
    values: Float32Array.from(order, (i) => values[i]),
  };
}

/**
 * Parameters initialised as the reference does (seeded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialTranscoderParams } from "./transcoder.ts";
 * const p = initialTranscoderParams({ d_in: 4, d_sae: 8, d_out: 4 }, 0);
 * p.get("W_enc")!.shape; // [4, 8]
 * const row = p.get("W_dec")!.data.subarray(0, 4); // decoder rows have unit norm
 * assert.ok(Math.abs(Math.hypot(...row) - 1) < 1e-6);
 * assert.ok(p.get("b_enc")!.data.every((v) => v === 0)); // zero biases
 * assert.deepEqual(initialTranscoderParams({ d_in: 4, d_sae: 8, d_out: 4 }, 0), p); // seeded
 * ```
 */
export function initialTranscoderParams(
  cfg: Pick<TranscoderConfig, "d_in" | "d_sae" | "d_out">,
  seed: number,
): Map<string, Tensor<"float32">> {
  // torch.nn.init.kaiming_uniform_(W) with a=0: bound = sqrt(6 / fan_in), fan_in = W.shape[1].
  let state = (seed ^ 0x5bd1e995) >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const kaiming = (rows: number, cols: number) => {
    const bound = Math.sqrt(6 / cols);
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = (2 * uniform() - 1) * bound;
    return { dtype: "float32" as const, shape: [rows, cols], data };
  };
  const W_dec = kaiming(cfg.d_sae, cfg.d_out);
  normalizeRows(W_dec.data, cfg.d_out);
  const zeros = (n: number) => ({
    dtype: "float32" as const,
    shape: [n],
    data: new Float32Array(n),
  });
  return new Map<string, Tensor<"float32">>([
    ["W_enc", kaiming(cfg.d_in, cfg.d_sae)],
    ["b_enc", zeros(cfg.d_sae)],
    ["W_dec", W_dec],
    ["b_dec", zeros(cfg.d_in)],
    ["b_dec_out", zeros(cfg.d_out)],
  ]);
}

/**
 * Scales each row of a row-major matrix with `cols` columns to unit L2 norm, in place (an
 * all-zero row stays zero).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeRows } from "./transcoder.ts";
 * const m = new Float32Array([3, 4, 0, 2]); // [[3, 4], [0, 2]]
 * normalizeRows(m, 2);
 * m; // Float32Array [0.6, 0.8, 0, 1] (to float32 precision)
 * assert.deepEqual(Array.from(m.subarray(2)), [0, 1]);
 * ```
 */
export function normalizeRows(data: Float32Array, cols: number): void {
  for (let r = 0; r < data.length / cols; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += data[r * cols + j] ** 2;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < cols; j++) data[r * cols + j] *= inv;
  }
}

/**
 * Dense `[n, d_sae]` activations to sparse rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "../tensor/tensor.ts";
 * import { toSparse } from "./transcoder.ts";
 * const [a, b] = toSparse(tensor(new Float32Array([0, 2, 0, 5, 0, 0, 0, 0]), [2, 4]));
 * a.indices; // Int32Array [1, 3]
 * a.values; // Float32Array [2, 5]
 * assert.equal(b.indices.length, 0); // no active feature
 * ```
 */
export function toSparse(z: Tensor<"float32">): SparseActivations[] {
  const [n, d] = z.shape;
  const rows: SparseActivations[] = [];
  for (let r = 0; r < n; r++) {
    const row = z.data.subarray(r * d, (r + 1) * d);
    let nnz = 0;
    for (let j = 0; j < d; j++) if (row[j] !== 0) nnz++;
    const indices = new Int32Array(nnz), values = new Float32Array(nnz);
    let k = 0;
    for (let j = 0; j < d; j++) {
      if (row[j] !== 0) {
        indices[k] = j;
        values[k++] = row[j];
      }
    }
    rows.push({ indices, values });
  }
  return rows;
}

/**
 * Sparse rows to dense `[n, d_sae]` activations; ids must be in range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toDense } from "./transcoder.ts";
 * const rows = [{ indices: new Int32Array([1, 3]), values: new Float32Array([2, 5]) }];
 * const z = toDense(rows, 4);
 * z.shape; // [1, 4]
 * assert.deepEqual(Array.from(z.data), [0, 2, 0, 5]);
 * assert.throws(() => toDense(rows, 3), /feature 3 out of range for d_sae 3/);
 * ```
 */
export function toDense(rows: readonly SparseActivations[], dSae: number): Tensor<"float32"> {
  const data = new Float32Array(rows.length * dSae);
  rows.forEach((r, i) => {
    r.indices.forEach((j, k) => {
      if (!(j >= 0 && j < dSae)) {
        throw new RangeError(`feature ${j} out of range for d_sae ${dSae}`);
      }
      data[i * dSae + j] = r.values[k];
    });
  });
  return { dtype: "float32", shape: [rows.length, dSae], data };
}

/**
 * A model-splicing provider: the layer's MLP output becomes the transcoder's `y_hat`, computed
 * from the MLP input, and the feature activations are the hook `blocks.{l}.transcoder.hook_acts`
 * (`[batch, pos, d_sae]`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Config } from "../model/config.ts";
 * import { modelFromStateDict } from "../model/load.ts";
 * import { randomStateDict } from "../model/random_weights.ts";
 * import { mlpTranscoderConfig, Transcoder, transcoderReplacement } from "./transcoder.ts";
 * const cfg = gpt2Config({ n_layers: 1, d_model: 8, n_heads: 2, d_vocab: 10, n_ctx: 4 });
 * const model = modelFromStateDict(cfg, randomStateDict(cfg, 0));
 * const tc = Transcoder.random(mlpTranscoderConfig(0, { d_in: 8, d_sae: 16 }), 0);
 * const { cache } = await model.runWithCache([1, 2, 3], {
 *   names: ["blocks.0.transcoder.hook_acts", "blocks.0.hook_mlp_out"],
 *   mlpReplacements: new Map([[0, transcoderReplacement(tc)]]),
 * });
 * const acts = cache.get("blocks.0.transcoder.hook_acts");
 * acts.shape; // [1, 3, 16]
 * const mlpOut = cache.get("blocks.0.hook_mlp_out"); // now the transcoder's y_hat
 * assert.deepEqual(mlpOut.data, (await tc.decode({ ...acts, shape: [3, 16] })).data);
 * ```
 */
export function transcoderReplacement(tc: Transcoder): MlpReplacementProvider {
  const shapes = transcoderShapes(tc.cfg);
  const l = tc.layer, kind = tc.kind;
  let site: SaeSite | undefined;
  if (kind === "sae") {
    site = (["mlp_out", "mlp_in"] as const).find((s) => saeHookName(l, s) === tc.cfg.hook_name);
    if (!site) {
      throw new TranscoderError(
        `an SAE on "${tc.cfg.hook_name}" cannot be spliced as an MLP replacement: only SAEs on ` +
          `${saeHookName(l, "mlp_out")} or ${saeHookName(l, "mlp_in")} can (patch other hooks ` +
          `with the reconstruction instead)`,
      );
    }
  }
  const actsHook = (layer: number) => `blocks.${layer}.${kind}.hook_acts`;
  const tied = tc.tiedBias;
  return {
    key: `${
      site ? `sae-${site}${tied ? "-tied" : ""}` : "transcoder"
    }:${tc.cfg.d_in}x${tc.cfg.d_sae}x${tc.cfg.d_out}`,
    hookNames: (layer) => [actsHook(layer)],
    build(g: Graph, x: Value, layer: number, hooks: HookPoints, param, mlp) {
      if (x.shape[x.shape.length - 1] !== tc.cfg.d_in) {
        throw new TranscoderError(
          `${kind} d_in ${tc.cfg.d_in} does not match the model's d_model ${
            x.shape[x.shape.length - 1]
          }`,
        );
      }
      const p = {} as Record<TranscoderParam, Value>;
      for (const name of TRANSCODER_PARAMS) {
        if (name !== "b_dec_out" || !tied) p[name] = param(name, shapes[name]);
      }
      if (tied) p.b_dec_out = p.b_dec;
      const dictionary = (v: Value) =>
        transcoderForward(g, v, p, (z) => hooks.hook(actsHook(layer), z)).yHat;
      if (site === "mlp_out") return dictionary(mlp(x));
      if (site === "mlp_in") return mlp(dictionary(x));
      return dictionary(x);
    },
    params: () => tc.params,
  };
}

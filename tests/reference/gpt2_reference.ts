/**
 * An independent, plain-TypeScript float64 reference of the GPT-2 forward pass with
 * TransformerLens HookedTransformer semantics (hook names, shapes, patching). Naive loops, no
 * ONNX, no libraries: tests use it as an oracle for the graph runtime.
 *
 * All tensors are dense row-major `Float64Array`s; weights are read from the float32 state dict
 * and every accumulation is done in float64.
 *
 * @module
 */
import type { GPT2Config } from "../../lib/model/config.ts";

/**
 * A state dict in TransformerLens names: structurally the same as `StateDict` in
 * `lib/model/weights.ts` (declared here so this oracle type-checks on its own).
 */
export type RefStateDict = Map<
  string,
  { readonly dtype: "float32"; readonly shape: readonly number[]; readonly data: Float32Array }
>;
type StateDict = RefStateDict;

/** A dense row-major float64 tensor. */
export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

/** A patch at one hook point: replace the value, or add to it. */
export interface RefPatch {
  mode: "replace" | "add";
  /** Same shape as the hook, or a suffix of it (broadcast over the leading dims). */
  value: RefTensor;
}

/** Output of {@link referenceForward}. */
export interface RefForward {
  /** Every hook value (after patching), by TransformerLens name. */
  hooks: Map<string, RefTensor>;
  /** `[batch, pos, d_vocab]`. */
  logits: RefTensor;
  /** `[batch, pos - 1]`: -log p(tokens[b][i+1] | tokens[b][..i]). */
  lossPerToken: RefTensor;
  /** Mean of `lossPerToken`. */
  loss: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Every parameter of a config and its shape (TransformerLens names, as documented in
 * `lib/model/weights.ts`); LayerNorm parameters only when `withLn`.
 */
export function referenceParamShapes(cfg: GPT2Config, withLn: boolean): Map<string, number[]> {
  const { d_model: d, n_heads: h, d_head: e, d_mlp: m, d_vocab: v } = cfg;
  const s = new Map<string, number[]>([["embed.W_E", [v, d]], ["pos_embed.W_pos", [cfg.n_ctx, d]]]);
  const ln = (p: string) => withLn && s.set(`${p}.w`, [d]).set(`${p}.b`, [d]);
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}`;
    ln(`${p}.ln1`);
    for (const x of ["Q", "K", "V"]) {
      s.set(`${p}.attn.W_${x}`, [h, d, e]).set(`${p}.attn.b_${x}`, [h, e]);
    }
    s.set(`${p}.attn.W_O`, [h, e, d]).set(`${p}.attn.b_O`, [d]);
    ln(`${p}.ln2`);
    s.set(`${p}.mlp.W_in`, [d, m]).set(`${p}.mlp.b_in`, [m]);
    s.set(`${p}.mlp.W_out`, [m, d]).set(`${p}.mlp.b_out`, [d]);
  }
  ln("ln_final");
  return s.set("unembed.W_U", [d, v]).set("unembed.b_U", [v]);
}

/** Every hook name of a config, in execution order. */
export function referenceHookNames(cfg: GPT2Config): string[] {
  const names = ["hook_embed", "hook_pos_embed"];
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}`;
    names.push(`${p}.hook_resid_pre`, `${p}.ln1.hook_scale`, `${p}.ln1.hook_normalized`);
    for (const x of ["q", "k", "v", "attn_scores", "pattern", "z"]) {
      names.push(`${p}.attn.hook_${x}`);
    }
    names.push(`${p}.hook_attn_out`, `${p}.hook_resid_mid`, `${p}.ln2.hook_scale`);
    names.push(`${p}.ln2.hook_normalized`, `${p}.mlp.hook_pre`, `${p}.mlp.hook_post`);
    names.push(`${p}.hook_mlp_out`, `${p}.hook_resid_post`);
  }
  names.push("ln_final.hook_scale", "ln_final.hook_normalized");
  return names;
}

/**
 * Runs GPT-2 on `tokens` (`[batch][pos]`, equal lengths) in float64, recording every hook and
 * applying `opts.patches` at their hook points (downstream computation sees the patched value).
 * LayerNorms are full LayerNorms when `blocks.0.ln1.w` is in the state dict, else LayerNormPre.
 */
export function referenceForward(
  cfg: GPT2Config,
  sd: StateDict,
  tokens: number[][],
  opts: { patches?: Record<string, RefPatch> } = {},
): RefForward {
  const { d_model: D, n_heads: H, d_head: E, d_mlp: M, d_vocab: V } = cfg;
  const B = tokens.length, P = B ? tokens[0].length : 0;
  if (B === 0 || P === 0) throw new RangeError("tokens must be a non-empty [batch][pos] array");
  if (P > cfg.n_ctx) throw new RangeError(`sequence length ${P} exceeds n_ctx ${cfg.n_ctx}`);
  for (const row of tokens) {
    if (row.length !== P) throw new RangeError("all token rows must have the same length");
    for (const t of row) {
      if (!Number.isInteger(t) || t < 0 || t >= V) {
        throw new RangeError(`token ${t} out of range [0, ${V})`);
      }
    }
  }
  const patches = opts.patches ?? {};
  const known = new Set(referenceHookNames(cfg));
  for (const name of Object.keys(patches)) {
    if (!known.has(name)) throw new Error(`unknown hook name "${name}"`);
  }
  const withLn = sd.has("blocks.0.ln1.w");
  const shapes = referenceParamShapes(cfg, withLn);
  /** A parameter's data, checked against its expected shape. */
  const W = (name: string): Float32Array => {
    const t = sd.get(name), s = shapes.get(name);
    if (!t || !s) throw new Error(`missing parameter "${name}"`);
    if (t.shape.length !== s.length || t.shape.some((d, i) => d !== s[i])) {
      throw new Error(`parameter "${name}" has shape [${t.shape}], expected [${s}]`);
    }
    return t.data;
  };

  const hooks = new Map<string, RefTensor>();
  /** Applies any patch at `name`, records the value, and returns the (patched) data. */
  const hook = (name: string, shape: number[], value: Float64Array): Float64Array => {
    let data = value;
    const patch = patches[name];
    if (patch) {
      data = data.slice(); // never mutate an array another hook already recorded
      const vs = patch.value.shape, n = size(vs);
      const suffix = shape.slice(shape.length - vs.length);
      if (vs.length > shape.length || vs.some((d, i) => d !== suffix[i])) {
        throw new RangeError(`patch for "${name}" has shape [${vs}], hook has shape [${shape}]`);
      }
      if (patch.value.data.length !== n) {
        throw new RangeError(`patch for "${name}": data does not match its shape`);
      }
      for (let i = 0; i < data.length; i++) {
        const v = patch.value.data[i % n];
        data[i] = patch.mode === "replace" ? v : data[i] + v;
      }
    }
    hooks.set(name, { shape, data });
    return data;
  };

  /** LayerNorm (or LayerNormPre) over rows of x `[B*P, D]`; hooks `scale` `[b,p,1]` and `normalized`. */
  const layerNorm = (prefix: string, x: Float64Array): Float64Array => {
    const x0 = new Float64Array(B * P * D), rawScale = new Float64Array(B * P);
    for (let r = 0; r < B * P; r++) {
      let mean = 0, sq = 0;
      for (let i = 0; i < D; i++) mean += x[r * D + i];
      mean /= D;
      for (let i = 0; i < D; i++) {
        const c = x[r * D + i] - mean;
        x0[r * D + i] = c;
        sq += c * c;
      }
      rawScale[r] = Math.sqrt(sq / D + cfg.layer_norm_eps);
    }
    const scale = hook(`${prefix}.hook_scale`, [B, P, 1], rawScale);
    const w = withLn ? W(`${prefix}.w`) : null, b = withLn ? W(`${prefix}.b`) : null;
    const out = new Float64Array(B * P * D);
    for (let r = 0; r < B * P; r++) {
      for (let i = 0; i < D; i++) {
        const n = x0[r * D + i] / scale[r];
        out[r * D + i] = w && b ? n * w[i] + b[i] : n;
      }
    }
    return hook(`${prefix}.hook_normalized`, [B, P, D], out);
  };

  /** y `[rows, n]` = x `[rows, k]` · w `[k, n]` + b `[n]`. */
  const affine = (
    x: Float64Array,
    rows: number,
    k: number,
    n: number,
    w: Float32Array,
    b: Float32Array,
  ) => {
    const y = new Float64Array(rows * n);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        let s = b[j];
        for (let i = 0; i < k; i++) s += x[r * k + i] * w[i * n + j];
        y[r * n + j] = s;
      }
    }
    return y;
  };

  // Embeddings.
  const WE = W("embed.W_E"), WP = W("pos_embed.W_pos");
  const embed = new Float64Array(B * P * D), posEmbed = new Float64Array(B * P * D);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < P; p++) {
      for (let i = 0; i < D; i++) {
        embed[(b * P + p) * D + i] = WE[tokens[b][p] * D + i];
        posEmbed[(b * P + p) * D + i] = WP[p * D + i];
      }
    }
  }
  const e = hook("hook_embed", [B, P, D], embed);
  const pe = hook("hook_pos_embed", [B, P, D], posEmbed);
  let resid: Float64Array = e.map((v, i) => v + pe[i]);

  for (let l = 0; l < cfg.n_layers; l++) {
    const pre = `blocks.${l}`;
    resid = hook(`${pre}.hook_resid_pre`, [B, P, D], resid);
    const x = layerNorm(`${pre}.ln1`, resid);

    // q, k, v: [B, P, H, E] = sum_d x[d] W[h, d, e] + b[h, e]
    const qkv: Record<string, Float64Array> = {};
    for (const name of ["Q", "K", "V"]) {
      const w = W(`${pre}.attn.W_${name}`), bias = W(`${pre}.attn.b_${name}`);
      const out = new Float64Array(B * P * H * E);
      for (let r = 0; r < B * P; r++) {
        for (let h = 0; h < H; h++) {
          for (let e = 0; e < E; e++) {
            let s = bias[h * E + e];
            for (let d = 0; d < D; d++) s += x[r * D + d] * w[(h * D + d) * E + e];
            out[(r * H + h) * E + e] = s;
          }
        }
      }
      qkv[name] = hook(`${pre}.attn.hook_${name.toLowerCase()}`, [B, P, H, E], out);
    }
    const { Q: q, K: k, V: v } = qkv;

    // scores, pattern: [B, H, P(query), P(key)], causal mask k > q -> -Infinity.
    const rawScores = new Float64Array(B * H * P * P);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < P; i++) {
          for (let j = 0; j < P; j++) {
            let s = -Infinity;
            if (j <= i) {
              s = 0;
              for (let e = 0; e < E; e++) {
                s += q[((b * P + i) * H + h) * E + e] * k[((b * P + j) * H + h) * E + e];
              }
              s /= Math.sqrt(E);
            }
            rawScores[((b * H + h) * P + i) * P + j] = s;
          }
        }
      }
    }
    const scores = hook(`${pre}.attn.hook_attn_scores`, [B, H, P, P], rawScores);
    const rawPattern = new Float64Array(B * H * P * P);
    for (let row = 0; row < B * H * P; row++) {
      let max = -Infinity, sum = 0;
      for (let j = 0; j < P; j++) max = Math.max(max, scores[row * P + j]);
      if (max === -Infinity) continue; // fully masked row: zeros (TL maps NaN to 0)
      for (let j = 0; j < P; j++) {
        sum += rawPattern[row * P + j] = Math.exp(scores[row * P + j] - max);
      }
      for (let j = 0; j < P; j++) rawPattern[row * P + j] /= sum;
    }
    const pattern = hook(`${pre}.attn.hook_pattern`, [B, H, P, P], rawPattern);

    // z: [B, P, H, E] = sum_k pattern[b, h, q, k] v[b, k, h, e]
    const rawZ = new Float64Array(B * P * H * E);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < P; i++) {
          for (let e = 0; e < E; e++) {
            let s = 0;
            for (let j = 0; j < P; j++) {
              s += pattern[((b * H + h) * P + i) * P + j] * v[((b * P + j) * H + h) * E + e];
            }
            rawZ[((b * P + i) * H + h) * E + e] = s;
          }
        }
      }
    }
    const z = hook(`${pre}.attn.hook_z`, [B, P, H, E], rawZ);
    // attn_out: [B, P, D] = z viewed as [B*P, H*E] · W_O viewed as [H*E, D] + b_O
    const attnOut = hook(
      `${pre}.hook_attn_out`,
      [B, P, D],
      affine(z, B * P, H * E, D, W(`${pre}.attn.W_O`), W(`${pre}.attn.b_O`)),
    );
    const mid = hook(`${pre}.hook_resid_mid`, [B, P, D], resid.map((r, i) => r + attnOut[i]));

    // MLP.
    const x2 = layerNorm(`${pre}.ln2`, mid);
    const mlpPre = hook(
      `${pre}.mlp.hook_pre`,
      [B, P, M],
      affine(x2, B * P, D, M, W(`${pre}.mlp.W_in`), W(`${pre}.mlp.b_in`)),
    );
    const gelu = (t: number) =>
      0.5 * t * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (t + 0.044715 * t * t * t)));
    const post = hook(`${pre}.mlp.hook_post`, [B, P, M], mlpPre.map(gelu));
    const mlpOut = hook(
      `${pre}.hook_mlp_out`,
      [B, P, D],
      affine(post, B * P, M, D, W(`${pre}.mlp.W_out`), W(`${pre}.mlp.b_out`)),
    );
    resid = hook(`${pre}.hook_resid_post`, [B, P, D], mid.map((r, i) => r + mlpOut[i]));
  }

  // Unembed and loss.
  const xf = layerNorm("ln_final", resid);
  const logits = affine(xf, B * P, D, V, W("unembed.W_U"), W("unembed.b_U"));
  const lossPerToken = new Float64Array(B * (P - 1));
  for (let b = 0; b < B; b++) {
    for (let i = 0; i + 1 < P; i++) {
      const row = logits.subarray((b * P + i) * V, (b * P + i + 1) * V);
      let max = -Infinity, sum = 0;
      for (let j = 0; j < V; j++) max = Math.max(max, row[j]);
      for (let j = 0; j < V; j++) sum += Math.exp(row[j] - max);
      lossPerToken[b * (P - 1) + i] = max + Math.log(sum) - row[tokens[b][i + 1]];
    }
  }
  const loss = lossPerToken.reduce((a, c) => a + c, 0) / lossPerToken.length;
  return {
    hooks,
    logits: { shape: [B, P, V], data: logits },
    lossPerToken: { shape: [B, P - 1], data: lossPerToken },
    loss,
  };
}

/** mulberry32: a small deterministic 32-bit PRNG returning uniforms in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A deterministic random TransformerLens state dict for `cfg`: matrices ~ N(0, 0.3²), biases
 * ~ N(0, 0.1²), LayerNorm weights 1 + 0.2 N(0, 1), LayerNorm biases 0.1 N(0, 1). With
 * `withLn: false` the LayerNorm parameters are omitted (a folded model, LayerNormPre).
 */
export function randomStateDict(
  cfg: GPT2Config,
  seed: number,
  opts: { withLn?: boolean } = {},
): StateDict {
  const uniform = mulberry32(seed);
  const normal = () => {
    const u1 = 1 - uniform(), u2 = uniform(); // u1 in (0, 1]
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
  const sd: StateDict = new Map();
  for (const [name, shape] of referenceParamShapes(cfg, opts.withLn ?? true)) {
    const leaf = name.slice(name.lastIndexOf(".") + 1);
    const isLn = /(^|\.)ln(1|2|_final)\./.test(name);
    const sample = isLn
      ? (leaf === "w" ? () => 1 + 0.2 * normal() : () => 0.1 * normal())
      : (leaf.startsWith("W_") ? () => 0.3 * normal() : () => 0.1 * normal());
    const data = new Float32Array(size(shape));
    for (let i = 0; i < data.length; i++) data[i] = sample();
    sd.set(name, { dtype: "float32", shape, data });
  }
  return sd;
}

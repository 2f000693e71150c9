/**
 * How much of a CE difference between two dictionaries of this sweep is noise: both are spliced
 * into the tiny model on the sweep's held-out rows, the per-token losses are paired, and the
 * standard error of the mean difference comes from 32 blocks of 8 rows (tokens within a row are
 * correlated, rows much less).
 *
 *     deno run -A results/sweep_tiny_l2/paired_error.ts transcoder-l1-0.0007 mlp_out_sae-l1-0.0016
 *
 * @module
 */
import { join } from "node:path";
import { loadModel } from "../../mod.ts";
import { sliceRows } from "../../lib/tensor/mod.ts";
import { loadPackedCorpus } from "../../lib/train/mod.ts";
import { loadTranscoder } from "../../lib/transcoder/mod.ts";

const here = new URL(".", import.meta.url).pathname;
const [a, b] = Deno.args;
if (!a || !b) {
  throw new Error("usage: paired_error.ts <run A> <run B> (folder names of this sweep)");
}
const model = await loadModel("tiny");
const validation = await loadPackedCorpus({ source: "builtin", nCtx: 128, split: "validation" });
const rows = sliceRows(validation, 0, 256);
const losses = async (run: string) => {
  const d = await loadTranscoder(join(here, run, "dictionary"));
  const replacement = new Map([[d.layer, d.asReplacement()]]);
  const out: Float32Array[] = [];
  for (let r = 0; r < 256; r += 8) {
    const t = await model.loss(sliceRows(rows, r, r + 8), {
      perToken: true,
      mlpReplacements: replacement,
    });
    out.push(t.data as Float32Array);
  }
  return out;
};
const [la, lb] = [await losses(a), await losses(b)];
const blocks = la.map((x, i) => x.reduce((s, v, j) => s + v - lb[i][j], 0) / x.length);
const mean = blocks.reduce((s, v) => s + v, 0) / blocks.length;
const sd = Math.sqrt(blocks.reduce((s, v) => s + (v - mean) ** 2, 0) / (blocks.length - 1));
console.log(
  `CE(${a}) - CE(${b}) = ${mean.toFixed(5)} nats, standard error ${
    (sd / Math.sqrt(blocks.length)).toFixed(5)
  } ` +
    `(${blocks.length} blocks of 8 rows, ${
      la.reduce((s, x) => s + x.length, 0)
    } token losses each)`,
);

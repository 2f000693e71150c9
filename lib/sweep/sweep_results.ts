/**
 * The results of a sparsity-fidelity sweep (the reference's `sweep.ipynb`): one row per trained
 * dictionary (L1 coefficient, L0, cross-entropy with the dictionary spliced in, clean and
 * zero-ablated cross-entropy, KL), the comparison of transcoders with SAEs at matched L0, a
 * Markdown table and a Pareto chart of CE against L0.
 *
 * @module
 */
import * as Plot from "npm:@observablehq/plot@0.6.17";
import { plotToSvg } from "../display/charts.ts";

/** What a sweep trains: transcoders, or SAEs on the MLP's output (the reference's sweep). */
export type SweepKind = "transcoder" | "mlp_out_sae";

/** One evaluated dictionary of a sweep. */
export interface SweepRow {
  kind: SweepKind;
  /** The run's folder name, e.g. `transcoder-l1-0.0006`. */
  name: string;
  l1: number;
  l0: number;
  /** Mean next-token cross-entropy (nats) with the dictionary spliced in. */
  ceReplaced: number;
  ceClean: number;
  /** With the layer's MLP zero-ablated. */
  ceZeroAblated: number;
  /** `(zero - replaced) / (zero - clean)`. */
  ceScore: number;
  /** KL(clean || replaced) of the next-token distributions, per token. */
  kl: number;
  /** Against the dictionary's own target (the MLP output for both kinds here). */
  explainedVariance: number;
  deadFeatures: number;
  liveFeatures: number;
}

/** A transcoder compared with the SAE curve at its L0. */
export interface MatchedPoint {
  name: string;
  l0: number;
  ceTranscoder: number;
  /** The SAEs' CE at this L0, interpolated linearly in log L0 between the two nearest SAEs. */
  ceSae: number;
  /** `ceTranscoder - ceSae` (negative: the transcoder is better). */
  difference: number;
}

/**
 * Compares each transcoder with the SAEs at the same L0: the SAEs' CE with replacement is
 * interpolated linearly in log L0 between the two SAEs around the transcoder's L0; transcoders
 * outside the SAEs' L0 range are left out (no extrapolation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchedL0, type SweepRow } from "./sweep_results.ts";
 * const row = (kind: SweepRow["kind"], l0: number, ce: number) =>
 *   ({ kind, name: `${kind}-${l0}`, l1: 0, l0, ceReplaced: ce, ceClean: 3, ceZeroAblated: 4,
 *     ceScore: 0, kl: 0, explainedVariance: 0, deadFeatures: 0, liveFeatures: 0 });
 * const rows = [row("mlp_out_sae", 10, 3.4), row("mlp_out_sae", 100, 3.2), row("transcoder", 1000, 3.1)];
 * const [m] = matchedL0([...rows, row("transcoder", Math.sqrt(1000), 3.25)]);
 * m.ceSae; // 3.3 (half way in log L0)
 * assert.ok(Math.abs(m.difference - -0.05) < 1e-12); // and the L0-1000 transcoder is out of range
 * ```
 */
export function matchedL0(rows: readonly SweepRow[]): MatchedPoint[] {
  const saes = rows.filter((r) => r.kind === "mlp_out_sae").sort((a, b) => a.l0 - b.l0);
  const out: MatchedPoint[] = [];
  for (const t of rows.filter((r) => r.kind === "transcoder").sort((a, b) => a.l0 - b.l0)) {
    const hi = saes.findIndex((s) => s.l0 >= t.l0);
    if (hi < 0 || (hi === 0 && saes[0].l0 > t.l0)) continue;
    const a = saes[Math.max(hi - 1, 0)], b = saes[hi];
    const w = b.l0 === a.l0
      ? 0
      : (Math.log(t.l0) - Math.log(a.l0)) / (Math.log(b.l0) - Math.log(a.l0));
    const ceSae = a.ceReplaced + w * (b.ceReplaced - a.ceReplaced);
    out.push({
      name: t.name,
      l0: t.l0,
      ceTranscoder: t.ceReplaced,
      ceSae,
      difference: t.ceReplaced - ceSae,
    });
  }
  return out;
}

/** Line colours, by kind in KIND_LABEL's order (Observable's category10 blue and orange). */
const PALETTE = ["#4269d0", "#efb118"];

const KIND_LABEL: Record<SweepKind, string> = {
  transcoder: "transcoder",
  mlp_out_sae: "SAE (MLP out)",
};

/**
 * The sweep as a Markdown table (rows by kind, then by decreasing L1), the matched-L0 comparison
 * below it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sweepMarkdown } from "./sweep_results.ts";
 * const md = sweepMarkdown([{ kind: "transcoder", name: "transcoder-l1-0.001", l1: 0.001, l0: 20,
 *   ceReplaced: 4.95, ceClean: 4.9, ceZeroAblated: 5.1, ceScore: 0.75, kl: 0.02,
 *   explainedVariance: 0.8, deadFeatures: 3, liveFeatures: 2000 }]);
 * md.split("\n")[0]; // "| dictionary | L1 | L0 | CE replaced | CE clean | CE zero-abl. | CE score | KL | expl. var. | dead | live |"
 * assert.match(md, /\| transcoder \| 0\.001 \| 20\.0 \| 4\.9500 \|/);
 * ```
 */
export function sweepMarkdown(rows: readonly SweepRow[]): string {
  const sorted = [...rows].sort((a, b) => a.kind.localeCompare(b.kind) || b.l1 - a.l1);
  const lines = [
    "| dictionary | L1 | L0 | CE replaced | CE clean | CE zero-abl. | CE score | KL | expl. var. | dead | live |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...sorted.map((r) =>
      `| ${KIND_LABEL[r.kind]} | ${r.l1} | ${r.l0.toFixed(1)} | ${r.ceReplaced.toFixed(4)} | ${
        r.ceClean.toFixed(4)
      } | ${r.ceZeroAblated.toFixed(4)} | ${r.ceScore.toFixed(3)} | ${r.kl.toFixed(4)} | ${
        r.explainedVariance.toFixed(3)
      } | ${r.deadFeatures} | ${r.liveFeatures} |`
    ),
  ];
  const matched = matchedL0(rows);
  if (matched.length) {
    lines.push(
      "",
      "Transcoders against the SAE curve at the same L0 (SAE CE interpolated linearly in log L0; " +
        "negative: the transcoder is better):",
      "",
      "| transcoder | L0 | CE transcoder | CE SAE at that L0 | difference |",
      "|---|---:|---:|---:|---:|",
      ...matched.map((m) =>
        `| ${m.name} | ${m.l0.toFixed(1)} | ${m.ceTranscoder.toFixed(4)} | ${
          m.ceSae.toFixed(4)
        } | ${m.difference >= 0 ? "+" : ""}${m.difference.toFixed(4)} |`
      ),
    );
  }
  return lines.join("\n") + "\n";
}

/** Options of {@linkcode sweepChartSvg}. */
export interface SweepChartOptions {
  width?: number;
  height?: number;
  title?: string;
}

/**
 * The Pareto chart of a sweep: CE with replacement against L0 (log scale), one line per kind,
 * the clean model's CE as a dashed rule; an SVG string (Observable Plot).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sweepChartSvg } from "./sweep_results.ts";
 * const svg = sweepChartSvg([{ kind: "transcoder", name: "t", l1: 0.001, l0: 20, ceReplaced: 4.95,
 *   ceClean: 4.9, ceZeroAblated: 5.1, ceScore: 0.75, kl: 0.02, explainedVariance: 0.8,
 *   deadFeatures: 3, liveFeatures: 2000 }]);
 * assert.ok(svg.startsWith("<svg") && svg.includes("CE with replacement"));
 * ```
 */
export function sweepChartSvg(rows: readonly SweepRow[], opts: SweepChartOptions = {}): string {
  const data = [...rows].sort((a, b) => a.l0 - b.l0).map((r) => ({
    ...r,
    dictionary: KIND_LABEL[r.kind],
  }));
  const clean = rows.length ? rows[0].ceClean : undefined;
  const tip = (d: SweepRow) =>
    `${d.name}\nL1 ${d.l1}\nL0 ${d.l0.toFixed(1)}\nCE ${d.ceReplaced.toFixed(4)}`;
  // A legend drawn as text marks in the top-right corner (Plot's legends need a <figure>).
  const present = (Object.keys(KIND_LABEL) as SweepKind[]).filter((k) =>
    rows.some((r) => r.kind === k)
  );
  const color = Object.fromEntries(present.map((k, i) => [KIND_LABEL[k], PALETTE[i]]));
  return plotToSvg({
    width: opts.width ?? 640,
    height: opts.height ?? 400,
    marginLeft: 60,
    marginTop: opts.title ? 44 : 24,
    x: { type: "log", label: "L0 (active features per token)", grid: true },
    y: { label: "CE with replacement (nats)", grid: true, zero: false },
    color: { domain: Object.keys(color), range: Object.values(color) },
    marks: [
      ...(clean === undefined ? [] : [
        Plot.ruleY([clean], { strokeDasharray: "4,3" }),
        Plot.text([clean], {
          x: data[0]?.l0,
          y: (d: number) => d,
          text: () => "clean model",
          dy: -6,
          textAnchor: "start",
        }),
      ]),
      Plot.line(data, { x: "l0", y: "ceReplaced", stroke: "dictionary", z: "dictionary" }),
      Plot.dot(data, { x: "l0", y: "ceReplaced", fill: "dictionary", r: 4, title: tip }),
      ...present.map((k, i) =>
        Plot.text([`\u25cf ${KIND_LABEL[k]}`], {
          frameAnchor: "top-right",
          dx: -6,
          dy: 6 + 16 * i,
          fill: PALETTE[i],
          fontSize: 12,
        })
      ),
      ...(opts.title
        ? [Plot.text([opts.title], { frameAnchor: "top", dy: -30, fontWeight: "bold" })]
        : []),
    ],
  });
}

/** What {@linkcode writeSweepReport} records beside the rows. */
export interface SweepReportInfo {
  /** The command that produced the sweep. */
  command?: string;
  /** The layer swept, for the chart's title. */
  layer?: number;
  /** Held-out tokens each dictionary was evaluated on. */
  evalTokens?: number;
  [key: string]: unknown;
}

/**
 * Writes a sweep's report into a folder: `results.json` (the rows, the matched-L0 comparison
 * and `info`), `sweep.md` (the table) and `sweep.svg` (the chart). Returns the paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSweepReport } from "./sweep_results.ts";
 * const dir = await Deno.makeTempDir();
 * const paths = await writeSweepReport(dir, [{ kind: "transcoder", name: "t", l1: 0.001, l0: 20,
 *   ceReplaced: 4.95, ceClean: 4.9, ceZeroAblated: 5.1, ceScore: 0.75, kl: 0.02,
 *   explainedVariance: 0.8, deadFeatures: 3, liveFeatures: 2000 }], { command: "deno task sweep" });
 * const back = JSON.parse(await Deno.readTextFile(paths.json));
 * assert.equal(back.rows[0].l0, 20);
 * assert.match(await Deno.readTextFile(paths.markdown), /deno task sweep/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeSweepReport(
  dir: string,
  rows: readonly SweepRow[],
  info: SweepReportInfo = {},
): Promise<{ json: string; markdown: string; svg: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const paths = {
    json: `${dir}/results.json`,
    markdown: `${dir}/sweep.md`,
    svg: `${dir}/sweep.svg`,
  };
  const title = `Sparsity-fidelity sweep${info.layer === undefined ? "" : `, layer ${info.layer}`}`;
  const head = [
    `# ${title}`,
    "",
    ...(info.command ? ["Made with:", "", "```sh", info.command, "```", ""] : []),
    ...(info.evalTokens ? [`Evaluated on ${info.evalTokens} held-out tokens.`, ""] : []),
  ];
  await Deno.writeTextFile(
    paths.json,
    JSON.stringify({ info, rows, matchedL0: matchedL0(rows) }, null, 2) + "\n",
  );
  await Deno.writeTextFile(paths.markdown, head.join("\n") + "\n" + sweepMarkdown(rows));
  await Deno.writeTextFile(paths.svg, sweepChartSvg(rows, { title }) + "\n");
  return paths;
}

/**
 * The comparison's outcome, once every item is rated and the key is revealed: tallies per
 * dictionary (yes / maybe / no, and how many were context-free), the reference's numbers beside
 * them, a Markdown report (`results.md`) and a bar chart of the shares (an SVG string, Observable
 * Plot through lib/display/charts.ts).
 *
 * @module
 */
import * as Plot from "npm:@observablehq/plot@0.6.17";
import { plotToSvg } from "../display/charts.ts";
import { htmlTable } from "../display/format.ts";
import type { Rating } from "./ratings.ts";
import type { DictionaryLabel, KeyEntry } from "./sampling.ts";

/** One dictionary's counts. */
export interface Tally {
  yes: number;
  maybe: number;
  no: number;
  /** Rated context-free (whatever the yes/maybe/no answer). */
  contextFree: number;
  /** Items of the dictionary. */
  total: number;
}

/** One row of the results: a dictionary of this session, or one of the reference's. */
export interface TallyRow {
  /** "A", "B", or the reference's "transcoder" / "SAE". */
  label: string;
  /** What it is, e.g. `tiny:1 (transcoder, blocks.1.ln2.hook_normalized -> blocks.1.hook_mlp_out)`. */
  description: string;
  tally: Tally;
}

/**
 * The reference's blind comparison (interp-comparison.ipynb of Dunefsky, Chlenski and Nanda
 * 2024): Pythia-410M layer 15, 50 random live features of a transcoder and of an SAE, rated by
 * one of the authors.
 *
 * @example
 * ```ts
 * import { REFERENCE_TALLIES } from "./results.ts";
 * REFERENCE_TALLIES.map((r) => `${r.label} ${r.tally.yes}/${r.tally.maybe}/${r.tally.no}`); // ["transcoder 41/8/1", "SAE 38/8/4"]
 * ```
 */
export const REFERENCE_TALLIES: readonly TallyRow[] = [
  {
    label: "transcoder",
    description: "reference transcoder (Pythia-410M, layer 15)",
    tally: { yes: 41, maybe: 8, no: 1, contextFree: 6, total: 50 },
  },
  {
    label: "SAE",
    description: "reference SAE (Pythia-410M, layer 15)",
    tally: { yes: 38, maybe: 8, no: 4, contextFree: 16, total: 50 },
  },
];

/**
 * Counts the answers per dictionary through the key (one counted answer per item: the store's
 * last-wins `ratings()`).
 *
 * @example
 * ```ts
 * import { tallyRatings } from "./results.ts";
 * const key = [{ item: 0, dictionary: "A" as const, feature: 5 }, { item: 1, dictionary: "B" as const, feature: 9 }];
 * const t = "2025-01-01T00:00:00.000Z";
 * tallyRatings(key, [
 *   { item: 0, rating: "yes", contextFree: true, note: "", time: t },
 *   { item: 1, rating: "no", contextFree: false, note: "", time: t },
 * ]);
 * // { A: { yes: 1, maybe: 0, no: 0, contextFree: 1, total: 1 }, B: { yes: 0, maybe: 0, no: 1, contextFree: 0, total: 1 } }
 * ```
 */
export function tallyRatings(
  key: readonly KeyEntry[],
  ratings: readonly Rating[],
): Record<DictionaryLabel, Tally> {
  const empty = (): Tally => ({ yes: 0, maybe: 0, no: 0, contextFree: 0, total: 0 });
  const out = { A: empty(), B: empty() };
  for (const k of key) out[k.dictionary].total++;
  const seen = new Set<number>();
  for (const r of ratings) {
    if (seen.has(r.item)) throw new RangeError(`item ${r.item} is counted twice`);
    seen.add(r.item);
    const t = out[key[r.item].dictionary];
    t[r.rating]++;
    if (r.contextFree) t.contextFree++;
  }
  return out;
}

/** A count and its share of the total, e.g. `41 (82%)`. */
function countCell(count: number, total: number): string {
  return total > 0 ? `${count} (${Math.round((100 * count) / total)}%)` : `${count}`;
}

const COLUMNS = ["", "dictionary", "features", "yes", "maybe", "no", "context-free"];

function tallyCells(r: TallyRow): string[] {
  const t = r.tally;
  return [
    r.label,
    r.description,
    `${t.total}`,
    ...[t.yes, t.maybe, t.no, t.contextFree].map((c) => countCell(c, t.total)),
  ];
}

/** What the results show: this session's dictionaries, the key and the counted answers. */
export interface ComparisonOutcome {
  /** Rows A and B. */
  rows: readonly TallyRow[];
  key: readonly KeyEntry[];
  /** One counted answer per item. */
  ratings: readonly Rating[];
}

const KEY_COLUMNS = ["item", "dictionary", "feature", "interpretable", "context-free", "note"];

/** One row per item of the key (numbered from 1, as the page shows them) with its answer. */
function keyRows(outcome: ComparisonOutcome): string[][] {
  const byItem = new Map(outcome.ratings.map((r) => [r.item, r]));
  return outcome.key.map((k) => {
    const r = byItem.get(k.item);
    return [
      `${k.item + 1}`,
      k.dictionary,
      `${k.feature}`,
      r?.rating ?? "(not rated)",
      r?.contextFree ? "yes" : "",
      r?.note ?? "",
    ];
  });
}

/**
 * The tallies as a Markdown table, the reference's rows beside, and every item's answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REFERENCE_TALLIES, resultsMarkdown } from "./results.ts";
 * const md = resultsMarkdown({ rows: REFERENCE_TALLIES, key: [], ratings: [] });
 * assert.match(md, /\| transcoder \| reference transcoder \(Pythia-410M, layer 15\) \| 50 \| 41 \(82%\) \| 8 \(16%\) \| 1 \(2%\) \| 6 \(12%\) \|/);
 * ```
 */
export function resultsMarkdown(outcome: ComparisonOutcome): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
  const row = (cells: readonly string[]) => `| ${cells.map(cell).join(" | ")} |`;
  return [
    row(COLUMNS),
    `|${COLUMNS.map((_, j) => (j < 2 ? "---" : "---:")).join("|")}|`,
    ...outcome.rows.map((r) => row(tallyCells(r))),
    ...REFERENCE_TALLIES.map((r) => row(tallyCells(r))),
    "",
    "Every item in the order shown, with its dictionary and feature (the key):",
    "",
    row(KEY_COLUMNS),
    "|---:|---|---:|---|---|---|",
    ...keyRows(outcome).map(row),
  ].join("\n") + "\n";
}

/**
 * The tallies as an HTML table (the reference's rows beside), for the page's reveal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REFERENCE_TALLIES, tallyTableHtml } from "./results.ts";
 * assert.ok(tallyTableHtml(REFERENCE_TALLIES).includes(">41 (82%)</td>"));
 * ```
 */
export function tallyTableHtml(rows: readonly TallyRow[]): string {
  return htmlTable(COLUMNS, [...rows, ...REFERENCE_TALLIES].map(tallyCells), {
    align: COLUMNS.map((_, j) => (j < 2 ? "left" : "right")),
  });
}

/**
 * Every item's dictionary, feature and answer as an HTML table, for the page's reveal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyTableHtml } from "./results.ts";
 * const html = keyTableHtml({ rows: [], key: [{ item: 0, dictionary: "B", feature: 7 }], ratings: [
 *   { item: 0, rating: "maybe", contextFree: false, note: "<i>", time: "2025-01-01T00:00:00.000Z" },
 * ] });
 * assert.ok(html.includes(">maybe</td>") && html.includes("&lt;i&gt;"));
 * ```
 */
export function keyTableHtml(outcome: ComparisonOutcome): string {
  return htmlTable(KEY_COLUMNS, keyRows(outcome), {
    align: ["right", "left", "right", "left", "left", "left"],
  });
}

/**
 * A bar chart of the shares of yes / maybe / no / context-free answers for A, B and the
 * reference's transcoder and SAE (an SVG string).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REFERENCE_TALLIES, tallyChartSvg } from "./results.ts";
 * const svg = tallyChartSvg(REFERENCE_TALLIES);
 * assert.ok(svg.startsWith("<svg") && svg.includes("share of features"));
 * ```
 */
export function tallyChartSvg(rows: readonly TallyRow[]): string {
  const all = [...rows, ...REFERENCE_TALLIES.map((r) => ({ ...r, label: `ref. ${r.label}` }))];
  const categories = ["yes", "maybe", "no", "context-free"] as const;
  const data = all.flatMap((r) =>
    categories.map((c) => {
      const count = r.tally[c === "context-free" ? "contextFree" : c];
      return { who: r.label, category: c, share: r.tally.total ? count / r.tally.total : 0, count };
    })
  );
  const colors = ["#1f77b4", "#ff7f0e", "#9ecae1", "#fdd0a2"];
  return plotToSvg({
    width: 640,
    height: 320,
    marginTop: 30,
    marginLeft: 50,
    marginBottom: 60,
    fx: { label: null, domain: [...categories] },
    x: { label: null, domain: all.map((r) => r.label), tickRotate: -30 },
    y: { label: "share of features (%)", domain: [0, 100], grid: true, percent: true },
    color: { domain: all.map((r) => r.label), range: colors },
    marks: [
      Plot.barY(data, {
        fx: "category",
        x: "who",
        y: "share",
        fill: "who",
        title: (d: (typeof data)[number]) =>
          `${d.who}, ${d.category}: ${d.count} (${Math.round(d.share * 100)}%)`,
      }),
      Plot.ruleY([0]),
    ],
  });
}

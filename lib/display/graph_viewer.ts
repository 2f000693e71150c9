/**
 * An interactive attribution-graph viewer in one self-contained HTML document (all JavaScript
 * and CSS inline, no network, opens from disk), for graphs in circuit-tracer's JSON schema
 * (`{ metadata, qParams, nodes, links }`, as its `create_graph_files` writes them and
 * lib/attribution exports them; path graphs convert with `circuitGraphToViewer`,
 * lib/display/circuit_graph_viewer.ts):
 *
 * - `graphViewerHtml(graph)`: the page as a string; `writeGraphViewer(path, graph)` writes it;
 *   `showGraphViewer(graph)` shows it inline in a Deno Jupyter notebook (in an `<iframe srcdoc>`
 *   by default, or directly in the output `<div>`).
 * - The page draws the graph as an SVG: x = token position (only positions with a node get a
 *   column), y = layer with the embeddings at the bottom ("Emb") and the logits at the top
 *   ("Lgt"); nodes sharing a (layer, position) cell are laid out in a grid of slots as wide as
 *   their labels, so that no two labels overlap. Shapes and colours by node type, edges blue
 *   (positive) or red (negative), their width by their share of the target's input.
 * - Hover shows a node's details (and its top examples and logit effects when `details` are
 *   given); click selects a node and highlights its edges (Escape clears); Ctrl/Cmd-click or the
 *   details panel's button pins a node; pinned nodes can be grouped into labelled supernodes; a
 *   slider prunes by cumulative influence (smaller = more important) and a checkbox hides error
 *   nodes. The view state lives in the URL hash (a reload restores it) when the page is its own
 *   document, in memory otherwise (inside a notebook).
 *
 * @module
 */
import { dirname } from "node:path";
import { Displayable } from "./jupyter.ts";

/** The node types of circuit-tracer's JSON (`feature_type`). */
export type ViewerFeatureType =
  | "cross layer transcoder"
  | "mlp reconstruction error"
  | "embedding"
  | "logit";

/** One node of the graph JSON (circuit-tracer's `Node`). */
export interface ViewerNode {
  /** `"{l}_{f}_{p}"` (feature), `"{l}_-1_{p}"` (error), `"E_{tokId}_{p}"`, `"{L+1}_{vocabId}_{T-1}"`. */
  node_id: string;
  /** Cantor-paired (layer, feature) id; -1 for errors; the position for embeddings; the vocab id for logits. */
  feature: number;
  /** A layer number, "E" for embeddings, String(L+1) for logits. */
  layer: string;
  /** Token position. */
  ctx_idx: number;
  /**
   * The node type. Other strings are drawn as features, except that a type containing
   * "attention" is drawn as an attention head and one containing "error" as an error node
   * (what `circuitGraphToViewer` emits for path graphs).
   */
  feature_type: ViewerFeatureType | (string & Record<never, never>);
  /** The logit's probability (0 for other nodes). */
  token_prob: number;
  /** True only for the first (top) target logit. */
  is_target_logit: boolean;
  /** The id circuit-tracer's front end uses. */
  jsNodeId: string;
  /** A label ("" when none); logits: `Output "tok" (p=0.123)`. */
  clerp: string;
  /** Cumulative influence score (smaller = more important); null for logits. */
  influence: number | null;
  /** The feature's activation (null for other nodes). */
  activation: number | null;
  run_idx?: number;
  reverse_ctx_idx?: number;
}

/** One link of the graph JSON: the raw signed direct effect of `source` on `target`. */
export interface ViewerLink {
  source: string;
  target: string;
  weight: number;
}

/** The graph JSON's `metadata` (only `prompt_tokens` is needed to draw). */
export interface ViewerMetadata {
  slug?: string;
  scan?: string;
  transcoder_list?: readonly string[];
  /** Each token decoded separately, BOS included. */
  prompt_tokens: readonly string[];
  prompt?: string;
  /** The pruning threshold the graph was made with: the slider's maximum (1 when null). */
  node_threshold?: number | null;
  schema_version?: number;
}

/** Saved view state (`qParams`): read when the URL has none. */
export interface ViewerQParams {
  /** Pinned node ids (a list, or a comma-separated string as in circuit-tracer's URLs). */
  pinnedIds?: readonly string[] | string;
  /** Supernodes, each `[label, nodeId, ...]`. */
  supernodes?: readonly (readonly string[])[];
  linkType?: string;
  clickedId?: string;
  sg_pos?: string;
  /** The pruning slider's value (a number or its string). */
  pruningThreshold?: number | string;
}

/** A graph in circuit-tracer's JSON schema, as the viewer reads it. */
export interface ViewerGraph {
  metadata: ViewerMetadata;
  qParams?: ViewerQParams;
  nodes: readonly ViewerNode[];
  links: readonly ViewerLink[];
}

/** What the details panel shows for a node, when given (e.g. from feature dashboards). */
export interface ViewerNodeDetails {
  /** Top activating examples: tokens and one activation per token. */
  topExamples?: readonly { tokens: readonly string[]; acts: readonly number[] }[];
  /** Tokens the node promotes most, with their logit effect. */
  topLogits?: readonly (readonly [string, number])[];
  /** Tokens the node suppresses most. */
  bottomLogits?: readonly (readonly [string, number])[];
}

/** Options of `graphViewerHtml`, `writeGraphViewer` and `showGraphViewer`. */
export interface GraphViewerOptions {
  /** The page title (default: the slug, else "Attribution graph"). */
  title?: string;
  /** Details by node_id, shown on hover. */
  details?:
    | Readonly<Record<string, ViewerNodeDetails>>
    | ReadonlyMap<string, ViewerNodeDetails>;
  /** Longest node label in characters before it is cut with "…" (default 14). */
  maxLabelChars?: number;
  /**
   * Keep the view state in the URL hash (default true for a page, false inline in a notebook;
   * it is also off whenever the page is not its own http(s)/file document).
   */
  urlState?: boolean;
}

/** Options of `showGraphViewer`. */
export interface ShowGraphViewerOptions extends GraphViewerOptions {
  /** Height of the viewer in pixels (default 640). */
  height?: number;
  /**
   * "iframe" (default): the whole page in an `<iframe srcdoc>`, isolated from the notebook;
   * "inline": the viewer's elements directly in the output (ids suffixed, CSS scoped).
   */
  mode?: "iframe" | "inline";
}

interface ViewerConfig {
  title: string;
  maxLabelChars: number;
  urlState: boolean;
  height: string;
}

interface ViewerPayload {
  graph: ViewerGraph;
  details: Record<string, ViewerNodeDetails>;
  config: ViewerConfig;
}

/** JSON safe inside a `<script>` element: `<` (so `</script>` and `<!--`) and U+2028/9 escaped. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(
    /\u2029/g,
    "\\u2029",
  );
}

function escapeHtmlText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function detailsRecord(d: GraphViewerOptions["details"]): Record<string, ViewerNodeDetails> {
  if (!d) return {};
  if (d instanceof Map) return Object.fromEntries(d);
  return { ...(d as Readonly<Record<string, ViewerNodeDetails>>) };
}

function payloadOf(
  graph: ViewerGraph,
  opts: GraphViewerOptions,
  urlState: boolean,
  height: string,
): ViewerPayload {
  if (!graph || !Array.isArray(graph.nodes) || !Array.isArray(graph.links)) {
    throw new TypeError("graphViewerHtml: the graph needs `nodes` and `links` arrays");
  }
  const title = opts.title ?? (graph.metadata?.slug || "Attribution graph");
  return {
    graph: {
      metadata: graph.metadata ?? { prompt_tokens: [] },
      qParams: graph.qParams ?? {},
      nodes: graph.nodes,
      links: graph.links,
    },
    details: detailsRecord(opts.details),
    config: {
      title,
      maxLabelChars: Math.max(3, Math.trunc(opts.maxLabelChars ?? 14)),
      urlState,
      height,
    },
  };
}

/** The viewer's elements, style and scripts; `uid` suffixes every id ("" on its own page). */
function viewerFragment(payload: ViewerPayload, uid: string): string {
  const id = (name: string) => `${name}${uid}`;
  const title = escapeHtmlText(payload.config.title);
  return `<style>${VIEWER_CSS}</style>
<div class="tcgv" id="${id("tcgv")}" style="height:${payload.config.height}">
<div class="tcgv-bar">
<span class="tcgv-title" title="${title}">${title}</span>
<label class="tcgv-ctl">prune (influence ≤ <span id="${id("prune-value")}"></span>)
<input type="range" id="${id("prune-slider")}" min="0" max="1" step="any" value="1"></label>
<label class="tcgv-ctl"><input type="checkbox" id="${
    id("show-errors")
  }" checked> error nodes</label>
<span class="tcgv-ctl"><input type="text" id="${
    id("group-label")
  }" placeholder="supernode label" size="14">
<button type="button" id="${id("group-pinned")}">group pinned</button>
<button type="button" id="${id("clear-pinned")}">clear pinned</button>
<button type="button" id="${id("clear-selection")}" title="Escape">clear selection</button>
<button type="button" id="${
    id("copy-intervention")
  }" title="the featureIntervention call that ablates the pinned (else the selected) feature nodes">ablate pinned</button></span>
<span class="tcgv-counts" id="${id("counts")}"></span>
<span class="tcgv-legend" id="${id("legend")}"></span>
</div>
<div class="tcgv-main">
<div class="tcgv-graph" id="${id("graph")}"><svg xmlns="http://www.w3.org/2000/svg" id="${
    id("svg")
  }"></svg></div>
<div class="tcgv-side">
<div class="tcgv-details" id="${id("details")}"><p class="tcgv-hint">Hover a node for its details.
Click selects it and highlights its edges (Escape clears); Ctrl/Cmd-click pins it.</p></div>
<div class="tcgv-pins" id="${id("pins")}"></div>
<pre class="tcgv-intervention" id="${id("intervention")}"></pre>
</div>
</div>
<div class="tcgv-tooltip" id="${id("tooltip")}"></div>
</div>
<script type="application/json" id="${id("tcgv-data")}">${scriptJson(payload)}</script>
<script>(${VIEWER_JS})(${JSON.stringify(uid)});</script>`;
}

/**
 * The viewer as one self-contained HTML document (scripts and styles inline, the graph JSON in a
 * `<script type="application/json">`), to save and open from disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphViewerHtml, type ViewerGraph } from "./graph_viewer.ts";
 * const node = (node_id: string, layer: string, ctx_idx: number, feature_type: string, influence: number | null) => ({
 *   node_id, feature: 0, layer, ctx_idx, feature_type, token_prob: 0, is_target_logit: false,
 *   jsNodeId: node_id, clerp: "", influence, activation: null,
 * });
 * const graph: ViewerGraph = {
 *   metadata: { slug: "cat", prompt_tokens: ["<|endoftext|>", "The", " cat"], node_threshold: 0.8 },
 *   qParams: { pinnedIds: [], supernodes: [], clickedId: "" },
 *   nodes: [node("E_464_1", "E", 1, "embedding", 0.7), node("0_5_2", "0", 2, "cross layer transcoder", 0.3),
 *     node("5_3_2", "5", 2, "logit", null)],
 *   links: [{ source: "E_464_1", target: "0_5_2", weight: 1.5 }, { source: "0_5_2", target: "5_3_2", weight: -0.5 }],
 * };
 * const html = graphViewerHtml(graph, { title: "The cat </script>" });
 * html.startsWith("<!DOCTYPE html>"); // true
 * html.match(/<\/script>/g)?.length; // 2: the graph JSON (its "<" escaped) and the viewer's script
 * assert.ok(html.includes('<script type="application/json"'));
 * assert.ok(html.includes("<title>The cat &#60;/script&#62;</title>"));
 * assert.ok(!/<script[^>]+src=|<link|fetch\(/.test(html)); // nothing external
 * ```
 */
export function graphViewerHtml(graph: ViewerGraph, options: GraphViewerOptions = {}): string {
  const payload = payloadOf(graph, options, options.urlState ?? true, "100vh");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtmlText(payload.config.title)}</title>
<style>html,body{margin:0;padding:0;background:#fff}</style>
</head><body>
${viewerFragment(payload, "")}
</body></html>
`;
}

/**
 * Writes the viewer page (`graphViewerHtml`) to a file, creating its folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeGraphViewer } from "./graph_viewer.ts";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/graphs/empty.html`;
 * await writeGraphViewer(path, { metadata: { prompt_tokens: ["<|endoftext|>"] }, nodes: [], links: [] });
 * assert.ok((await Deno.readTextFile(path)).includes('id="prune-slider"')); // open it in a browser
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeGraphViewer(
  path: string,
  graph: ViewerGraph,
  options: GraphViewerOptions = {},
): Promise<void> {
  const html = graphViewerHtml(graph, options);
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, html);
}

function graphSummary(graph: ViewerGraph): string {
  const count = (f: (t: string) => boolean) =>
    graph.nodes.filter((n) => f(String(n.feature_type))).length;
  const errors = count((t) => t.includes("error"));
  const emb = count((t) => t === "embedding"), logits = count((t) => t === "logit");
  const features = graph.nodes.length - errors - emb - logits;
  const prompt = graph.metadata?.prompt ?? (graph.metadata?.prompt_tokens ?? []).join("");
  return `Attribution graph: ${graph.nodes.length} nodes (${features} features, ${errors} errors, ` +
    `${emb} embeddings, ${logits} logits), ${graph.links.length} links; prompt ${
      JSON.stringify(prompt)
    }`;
}

/**
 * The viewer for a Deno Jupyter notebook: a displayable whose HTML is the viewer (leave it as a
 * cell's value, or `await show(...)` it) and whose text summarises the graph. The view state is
 * kept in memory there (the notebook's URL is left alone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showGraphViewer } from "./graph_viewer.ts";
 * const graph = { metadata: { prompt_tokens: ["<|endoftext|>", "Hi"] }, nodes: [], links: [] };
 * const d = showGraphViewer(graph, { height: 480 });
 * d.text; // 'Attribution graph: 0 nodes (0 features, 0 errors, 0 embeddings, 0 logits), 0 links; prompt "<|endoftext|>Hi"'
 * assert.ok(d.html.startsWith("<iframe") && d.html.includes("srcdoc="));
 * const inline = showGraphViewer(graph, { mode: "inline" }); // no iframe: ids get a unique suffix
 * assert.ok(inline.html.includes('class="tcgv"') && !inline.html.includes('id="prune-slider"'));
 * ```
 */
export function showGraphViewer(
  graph: ViewerGraph,
  options: ShowGraphViewerOptions = {},
): Displayable {
  const height = Math.max(200, Math.trunc(options.height ?? 640));
  const text = graphSummary(graph);
  if (options.mode === "inline") {
    const uid = `-${crypto.randomUUID().slice(0, 8)}`;
    const payload = payloadOf(graph, options, options.urlState ?? false, `${height}px`);
    return new Displayable(`<div>${viewerFragment(payload, uid)}</div>`, text);
  }
  const page = graphViewerHtml(graph, { ...options, urlState: options.urlState ?? false });
  const srcdoc = page.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  return new Displayable(
    `<iframe srcdoc="${srcdoc}" sandbox="allow-scripts" title="attribution graph viewer" ` +
      `style="width:100%;height:${height}px;border:1px solid #ddd;background:#fff"></iframe>`,
    text,
  );
}

/** The viewer's style, scoped to `.tcgv`. */
const VIEWER_CSS = `
.tcgv{display:flex;flex-direction:column;box-sizing:border-box;font:13px/1.35 Arial,Helvetica,sans-serif;color:#222;background:#fff;position:relative;overflow:hidden}
.tcgv *{box-sizing:border-box}
.tcgv-bar{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px;padding:6px 10px;border-bottom:1px solid #ddd;background:#fafafa}
.tcgv-title{font-weight:bold;max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tcgv-ctl{display:inline-flex;align-items:center;gap:4px;white-space:nowrap}
.tcgv-ctl input[type=range]{width:150px}
.tcgv button{font:12px Arial,Helvetica,sans-serif;padding:2px 6px;cursor:pointer}
.tcgv-counts{color:#555}
.tcgv-intervention{font:11px/1.3 monospace;white-space:pre-wrap;margin:6px 0 0;color:#333}
.tcgv-intervention:empty{display:none}
.tcgv-legend{display:inline-flex;flex-wrap:wrap;gap:4px 10px;align-items:center;font-size:12px;color:#333}
.tcgv-legend span{display:inline-flex;align-items:center;gap:3px}
.tcgv-main{display:flex;flex:1;min-height:0}
.tcgv-graph{flex:1;overflow:auto;min-width:0;position:relative}
.tcgv-side{width:340px;flex:none;overflow:auto;border-left:1px solid #ddd;padding:6px 10px;font-size:12px}
.tcgv-details h3{margin:4px 0;font-size:14px;word-break:break-all}
.tcgv-details table{border-collapse:collapse;margin:4px 0}
.tcgv-details td{padding:1px 6px 1px 0;vertical-align:top}
.tcgv-details td:first-child{color:#666;white-space:nowrap}
.tcgv-details h4,.tcgv-pins h4{margin:8px 0 3px;font-size:12px}
.tcgv-hint{color:#666}
.tcgv-ex{margin:2px 0;line-height:1.6;word-break:break-all}
.tcgv-ex span{border-radius:2px;padding:0 1px}
.tcgv-conn{cursor:pointer;display:flex;justify-content:space-between;gap:8px}
.tcgv-conn:hover{background:#f0f0f0}
.tcgv-conn .w{font-variant-numeric:tabular-nums}
.tcgv-pos{color:#1d4ed8}.tcgv-neg{color:#b91c1c}
.tcgv-sn{display:flex;justify-content:space-between;align-items:center;gap:6px;margin:2px 0}
.tcgv-tooltip{position:fixed;display:none;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #999;border-radius:3px;padding:3px 6px;font-size:12px;max-width:360px;z-index:10;box-shadow:0 1px 4px rgba(0,0,0,.2)}
.tcgv svg{display:block;font-family:Arial,Helvetica,sans-serif}
.tcgv svg text{fill:#222}
.tcgv svg .axis{font-size:11px;fill:#444}
.tcgv svg .grid{stroke:#eee;stroke-width:1}
.tcgv svg .label{font-size:10px;pointer-events:none}
.tcgv svg .edge{fill:none;pointer-events:none}
.tcgv svg .edge.pos{stroke:#6f9fd8}
.tcgv svg .edge.neg{stroke:#e58a8a}
.tcgv svg.has-sel .edge{stroke-opacity:.035}
.tcgv svg.has-sel .edge.hl{stroke-opacity:.95}
.tcgv svg.has-sel .edge.hl.pos{stroke:#1d4ed8}
.tcgv svg.has-sel .edge.hl.neg{stroke:#b91c1c}
.tcgv svg .node{cursor:pointer}
.tcgv svg .node .hit{fill:transparent;stroke:none}
.tcgv svg .node:hover .hit{fill:rgba(0,0,0,.05)}
.tcgv svg .shape{stroke-width:1.2}
.tcgv svg .k-feature .shape{fill:#fcd9a0;stroke:#b45309}
.tcgv svg .k-attention .shape{fill:#c7d2fe;stroke:#4338ca}
.tcgv svg .k-error .shape{fill:#e5e7eb;stroke:#6b7280}
.tcgv svg .k-embedding .shape{fill:#bbf7d0;stroke:#15803d}
.tcgv svg .k-logit .shape{fill:#fbcfe8;stroke:#be185d}
.tcgv svg.has-sel .node{opacity:.35}
.tcgv svg.has-sel .node.nbr,.tcgv svg.has-sel .node.selected{opacity:1}
.tcgv svg .node.selected .shape{stroke:#000;stroke-width:2.5}
.tcgv svg .node.pinned .shape{stroke:#7c3aed;stroke-width:2.5}
.tcgv svg .node .pin-mark{display:none;fill:#7c3aed}
.tcgv svg .node.pinned .pin-mark{display:inline}
.tcgv svg .supernode{fill:none;stroke-width:1.5;stroke-dasharray:5 3;pointer-events:none}
.tcgv svg .supernode-label{font-size:11px;font-weight:bold;pointer-events:none}
`;

/**
 * The viewer's script: a function of the id suffix, run once on load. Written without template
 * literals (it lives in one) and without the closing-script sequence.
 */
const VIEWER_JS = String.raw`function (uid) {
  "use strict";
  var $ = function (name) { return document.getElementById(name + uid); };
  var root = $("tcgv");
  var payload = JSON.parse($("tcgv-data").textContent);
  var graph = payload.graph, details = payload.details || {}, cfg = payload.config || {};
  var meta = graph.metadata || {}, qp = graph.qParams || {};
  var tokens = meta.prompt_tokens || [];
  var svg = $("svg"), slider = $("prune-slider"), errBox = $("show-errors");
  var detailsEl = $("details"), pinsEl = $("pins"), tip = $("tooltip"), countsEl = $("counts");
  var KINDS = ["feature", "attention", "error", "embedding", "logit"];
  var KIND_NAMES = { feature: "feature", attention: "attention head", error: "error",
    embedding: "embedding", logit: "logit" };
  var SN_COLORS = ["#0d9488", "#c026d3", "#ea580c", "#2563eb", "#65a30d", "#db2777", "#7c3aed"];
  var SUB_H = 30, MIN_SLOT = 18, COL_PAD = 10, LEFT = 46, TOP = 22, ROW_PAD = 8;
  var LABEL_FONT = "10px Arial, Helvetica, sans-serif", AXIS_FONT = "11px Arial, Helvetica, sans-serif";

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function ws(s) { return String(s).replace(/\n/g, "\u23ce").replace(/\t/g, "\u2192").replace(/\r/g, "\u21b5"); }
  function cut(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function fmt(x, d) {
    if (x === null || x === undefined || x === "") return "\u2014";
    var v = Number(x);
    if (!isFinite(v)) return String(x);
    if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
    return v.toFixed(d === undefined ? 3 : d);
  }
  function kindOf(n) {
    var t = String(n.feature_type || "");
    if (t === "embedding") return "embedding";
    if (t === "logit") return "logit";
    if (t.indexOf("error") >= 0) return "error";
    if (t.indexOf("attention") >= 0) return "attention";
    return "feature";
  }
  function tokenAt(p) { return p >= 0 && p < tokens.length ? String(tokens[p]) : ""; }
  function featureIndex(n) {
    var m = /^-?\d+_(-?\d+)_-?\d+$/.exec(n.node_id);
    return m ? m[1] : String(n.feature);
  }
  function labelOf(n, kind) {
    var c = String(n.clerp || "");
    if (kind === "logit") {
      var m = /^Output "(.*)" \(p=/.exec(c);
      return ws(m ? m[1] : (c || String(n.feature)));
    }
    if (c) return ws(c);
    if (kind === "embedding") return ws(tokenAt(n.ctx_idx)) || "emb";
    if (kind === "error") return "err";
    return featureIndex(n);
  }

  // The graph, indexed.
  var nodes = [], byId = new Map();
  (graph.nodes || []).forEach(function (raw) {
    var id = String(raw.node_id);
    if (byId.has(id)) return;
    var kind = kindOf(raw), layerNum = parseInt(raw.layer, 10);
    var inf = raw.influence === null || raw.influence === undefined ? null : Number(raw.influence);
    var n = { id: id, raw: raw, kind: kind, pos: Number(raw.ctx_idx) || 0,
      layer: isNaN(layerNum) ? 0 : layerNum, influence: inf !== null && isFinite(inf) ? inf : null,
      label: cut(labelOf(raw, kind), cfg.maxLabelChars || 14), ins: [], outs: [], inAbs: 0, outAbs: 0 };
    n.row = kind === "embedding" ? "E" : kind === "logit" ? "L" : String(n.layer);
    nodes.push(n);
    byId.set(id, n);
  });
  var links = [];
  (graph.links || []).forEach(function (l) {
    var s = byId.get(String(l.source)), t = byId.get(String(l.target)), w = Number(l.weight);
    if (!s || !t || !isFinite(w)) return;
    var k = links.length;
    links.push({ s: s, t: t, w: w, pct: 0 });
    s.outs.push(k); t.ins.push(k);
    s.outAbs += Math.abs(w); t.inAbs += Math.abs(w);
  });
  links.forEach(function (l) { l.pct = l.t.inAbs > 0 ? l.w / l.t.inAbs : 0; });
  var maxLayer = 0, minLayer = 0;
  nodes.forEach(function (n) {
    if (n.kind !== "logit" && n.kind !== "embedding") {
      maxLayer = Math.max(maxLayer, n.layer); minLayer = Math.min(minLayer, n.layer);
    }
  });
  var rows = ["L"];
  for (var l = maxLayer; l >= minLayer; l--) rows.push(String(l));
  rows.push("E");
  var maxInf = 0;
  nodes.forEach(function (n) { if (n.influence !== null) maxInf = Math.max(maxInf, n.influence); });
  var th0 = meta.node_threshold === null || meta.node_threshold === undefined ? 1 : Number(meta.node_threshold);
  var sliderMax = Math.max(isFinite(th0) && th0 > 0 ? th0 : 1, maxInf);

  // View state: defaults < qParams < URL query < URL hash.
  var state = { pinned: new Set(), supernodes: [], clickedId: "", threshold: sliderMax, showErrors: true };
  function splitIds(v) {
    if (Array.isArray(v)) return v.map(String);
    v = String(v || "");
    if (!v) return [];
    if (v.charAt(0) === "[") { try { return JSON.parse(v).map(String); } catch (e) { return []; } }
    return v.split(",");
  }
  function applyParams(get) {
    var v = get("pinnedIds");
    if (v !== null && v !== undefined) state.pinned = new Set(splitIds(v).filter(function (id) { return byId.has(id); }));
    v = get("supernodes");
    if (v !== null && v !== undefined) {
      var sn = v;
      if (typeof v === "string") { try { sn = v ? JSON.parse(v) : []; } catch (e) { sn = []; } }
      state.supernodes = Array.isArray(sn) ? sn.filter(function (g) { return Array.isArray(g) && g.length > 1; })
        .map(function (g) { return g.map(String); }) : [];
    }
    v = get("clickedId");
    if (v !== null && v !== undefined) state.clickedId = byId.has(String(v)) ? String(v) : "";
    v = get("pruningThreshold");
    if (v !== null && v !== undefined && v !== "" && isFinite(Number(v))) {
      state.threshold = Math.min(sliderMax, Math.max(0, Number(v)));
    }
    v = get("showErrors");
    if (v !== null && v !== undefined) state.showErrors = !(v === "0" || v === false || v === "false");
  }
  applyParams(function (k) { return qp[k]; });
  var urlMode = cfg.urlState !== false;
  try {
    urlMode = urlMode && /^(https?|file):$/.test(location.protocol) && typeof history.replaceState === "function";
  } catch (e) { urlMode = false; }
  if (urlMode) {
    try {
      var q = new URLSearchParams(location.search), h = new URLSearchParams(location.hash.replace(/^#/, ""));
      var src = h.has("pinnedIds") ? h : q;
      applyParams(function (k) { return src.get(k); });
    } catch (e) { /* keep the defaults */ }
  }
  var saveTimer = 0;
  function saveNow() {
    saveTimer = 0;
    if (!urlMode) return;
    var ids = Array.from(state.pinned);
    var p = new URLSearchParams();
    p.set("pinnedIds", ids.some(function (id) { return id.indexOf(",") >= 0; }) ? JSON.stringify(ids) : ids.join(","));
    p.set("supernodes", JSON.stringify(state.supernodes));
    p.set("clickedId", state.clickedId);
    p.set("pruningThreshold", String(state.threshold));
    p.set("showErrors", state.showErrors ? "1" : "0");
    try {
      history.replaceState(history.state, "", location.href.split("#")[0] + "#" + p.toString());
    } catch (e) {
      urlMode = false; // e.g. a sandboxed frame: the state stays in memory
    }
  }
  function save(later) {
    if (!urlMode) return;
    if (saveTimer) clearTimeout(saveTimer);
    if (later) saveTimer = setTimeout(saveNow, 150); else saveNow();
  }
  window.addEventListener("pagehide", function () { if (saveTimer) { clearTimeout(saveTimer); saveNow(); } });

  // Visibility and layout.
  function isVisible(n) {
    if (n.kind === "error" && !state.showErrors) return false;
    if (n.kind === "embedding" || n.kind === "logit" || state.pinned.has(n.id)) return true;
    return n.influence === null || n.influence <= state.threshold;
  }
  var measureCtx = null;
  function textWidth(s, font) {
    if (!measureCtx) {
      var c = document.createElement("canvas");
      measureCtx = c.getContext && c.getContext("2d");
    }
    if (!measureCtx) return String(s).length * 6.5;
    measureCtx.font = font;
    return measureCtx.measureText(s).width;
  }
  var KIND_ORDER = { logit: 0, feature: 1, attention: 2, embedding: 3, error: 4 };
  function cellOrder(a, b) {
    var k = KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
    if (k) return k;
    if (a.kind === "logit") return (Number(b.raw.token_prob) || 0) - (Number(a.raw.token_prob) || 0);
    var ia = a.influence === null ? -1 : a.influence, ib = b.influence === null ? -1 : b.influence;
    return ia - ib || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }
  function layout(vis) {
    var posList = Array.from(new Set(vis.map(function (n) { return n.pos; }))).sort(function (a, b) { return a - b; });
    var cells = new Map();
    vis.forEach(function (n) {
      var key = n.row + "|" + n.pos;
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(n);
    });
    cells.forEach(function (c) { c.sort(cellOrder); });
    var cols = posList.map(function (p) {
      var maxCount = 0, maxW = 0;
      rows.forEach(function (r) {
        var c = cells.get(r + "|" + p);
        if (c) maxCount = Math.max(maxCount, c.length);
      });
      vis.forEach(function (n) {
        if (n.pos !== p) return;
        if (n.labelW === undefined) n.labelW = Math.ceil(textWidth(n.label, LABEL_FONT));
        maxW = Math.max(maxW, n.labelW);
      });
      var slots = maxCount <= 6 ? Math.max(1, maxCount) : Math.max(6, Math.ceil(Math.sqrt(2 * maxCount)));
      var slotW = Math.max(MIN_SLOT, maxW + 6);
      var tok = cut(ws(tokenAt(p)), 16);
      return { pos: p, slots: slots, slotW: slotW, w: Math.max(30, slots * slotW) + COL_PAD, x: 0, tok: tok,
        tokW: textWidth(tok, AXIS_FONT) };
    });
    // Small graphs spread out to fill the panel (columns up to 160 px, rows up to 80 px).
    var panel = $("graph"), availW = panel ? panel.clientWidth : 0, availH = panel ? panel.clientHeight : 0;
    var minColW = cols.length ? Math.min(160, Math.max(0, (availW - LEFT - 24) / cols.length)) : 0;
    cols.forEach(function (c) { c.w = Math.max(c.w, minColW); });
    var x = LEFT;
    cols.forEach(function (c) { c.x = x; x += c.w; });
    var maxTokW = 0;
    cols.forEach(function (c) { maxTokW = Math.max(maxTokW, c.tokW); });
    var axisH = 16 + Math.ceil(maxTokW * 0.6) + 14;
    var minRowH = Math.min(80, Math.max(0, (availH - TOP - axisH - 4) / rows.length));
    var rowInfo = rows.map(function (r) {
      var sub = 1;
      cols.forEach(function (c) {
        var cell = cells.get(r + "|" + c.pos);
        if (cell) sub = Math.max(sub, Math.ceil(cell.length / c.slots));
      });
      var h = Math.max(sub * SUB_H + ROW_PAD, minRowH);
      return { key: r, h: h, y: 0, inner: (h - sub * SUB_H) / 2 };
    });
    var y = TOP;
    rowInfo.forEach(function (r) { r.y = y; y += r.h; });
    var plotBottom = y;
    var height = plotBottom + axisH;
    var rowByKey = new Map(rowInfo.map(function (r) { return [r.key, r]; }));
    cols.forEach(function (c) {
      rows.forEach(function (r) {
        var cell = cells.get(r + "|" + c.pos);
        if (!cell) return;
        var ri = rowByKey.get(r);
        cell.forEach(function (n, i) {
          var sub = Math.floor(i / c.slots), j = i % c.slots;
          var inRow = Math.min(c.slots, cell.length - sub * c.slots);
          n.slotW = c.slotW;
          n.x = c.x + COL_PAD / 2 + (c.w - COL_PAD - inRow * c.slotW) / 2 + (j + 0.5) * c.slotW;
          n.y = ri.y + ri.inner + sub * SUB_H + 8;
        });
      });
    });
    return { cols: cols, rows: rowInfo, width: x + 16, height: height, plotBottom: plotBottom };
  }

  function shapeSvg(kind) {
    if (kind === "feature") return '<circle class="shape" r="5.5"></circle>';
    if (kind === "attention") return '<path class="shape" d="M0,-6L6,5L-6,5Z"></path>';
    if (kind === "error") return '<rect class="shape" x="-5" y="-5" width="10" height="10"></rect>';
    if (kind === "embedding") return '<rect class="shape" x="-6" y="-5" width="12" height="10" rx="3"></rect>';
    return '<path class="shape" d="M0,-6.5L6.5,0L0,6.5L-6.5,0Z"></path>';
  }

  var visNodes = [], visLinks = [], visLinkSet = new Set(), nodeEls = new Map(), edgeEls = [], visSig = "", lastLayout = null;
  function visibleSignature(vis) { return vis.map(function (n) { return n.id; }).join("\u0001"); }

  function draw() {
    visNodes = nodes.filter(isVisible);
    var visSet = new Set(visNodes);
    visSig = visibleSignature(visNodes);
    visLinks = [];
    links.forEach(function (l, k) { if (visSet.has(l.s) && visSet.has(l.t)) visLinks.push(k); });
    visLinkSet = new Set(visLinks);
    var L = layout(visNodes);
    lastLayout = L;
    var parts = [];
    parts.push('<rect x="0" y="0" width="' + L.width + '" height="' + L.height + '" fill="#fff" class="bg"></rect>');
    parts.push('<g class="grid-g">');
    L.rows.forEach(function (r, i) {
      if (i > 0) parts.push('<line class="grid" x1="' + (LEFT - 4) + '" x2="' + (L.width - 8) + '" y1="' + r.y + '" y2="' + r.y + '"></line>');
      var name = r.key === "L" ? "Lgt" : r.key === "E" ? "Emb" : r.key;
      parts.push('<text class="axis row-label" x="' + (LEFT - 8) + '" y="' + (r.y + r.inner + 12) + '" text-anchor="end">' + esc(name) + '</text>');
    });
    L.cols.forEach(function (c, i) {
      if (i > 0) parts.push('<line class="grid" x1="' + c.x + '" x2="' + c.x + '" y1="' + TOP + '" y2="' + L.plotBottom + '"></line>');
      var cx = c.x + c.w / 2, ty = L.plotBottom + 14;
      parts.push('<text class="axis token-label" text-anchor="end" transform="translate(' + cx + ',' + ty + ') rotate(-35)"><title>position ' + c.pos + ': ' + esc(JSON.stringify(tokenAt(c.pos))) + '</title>' + esc(c.tok) + '</text>');
    });
    parts.push('</g><g class="edges">');
    // Dense graphs get fainter edges, so that the strong ones stand out.
    var dens = Math.max(0.25, Math.min(1, Math.sqrt(300 / Math.max(1, visLinks.length))));
    var order = visLinks.slice().sort(function (a, b) { return Math.abs(links[a].pct) - Math.abs(links[b].pct); });
    order.forEach(function (k) {
      var e = links[k], a = Math.sqrt(Math.min(1, Math.abs(e.pct)));
      parts.push('<line class="edge ' + (e.w >= 0 ? "pos" : "neg") + '" data-k="' + k + '" data-source="' + esc(e.s.id) +
        '" data-target="' + esc(e.t.id) + '" x1="' + e.s.x.toFixed(1) + '" y1="' + e.s.y.toFixed(1) + '" x2="' + e.t.x.toFixed(1) +
        '" y2="' + e.t.y.toFixed(1) + '" stroke-width="' + (0.4 + 3.2 * a).toFixed(2) + '" stroke-opacity="' + ((0.12 + 0.63 * a) * dens).toFixed(3) + '"></line>');
    });
    parts.push('</g><g class="supernodes"></g><g class="nodes">');
    visNodes.forEach(function (n) {
      var hw = (n.slotW - 2) / 2;
      parts.push('<g class="node k-' + n.kind + '" data-node-id="' + esc(n.id) + '" transform="translate(' + n.x.toFixed(1) + ',' + n.y.toFixed(1) + ')">' +
        '<rect class="hit" x="' + (-hw).toFixed(1) + '" y="-8" width="' + (2 * hw).toFixed(1) + '" height="' + (SUB_H - 2) + '"></rect>' +
        shapeSvg(n.kind) + '<circle class="pin-mark" cx="6" cy="-6" r="2.5"></circle>' +
        '<text class="label" y="17" text-anchor="middle">' + esc(n.label) + '</text></g>');
    });
    parts.push('</g>');
    svg.setAttribute("width", L.width);
    svg.setAttribute("height", L.height);
    svg.setAttribute("viewBox", "0 0 " + L.width + " " + L.height);
    svg.innerHTML = parts.join("");
    nodeEls = new Map();
    svg.querySelectorAll(".node").forEach(function (el) { nodeEls.set(el.getAttribute("data-node-id"), el); });
    edgeEls = [];
    svg.querySelectorAll(".edge").forEach(function (el) { edgeEls[Number(el.getAttribute("data-k"))] = el; });
    drawSupernodes();
    decorate();
    countsEl.textContent = visNodes.length + " nodes, " + visLinks.length + " edges";
    root.setAttribute("data-drawn", String(Number(root.getAttribute("data-drawn") || 0) + 1));
  }

  function drawSupernodes() {
    var g = svg.querySelector(".supernodes");
    if (!g) return;
    var parts = [];
    state.supernodes.forEach(function (sn, i) {
      var members = sn.slice(1).map(function (id) { return byId.get(id); }).filter(function (n) { return n && nodeEls.has(n.id); });
      if (!members.length) return;
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      members.forEach(function (n) {
        x0 = Math.min(x0, n.x - n.slotW / 2); x1 = Math.max(x1, n.x + n.slotW / 2);
        y0 = Math.min(y0, n.y - 10); y1 = Math.max(y1, n.y + SUB_H - 8);
      });
      var color = SN_COLORS[i % SN_COLORS.length];
      parts.push('<rect class="supernode" data-index="' + i + '" x="' + x0.toFixed(1) + '" y="' + y0.toFixed(1) + '" width="' + (x1 - x0).toFixed(1) +
        '" height="' + (y1 - y0).toFixed(1) + '" rx="6" stroke="' + color + '"></rect>');
      parts.push('<text class="supernode-label" x="' + (x0 + 2).toFixed(1) + '" y="' + (y0 - 3).toFixed(1) + '" fill="' + color + '" style="fill:' + color + '">' + esc(sn[0]) + '</text>');
    });
    g.innerHTML = parts.join("");
  }

  var hlEdges = [], hlNodes = [];
  function decorate() {
    nodeEls.forEach(function (el, id) { el.classList.toggle("pinned", state.pinned.has(id)); });
    hlEdges.forEach(function (el) { el.classList.remove("hl"); });
    hlNodes.forEach(function (el) { el.classList.remove("nbr"); el.classList.remove("selected"); });
    hlEdges = []; hlNodes = [];
    var sel = state.clickedId ? byId.get(state.clickedId) : null;
    var selEl = sel ? nodeEls.get(sel.id) : null;
    svg.classList.toggle("has-sel", !!selEl);
    if (selEl) {
      selEl.classList.add("selected"); hlNodes.push(selEl);
      sel.ins.concat(sel.outs).forEach(function (k) {
        var el = edgeEls[k];
        if (!el) return;
        el.classList.add("hl"); hlEdges.push(el);
        var other = links[k].s === sel ? links[k].t : links[k].s, oel = nodeEls.get(other.id);
        if (oel) { oel.classList.add("nbr"); hlNodes.push(oel); }
      });
    }
    slider.value = String(state.threshold);
    $("prune-value").textContent = fmt(state.threshold, 2);
    errBox.checked = state.showErrors;
    renderPins();
  }

  var pending = 0;
  function refresh(later) {
    if (later) {
      if (!pending) pending = requestAnimationFrame(function () { pending = 0; refresh(false); });
      return;
    }
    if (pending) { cancelAnimationFrame(pending); pending = 0; }
    var sig = visibleSignature(nodes.filter(isVisible));
    if (sig !== visSig) draw(); else { drawSupernodes(); decorate(); }
    if (shownId) renderDetails(byId.get(shownId));
  }

  // Details, tooltip, pins.
  function share(n, list, total) {
    var drawn = 0, k = 0;
    list.forEach(function (i) { if (visLinkSet.has(i)) { drawn += Math.abs(links[i].w); k++; } });
    return { frac: total > 0 ? drawn / total : 0, drawn: k, all: list.length };
  }
  function shareText(s) {
    return s.all ? (100 * s.frac).toFixed(1) + "% of |w| (" + s.drawn + " of " + s.all + " links drawn)" : "no links";
  }
  function connList(n, list, dir) {
    var sorted = list.slice().sort(function (a, b) { return Math.abs(links[b].w) - Math.abs(links[a].w); }).slice(0, 8);
    if (!sorted.length) return "";
    return "<h4>" + (dir === "in" ? "Inputs" : "Outputs") + " (top " + sorted.length + " of " + list.length + ")</h4>" +
      sorted.map(function (k) {
        var e = links[k], o = dir === "in" ? e.s : e.t;
        return '<div class="tcgv-conn" data-goto="' + esc(o.id) + '"><span>' + esc(o.label) + ' <span class="tcgv-hint">' + esc(o.id) + '</span></span>' +
          '<span class="w ' + (e.w >= 0 ? "tcgv-pos" : "tcgv-neg") + '">' + fmt(e.w, 3) + " (" + (100 * e.pct).toFixed(0) + "%)</span></div>";
      }).join("");
  }
  function logitList(title, list) {
    if (!list || !list.length) return "";
    return "<h4>" + title + "</h4><div>" + list.slice(0, 10).map(function (p) {
      return '<span class="' + (Number(p[1]) >= 0 ? "tcgv-pos" : "tcgv-neg") + '">' + esc(JSON.stringify(ws(p[0]))) + " " + fmt(p[1], 2) + "</span>";
    }).join(", ") + "</div>";
  }
  function examplesHtml(ex) {
    if (!ex || !ex.length) return "";
    var max = 0;
    ex.forEach(function (e) { (e.acts || []).forEach(function (a) { max = Math.max(max, Number(a) || 0); }); });
    return "<h4>Top examples</h4>" + ex.slice(0, 10).map(function (e) {
      return '<div class="tcgv-ex">' + (e.tokens || []).map(function (t, i) {
        var a = Number((e.acts || [])[i]) || 0, f = max > 0 ? Math.max(0, a) / max : 0;
        return '<span style="background:rgba(255,140,0,' + f.toFixed(2) + ')" title="' + esc(fmt(a, 3)) + '">' + esc(ws(t)) + "</span>";
      }).join("") + "</div>";
    }).join("");
  }
  function infoRows(n) {
    var r = n.raw, rowsHtml = [];
    function row(k, v) { rowsHtml.push("<tr><td>" + esc(k) + "</td><td>" + v + "</td></tr>"); }
    row("id", esc(n.id));
    row("type", esc(KIND_NAMES[n.kind]) + (r.feature_type ? ' <span class="tcgv-hint">(' + esc(r.feature_type) + ")</span>" : ""));
    if (n.kind === "feature" || n.kind === "attention") row("feature", esc(featureIndex(r)));
    row("layer", esc(n.kind === "embedding" ? "Emb" : n.kind === "logit" ? "Lgt (" + r.layer + ")" : r.layer));
    row("position", esc(n.pos + " " + JSON.stringify(ws(tokenAt(n.pos)))));
    if (n.kind === "logit") row("probability", fmt(r.token_prob, 4));
    row("activation", fmt(r.activation, 3));
    row("influence", fmt(n.influence, 4));
    if (r.clerp) row("label", esc(r.clerp));
    row("input share", esc(shareText(share(n, n.ins, n.inAbs))));
    row("output share", esc(shareText(share(n, n.outs, n.outAbs))));
    return "<table>" + rowsHtml.join("") + "</table>";
  }
  var shownId = "";
  function renderDetails(n) {
    if (!n) return;
    shownId = n.id;
    var d = details[n.id] || {};
    var pinned = state.pinned.has(n.id);
    detailsEl.innerHTML = "<h3>" + esc(n.label) + "</h3>" + infoRows(n) +
      '<button type="button" id="pin-button' + esc(uid) + '" data-id="' + esc(n.id) + '">' + (pinned ? "unpin" : "pin") + "</button> " +
      '<button type="button" class="tcgv-select" data-id="' + esc(n.id) + '">' + (state.clickedId === n.id ? "deselect" : "select") + "</button>" +
      examplesHtml(d.topExamples) + logitList("Top logits", d.topLogits) + logitList("Bottom logits", d.bottomLogits) +
      connList(n, n.ins, "in") + connList(n, n.outs, "out");
  }
  function showTip(n, ev) {
    var r = n.raw;
    tip.innerHTML = "<b>" + esc(n.label) + "</b> " + esc(n.id) + "<br>" + esc(KIND_NAMES[n.kind]) + ", layer " +
      esc(n.kind === "embedding" ? "Emb" : n.kind === "logit" ? "Lgt" : r.layer) + ", pos " + n.pos + " " + esc(JSON.stringify(ws(tokenAt(n.pos)))) +
      "<br>act " + fmt(r.activation, 3) + ", influence " + fmt(n.influence, 3);
    tip.style.display = "block";
    moveTip(ev);
  }
  function moveTip(ev) {
    if (!ev || tip.style.display !== "block") return;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 4) x = Math.max(4, ev.clientX - w - 10);
    if (y + h > window.innerHeight - 4) y = Math.max(4, ev.clientY - h - 10);
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }
  function renderPins() {
    var ids = Array.from(state.pinned);
    var html = "<h4>Pinned (" + ids.length + ")</h4>";
    html += ids.length ? "<div>" + ids.map(function (id) {
      var n = byId.get(id);
      return '<span class="tcgv-conn" data-goto="' + esc(id) + '">' + esc(n ? n.label : id) + ' <span class="tcgv-hint">' + esc(id) + "</span></span>";
    }).join("") + "</div>" : '<div class="tcgv-hint">Ctrl/Cmd-click a node, or use the pin button, to pin it.</div>';
    html += "<h4>Supernodes (" + state.supernodes.length + ")</h4>";
    html += state.supernodes.map(function (sn, i) {
      return '<div class="tcgv-sn"><span style="color:' + SN_COLORS[i % SN_COLORS.length] + '"><b>' + esc(sn[0]) + "</b> (" + (sn.length - 1) +
        ' nodes)</span><button type="button" class="ungroup" data-index="' + i + '">ungroup</button></div>';
    }).join("");
    pinsEl.innerHTML = html;
  }

  // Actions.
  function select(id) {
    state.clickedId = state.clickedId === id ? "" : id;
    save(false);
    decorate();
    if (id) renderDetails(byId.get(id));
  }
  function clearSelection() {
    if (!state.clickedId) return;
    state.clickedId = "";
    save(false);
    decorate();
  }
  function togglePin(id) {
    if (state.pinned.has(id)) state.pinned.delete(id); else state.pinned.add(id);
    save(false);
    refresh(false);
  }
  function groupPinned() {
    var inGroup = new Set();
    state.supernodes.forEach(function (sn) { sn.slice(1).forEach(function (id) { inGroup.add(id); }); });
    var ids = Array.from(state.pinned).filter(function (id) { return !inGroup.has(id); });
    if (!ids.length) return;
    var input = $("group-label"), label = (input.value || "").trim();
    if (!label) {
      var first = byId.get(ids[0]);
      label = (first && first.raw.clerp) ? String(first.raw.clerp) : "supernode " + (state.supernodes.length + 1);
    }
    state.supernodes.push([label].concat(ids));
    input.value = "";
    save(false);
    drawSupernodes();
    decorate();
  }
  function ungroup(i) {
    state.supernodes.splice(i, 1);
    save(false);
    drawSupernodes();
    decorate();
  }

  svg.addEventListener("mouseover", function (ev) {
    var el = ev.target.closest ? ev.target.closest(".node") : null;
    if (!el) return;
    var n = byId.get(el.getAttribute("data-node-id"));
    if (!n) return;
    renderDetails(n);
    showTip(n, ev);
  });
  svg.addEventListener("mousemove", moveTip);
  svg.addEventListener("mouseout", function (ev) {
    var el = ev.target.closest ? ev.target.closest(".node") : null;
    if (el && !(ev.relatedTarget && el.contains(ev.relatedTarget))) tip.style.display = "none";
  });
  svg.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest(".node") : null;
    if (!el) { clearSelection(); return; }
    var id = el.getAttribute("data-node-id");
    if (ev.ctrlKey || ev.metaKey) togglePin(id); else select(id);
  });
  root.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!t.closest) return;
    var go = t.closest("[data-goto]");
    if (go) { var id = go.getAttribute("data-goto"); if (state.clickedId !== id) select(id); renderDetails(byId.get(id)); return; }
    if (t.id === "pin-button" + uid) { togglePin(t.getAttribute("data-id")); return; }
    if (t.classList.contains("tcgv-select")) { select(t.getAttribute("data-id")); renderDetails(byId.get(t.getAttribute("data-id"))); return; }
    if (t.classList.contains("ungroup")) { ungroup(Number(t.getAttribute("data-index"))); }
  });
  $("group-pinned").addEventListener("click", groupPinned);
  // The intervention that ablates the pinned (else the selected) feature nodes, as code to copy.
  function featureRef(n) {
    var m = /^(\d+)_(\d+)_(\d+)$/.exec(n.id), b = /\[(\d+)\]/.exec(n.id);
    if (m) return { layer: Number(m[1]), feature: Number(m[2]), pos: Number(m[3]) };
    return b ? { layer: n.layer, feature: Number(b[1]), pos: n.pos } : null;
  }
  $("copy-intervention").addEventListener("click", function () {
    var ids = state.pinned.size ? Array.from(state.pinned) : state.clickedId ? [state.clickedId] : [];
    var refs = ids.map(function (id) { return byId.get(id); })
      .filter(function (n) { return n && n.kind === "feature"; }).map(featureRef)
      .filter(function (r) { return r !== null; });
    var text = refs.length
      ? "await featureIntervention(model, transcoders, tokens, [\n" + refs.map(function (r) {
        return "  { layer: " + r.layer + ", pos: " + r.pos + ", feature: " + r.feature + ", value: 0 },";
      }).join("\n") + "\n]);"
      : "Pin (Ctrl/Cmd-click) or select feature nodes first.";
    $("intervention").textContent = text;
    if (refs.length && navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
  });
  $("clear-pinned").addEventListener("click", function () { state.pinned = new Set(); save(false); refresh(false); });
  $("clear-selection").addEventListener("click", clearSelection);
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" || ev.key === "Esc") clearSelection();
  });
  slider.min = "0";
  slider.max = String(sliderMax);
  slider.value = String(state.threshold);
  slider.addEventListener("input", function () {
    state.threshold = Math.min(sliderMax, Math.max(0, Number(slider.value)));
    // A range input rounds its value: at the right end, keep everything.
    if (sliderMax - state.threshold < 1e-9) state.threshold = sliderMax;
    $("prune-value").textContent = fmt(state.threshold, 2);
    save(true);
    refresh(true);
  });
  errBox.addEventListener("change", function () {
    state.showErrors = errBox.checked;
    save(false);
    refresh(false);
  });

  // The legend.
  var present = new Set(nodes.map(function (n) { return n.kind; }));
  $("legend").innerHTML = KINDS.filter(function (k) { return k !== "attention" || present.has(k); }).map(function (k) {
    return '<span><svg width="16" height="16" viewBox="-8 -8 16 16" class="legend-shape"><g class="k-' + k + '">' + shapeSvg(k) + "</g></svg>" + esc(KIND_NAMES[k]) + "</span>";
  }).join("") +
    '<span><svg width="24" height="10" class="legend-shape"><line x1="0" y1="5" x2="24" y2="5" stroke="#1d4ed8" stroke-width="3"></line></svg>positive</span>' +
    '<span><svg width="24" height="10" class="legend-shape"><line x1="0" y1="5" x2="24" y2="5" stroke="#b91c1c" stroke-width="3"></line></svg>negative</span>' +
    '<span class="tcgv-hint">width: share of target input</span>';

  var lastSize = "";
  window.addEventListener("resize", function () {
    var panel = $("graph"), size = panel.clientWidth + "x" + panel.clientHeight;
    if (size !== lastSize) { lastSize = size; visSig = ""; refresh(true); }
  });
  draw();
  lastSize = $("graph").clientWidth + "x" + $("graph").clientHeight;
  if (state.clickedId) renderDetails(byId.get(state.clickedId));
  root.setAttribute("data-ready", "1");
}`;

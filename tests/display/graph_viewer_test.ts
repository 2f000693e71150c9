/**
 * The interactive attribution-graph viewer (lib/display/graph_viewer.ts), in a real headless
 * Chromium (tests/helpers/browser.ts): loading, counts, hover, click, pruning, error nodes, pins
 * kept in the URL, supernodes, non-overlapping labels, path graphs, notebook embedding, a large
 * graph. Without Chromium it runs static checks of the page and says so on stderr.
 *
 * Set `TC_VIEWER_SCREENSHOTS=/some/dir` to save screenshots of two graphs there.
 */
import { Rng } from "../../lib/tensor/random.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseHTML } from "linkedom";
import type { Browser, Page } from "puppeteer-core";
import { CircuitContext } from "../../lib/circuits/context.ts";
import { addErrorNodes, pathsToGraph } from "../../lib/circuits/graph.ts";
import { greedyTopPaths, transcoderFeatureVector } from "../../lib/circuits/paths.ts";
import { circuitGraphToViewer } from "../../lib/display/circuit_graph_viewer.ts";
import {
  graphViewerHtml,
  showGraphViewer,
  type ViewerGraph,
  type ViewerNode,
  type ViewerNodeDetails,
  writeGraphViewer,
} from "../../lib/display/graph_viewer.ts";
import { loadPretrained } from "../../lib/weights/pretrained.ts";
import { launchBrowser } from "../helpers/browser.ts";

// ---------------------------------------------------------------- fixtures

function node(
  node_id: string,
  layer: string,
  ctx_idx: number,
  feature_type: string,
  influence: number | null,
  extra: Partial<ViewerNode> = {},
): ViewerNode {
  return {
    node_id,
    feature: 0,
    layer,
    ctx_idx,
    feature_type,
    token_prob: 0,
    is_target_logit: false,
    run_idx: 0,
    reverse_ctx_idx: 0,
    jsNodeId: node_id,
    clerp: "",
    influence,
    activation: null,
    ...extra,
  };
}

const FEATURE = "cross layer transcoder", ERROR = "mlp reconstruction error";

/** A small hand-written graph (the reference's GPT-2 example, with a few more nodes). */
export function smallGraph(): ViewerGraph {
  return {
    metadata: {
      slug: "gpt2-cat",
      scan: "gpt2-small-tc",
      transcoder_list: [],
      prompt_tokens: ["<|endoftext|>", "The", " cat", "\n"],
      prompt: "<|endoftext|>The cat\n",
      node_threshold: 0.8,
      schema_version: 1,
    },
    qParams: { pinnedIds: [], supernodes: [], linkType: "both", clickedId: "", sg_pos: "" },
    nodes: [
      node("3_1207_2", "3", 2, FEATURE, 0.41, { feature: 733862, activation: 5.2 }),
      node("3_99_2", "3", 2, FEATURE, 0.55, { feature: 5049, activation: 1.1, clerp: "cat-ness" }),
      node("7_88_2", "7", 2, FEATURE, 0.18, { feature: 4648, activation: 2.9 }),
      node("9_5_3", "9", 3, FEATURE, 0.74, { feature: 119, activation: 0.7 }),
      node("11_-1_2", "11", 2, ERROR, 0.63, { feature: -1 }),
      node("5_-1_3", "5", 3, ERROR, 0.79, { feature: -1 }),
      node("E_50256_0", "E", 0, "embedding", 0.96, { feature: 0 }),
      node("E_464_1", "E", 1, "embedding", 0.77, { feature: 1 }),
      node("E_3797_2", "E", 2, "embedding", 0.3, { feature: 2 }),
      node("E_198_3", "E", 3, "embedding", 0.9, { feature: 3 }),
      node("13_3332_3", "13", 3, "logit", null, {
        feature: 3332,
        token_prob: 0.142,
        is_target_logit: true,
        clerp: 'Output " sat" (p=0.142)',
      }),
      node("13_318_3", "13", 3, "logit", null, {
        feature: 318,
        token_prob: 0.05,
        clerp: 'Output " is" (p=0.050)',
      }),
    ],
    links: [
      { source: "E_3797_2", target: "3_1207_2", weight: 4.21 },
      { source: "E_3797_2", target: "3_99_2", weight: 0.8 },
      { source: "E_464_1", target: "7_88_2", weight: 0.52 },
      { source: "3_1207_2", target: "7_88_2", weight: 1.37 },
      { source: "3_99_2", target: "7_88_2", weight: -0.4 },
      { source: "7_88_2", target: "9_5_3", weight: 0.66 },
      { source: "E_198_3", target: "9_5_3", weight: 0.3 },
      { source: "5_-1_3", target: "9_5_3", weight: -0.2 },
      { source: "7_88_2", target: "13_3332_3", weight: 0.84 },
      { source: "9_5_3", target: "13_3332_3", weight: 0.5 },
      { source: "11_-1_2", target: "13_3332_3", weight: -0.19 },
      { source: "9_5_3", target: "13_318_3", weight: -0.35 },
    ],
  };
}

/** Details of one node of `smallGraph`, shown on hover. */
const SMALL_DETAILS: Record<string, ViewerNodeDetails> = {
  "3_1207_2": {
    topExamples: [{ tokens: ["The", " cat", " sat"], acts: [0, 5.2, 1.1] }],
    topLogits: [[" sat", 1.25], [" purr", 0.9]],
    bottomLogits: [[" dog", -0.8]],
  },
};

/** Uniforms in [0, 1) from the library's seeded generator. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}

/**
 * A random graph: `features` feature nodes over `layers` layers and `positions` positions (plus
 * `crowd` of them in one cell, layer 6 position 4, with labels of mixed lengths), an error node
 * per (layer, position) with probability 0.3, one embedding per position, 4 logits at the last
 * position, and `links` random links from lower to higher layers at the same or later positions.
 * Influences are cumulative scores of random importances (the largest about 0.85, above the
 * node threshold 0.8).
 */
export function randomGraph(
  { seed = 1, layers = 12, positions = 10, features = 200, crowd = 50, links = 2000 } = {},
): ViewerGraph {
  const r = rng(seed);
  const tokens = ["<|endoftext|>"];
  const words = [" The", " cat", " sat", " on", "\n", " mat", "\t", " and", " purred", ".", " It"];
  for (let p = 1; p < positions; p++) tokens.push(words[(p - 1) % words.length]);
  const nodes: ViewerNode[] = [];
  const used = new Set<string>();
  const addFeature = (l: number, p: number, clerp = "") => {
    let f: number, id: string;
    do {
      f = Math.floor(r() * 16384);
      id = `${l}_${f}_${p}`;
    } while (used.has(id));
    used.add(id);
    nodes.push(node(id, String(l), p, FEATURE, 0, { feature: f, activation: r() * 10, clerp }));
  };
  for (let i = 0; i < features; i++) {
    addFeature(Math.floor(r() * layers), 1 + Math.floor(r() * (positions - 1)));
  }
  const clerps = ["", "cat", "animal noun", "", "start of a sentence here", "x", "", "mat"];
  for (let i = 0; i < crowd; i++) addFeature(6, 4, clerps[i % clerps.length]);
  for (let l = 0; l < layers; l++) {
    for (let p = 1; p < positions; p++) {
      if (r() < 0.3) nodes.push(node(`${l}_-1_${p}`, String(l), p, ERROR, 0, { feature: -1 }));
    }
  }
  for (let p = 0; p < positions; p++) nodes.push(node(`E_${100 + p}_${p}`, "E", p, "embedding", 0));
  for (let k = 0; k < 4; k++) {
    nodes.push(
      node(
        `${layers + 1}_${500 + k}_${positions - 1}`,
        String(layers + 1),
        positions - 1,
        "logit",
        null,
        {
          feature: 500 + k,
          token_prob: 0.4 / (k + 1),
          is_target_logit: k === 0,
          clerp: `Output "${words[k]}" (p=${(0.4 / (k + 1)).toFixed(3)})`,
        },
      ),
    );
  }
  // Cumulative influence scores of random importances, scaled so the largest is about 0.85.
  const ranked = nodes.filter((n) => n.feature_type !== "logit");
  const imp = ranked.map(() => r() ** 3);
  const order = ranked.map((_, i) => i).sort((a, b) => imp[b] - imp[a]);
  const total = imp.reduce((a, b) => a + b, 0);
  let cum = 0;
  for (const i of order) {
    cum += imp[i];
    ranked[i].influence = 0.85 * cum / total;
  }
  const rank = (n: ViewerNode) =>
    n.feature_type === "embedding" ? -1 : n.feature_type === "logit" ? layers + 1 : Number(n.layer);
  const sources = nodes.filter((n) => n.feature_type !== "logit");
  const out: { source: string; target: string; weight: number }[] = [];
  const seen = new Set<string>();
  let guard = 0;
  while (out.length < links && guard++ < links * 50) {
    const s = sources[Math.floor(r() * sources.length)];
    const t = nodes[Math.floor(r() * nodes.length)];
    if (t.feature_type === "embedding" || t.feature_type === ERROR) continue;
    if (rank(t) <= rank(s) || t.ctx_idx < s.ctx_idx) continue;
    const key = `${s.node_id}|${t.node_id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ source: s.node_id, target: t.node_id, weight: (r() - 0.35) * 4 });
  }
  return {
    metadata: {
      slug: `random-${seed}`,
      scan: "random",
      prompt_tokens: tokens,
      prompt: tokens.join(""),
      node_threshold: 0.8,
      schema_version: 1,
    },
    qParams: { pinnedIds: [], supernodes: [], linkType: "both", clickedId: "", sg_pos: "" },
    nodes,
    links: out,
  };
}

/** What the page should draw at a slider value: node ids and link count. */
function expected(
  g: ViewerGraph,
  { threshold = Infinity, showErrors = true, pinned = [] as string[] } = {},
): { ids: Set<string>; links: number } {
  const ids = new Set<string>();
  for (const n of g.nodes) {
    const t = n.feature_type;
    if (t === ERROR && !showErrors) continue;
    if (
      t === "embedding" || t === "logit" || pinned.includes(n.node_id) || n.influence === null ||
      n.influence <= threshold
    ) ids.add(n.node_id);
  }
  const links = g.links.filter((l) => ids.has(l.source) && ids.has(l.target)).length;
  return { ids, links };
}

async function pathGraphFixture(): Promise<ViewerGraph> {
  const { model, transcoders } = await loadPretrained("tiny");
  const ctx = await CircuitContext.create(model, transcoders, "The cat sat on the mat.");
  const paths = greedyTopPaths(ctx, transcoderFeatureVector(transcoders[3]!, 1477), {
    numIters: 2,
    numBranches: 3,
  });
  return circuitGraphToViewer(addErrorNodes(ctx, pathsToGraph(paths)), ctx);
}

// ---------------------------------------------------------------- DOM shapes

/**
 * The few DOM members the tests use, in linkedom and in the page's callbacks (the tests are
 * type-checked without the DOM library; the casts vanish when the callbacks run in the page).
 */
interface PageEl {
  value: string;
  max: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): {
    left: number;
    right: number;
    top: number;
    bottom: number;
    width: number;
  };
  parentElement: PageEl | null;
  lastChild: PageEl | null;
  classList: { contains(c: string): boolean };
  querySelectorAll(selector: string): ArrayLike<PageEl> & Iterable<PageEl>;
  dispatchEvent(event: unknown): boolean;
}
interface PageDocument {
  getElementById(id: string): PageEl | null;
  querySelectorAll(selector: string): ArrayLike<PageEl> & Iterable<PageEl>;
}
interface PageGlobals {
  document: PageDocument;
  getComputedStyle(el: unknown): { display: string; stroke: string; strokeOpacity: string };
  requestAnimationFrame(f: () => void): number;
  Event: new (type: string, init?: { bubbles?: boolean }) => unknown;
}

// ---------------------------------------------------------------- static checks

/** The embedded payload and the elements of a page, checked without a browser. */
function staticCheck(html: string, graph: ViewerGraph): void {
  const { document } = parseHTML(html) as unknown as { document: PageDocument };
  const data = document.getElementById("tcgv-data");
  assert.ok(data, "the graph JSON element");
  assert.equal(data.getAttribute("type"), "application/json");
  const payload = JSON.parse(data.textContent ?? "");
  assert.deepEqual(payload.graph.nodes, JSON.parse(JSON.stringify(graph.nodes)));
  assert.deepEqual(payload.graph.links, JSON.parse(JSON.stringify(graph.links)));
  for (const id of ["prune-slider", "show-errors", "details", "counts", "svg", "legend"]) {
    assert.ok(document.getElementById(id), `#${id}`);
  }
  assert.equal(document.querySelectorAll("script[src], link, iframe").length, 0);
  const scripts = [...document.querySelectorAll("script")].filter((s) => !s.getAttribute("type"));
  assert.equal(scripts.length, 1);
  new Function(scripts[0].textContent ?? ""); // the viewer's script parses
}

Deno.test("graphViewerHtml() embeds the graph safely in one self-contained page", async () => {
  const g = smallGraph();
  const nasty = structuredClone(g) as ViewerGraph & { nodes: ViewerNode[] };
  nasty.nodes[1].clerp = "</script><script>alert(1)</script> <!-- \u2028";
  const html = graphViewerHtml(nasty, { details: SMALL_DETAILS });
  staticCheck(html, nasty);
  assert.equal(html.match(/<\/script>/gi)?.length, 2); // only the two script elements end
  assert.ok(!html.includes("<!--"));
  staticCheck(graphViewerHtml(randomGraph()), randomGraph());
  staticCheck(graphViewerHtml({ ...g, links: [] }), { ...g, links: [] });
  const details = new Map(Object.entries(SMALL_DETAILS));
  assert.ok(graphViewerHtml(g, { details }).includes('"topLogits":[[" sat",1.25]'));
  assert.throws(() => graphViewerHtml({} as ViewerGraph), TypeError);
  const dir = await Deno.makeTempDir();
  try {
    await writeGraphViewer(join(dir, "a", "b", "graph.html"), g);
    assert.equal(await Deno.readTextFile(join(dir, "a", "b", "graph.html")), graphViewerHtml(g));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a graph typed as the JSON schema (as a producer would type it) is a ViewerGraph", () => {
  // The shapes of circuit-tracer's Metadata/QParams/Node/Model, fields as the schema writes them.
  interface SchemaNode {
    node_id: string;
    feature: number;
    layer: string;
    ctx_idx: number;
    feature_type: string;
    token_prob: number;
    is_target_logit: boolean;
    run_idx: number;
    reverse_ctx_idx: number;
    jsNodeId: string;
    clerp: string;
    influence: number | null;
    activation: number | null;
  }
  interface SchemaGraph {
    metadata: {
      slug: string;
      scan: string;
      transcoder_list: string[];
      prompt_tokens: string[];
      prompt: string;
      node_threshold: number | null;
      schema_version: number;
      info?: { creator_name: string };
    };
    qParams: {
      pinnedIds: string[];
      supernodes: string[][];
      linkType: string;
      clickedId: string;
      sg_pos: string;
    };
    nodes: SchemaNode[];
    links: { source: string; target: string; weight: number }[];
  }
  const g: SchemaGraph = JSON.parse(JSON.stringify(smallGraph()));
  const v: ViewerGraph = g; // compiles: structurally compatible
  assert.equal(v.nodes.length, 12);
});

Deno.test("showGraphViewer() embeds an isolated page or a scoped fragment", () => {
  const g = smallGraph();
  const d = showGraphViewer(g);
  assert.match(
    d.text,
    /^Attribution graph: 12 nodes \(4 features, 2 errors, 4 embeddings, 2 logits\), 12 links/,
  );
  assert.ok(d.html.startsWith("<iframe srcdoc=") && !d.html.slice(8).includes("<iframe"));
  assert.ok(!/srcdoc="[^"]*"[^>]*srcdoc/.test(d.html)); // the document is one attribute value
  const inline = showGraphViewer(g, { mode: "inline" }).html;
  const markup = inline.slice(0, inline.indexOf('<script type="application/json"'));
  const ids = [...markup.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(ids.length > 8 && ids.every((id) => /-[0-9a-f]{8}$/.test(id)), ids.join(" "));
  assert.notEqual(showGraphViewer(g, { mode: "inline" }).html, inline); // unique ids per output
});

Deno.test("circuitGraphToViewer() maps every node and edge of a path graph", async () => {
  const v = await pathGraphFixture();
  const ids = new Set(v.nodes.map((n) => n.node_id));
  assert.equal(ids.size, v.nodes.length);
  for (const l of v.links) assert.ok(ids.has(l.source) && ids.has(l.target));
  assert.equal(v.nodes[0].node_id, "mlp3tc[1477]@-1");
  assert.equal(v.nodes[0].influence, 0);
  assert.equal(v.nodes[0].ctx_idx, 7);
  const types = new Set(v.nodes.map((n) => n.feature_type));
  assert.ok(types.has(FEATURE) && types.has(ERROR), [...types].join());
  for (const n of v.nodes) {
    assert.ok(n.ctx_idx >= 0 && n.ctx_idx < v.metadata.prompt_tokens.length);
    assert.ok(n.layer === "E" || /^\d+$/.test(n.layer), n.layer);
    assert.ok(n.influence !== null && n.influence >= 0 && n.influence <= 1 + 1e-9);
    if (n.feature_type === FEATURE) assert.ok(typeof n.activation === "number");
  }
});

// ---------------------------------------------------------------- browser

interface Loaded {
  page: Page;
  errors: string[];
}

async function open(browser: Browser, url: string): Promise<Loaded> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn") {
      errors.push(`console.${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e}`));
  await page.goto(url);
  await page.waitForSelector("[data-ready]");
  return { page, errors };
}

/** Waits until queued redraws (requestAnimationFrame) have run. */
async function settle(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as PageGlobals;
    return new Promise<void>((r) =>
      w.requestAnimationFrame(() => w.requestAnimationFrame(() => r()))
    );
  });
}

// (page.evaluate rather than $$eval, which makes one handle per element: slow for 20k edges.)
const drawnIds = (page: Page) =>
  page.evaluate(() =>
    [...(globalThis as unknown as PageGlobals).document.querySelectorAll(".node")].map((e) =>
      e.getAttribute("data-node-id")!
    )
  );
const edgeCount = (page: Page) =>
  page.evaluate(() =>
    (globalThis as unknown as PageGlobals).document.querySelectorAll(".edge").length
  );
const countsText = (page: Page) => page.$eval("#counts", (e) => e.textContent);
const sel = (id: string) => `.node[data-node-id="${id}"]`;

async function setSlider(page: Page, v: number): Promise<void> {
  await page.evaluate((v) => {
    const w = globalThis as unknown as PageGlobals;
    const s = w.document.getElementById("prune-slider")!;
    s.value = String(v);
    s.dispatchEvent(new w.Event("input", { bubbles: true }));
  }, v);
  await settle(page);
}

/** Pairs of node labels whose bounding boxes overlap (in page coordinates). */
function overlappingLabels(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const w = globalThis as unknown as PageGlobals;
    const boxes = [...w.document.querySelectorAll(".node text.label")].map((t) => {
      const r = t.getBoundingClientRect();
      return { id: t.parentElement!.getAttribute("data-node-id"), r };
    }).filter((b) => b.r.width > 0);
    const bad: string[] = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].r, b = boxes[j].r;
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
          bad.push(`${boxes[i].id} / ${boxes[j].id}`);
        }
      }
    }
    return bad;
  });
}

async function writePage(dir: string, name: string, html: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, html);
  return `file://${path}`;
}

Deno.test({
  name: "the viewer in headless Chromium",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const browser = await launchBrowser();
    if (!browser) {
      // Reduced check without a browser (launchBrowser printed a note): the pages' structure.
      staticCheck(graphViewerHtml(smallGraph()), smallGraph());
      staticCheck(graphViewerHtml(await pathGraphFixture()), await pathGraphFixture());
      return;
    }
    const dir = await Deno.makeTempDir({ prefix: "graph_viewer_test_" });
    const shots = Deno.env.get("TC_VIEWER_SCREENSHOTS");
    try {
      const small = smallGraph(), random = randomGraph();
      const smallUrl = await writePage(
        dir,
        "small.html",
        graphViewerHtml(small, { details: SMALL_DETAILS }),
      );
      const randomUrl = await writePage(dir, "random.html", graphViewerHtml(random));

      await t.step("loads without errors and draws every node and link", async () => {
        for (const [url, g] of [[smallUrl, small], [randomUrl, random]] as const) {
          const { page, errors } = await open(browser, url);
          const ids = await drawnIds(page);
          assert.equal(ids.length, g.nodes.length);
          assert.deepEqual(new Set(ids), new Set(g.nodes.map((n) => n.node_id)));
          assert.equal(await edgeCount(page), g.links.length);
          assert.equal(await countsText(page), `${g.nodes.length} nodes, ${g.links.length} edges`);
          const edge = await page.$eval(
            ".edge",
            (e) => [e.getAttribute("data-source"), e.getAttribute("data-target")],
          );
          assert.ok(g.links.some((l) => l.source === edge[0] && l.target === edge[1]));
          const legend = await page.$eval("#legend", (e) => e.textContent);
          for (const w of ["feature", "error", "embedding", "logit", "positive", "negative"]) {
            assert.ok(legend!.includes(w), `legend: ${w}`);
          }
          const rows = await page.$$eval(".row-label", (els) => els.map((e) => e.textContent));
          assert.equal(rows[0], "Lgt");
          assert.equal(rows.at(-1), "Emb");
          assert.deepEqual(errors, []);
          if (g === small) {
            const toks = await page.$$eval(
              ".token-label",
              (els) => els.map((e) => e.lastChild!.textContent),
            );
            assert.deepEqual(toks, ["<|endoftext|>", "The", " cat", "\u23ce"]); // \n shown as ⏎
            // Higher layers are drawn higher up, embeddings at the bottom.
            const y = (id: string) =>
              page.$eval(sel(id), (e) => (e as unknown as PageEl).getBoundingClientRect().top);
            assert.ok((await y("13_3332_3")) < (await y("7_88_2")));
            assert.ok((await y("7_88_2")) < (await y("3_1207_2")));
            assert.ok((await y("3_1207_2")) < (await y("E_3797_2")));
            if (shots) {
              await page.click(sel("7_88_2"));
              await page.hover(sel("3_1207_2"));
              await page.screenshot({ path: join(shots, "viewer_small.png") });
            }
          } else if (shots) {
            await page.screenshot({ path: join(shots, "viewer_random.png"), fullPage: false });
          }
          await page.close();
        }
      });

      await t.step("hover shows a node's details, examples and logits", async () => {
        const { page, errors } = await open(browser, smallUrl);
        await page.hover(sel("3_1207_2"));
        const text = await page.$eval("#details", (e) => e.textContent!);
        for (
          const s of [
            "3_1207_2",
            "1207",
            "activation5.200",
            "influence0.4100",
            '2 " cat"',
            "Top examples",
            "Top logits",
            '" sat" 1.25',
            "Bottom logits",
          ]
        ) assert.ok(text.includes(s), `${s} in ${text}`);
        // Input share: 4.21 of |4.21| drawn; output: 1.37 of 1.37.
        assert.ok(text.includes("input share100.0% of |w| (1 of 1 links drawn)"), text);
        assert.ok(
          await page.$eval(
            "#tooltip",
            (e) => (globalThis as unknown as PageGlobals).getComputedStyle(e).display === "block",
          ),
        );
        await page.hover(sel("13_3332_3"));
        const logit = await page.$eval("#details", (e) => e.textContent!);
        assert.ok(logit.includes("probability0.1420") && logit.includes("Lgt"), logit);
        // After pruning 9_5_3 away, the logit's drawn input share drops.
        await setSlider(page, 0.7);
        await page.hover(sel("13_3332_3"));
        const pruned = await page.$eval("#details", (e) => e.textContent!);
        assert.ok(pruned.includes("input share67.3% of |w| (2 of 3 links drawn)"), pruned); // (0.84+0.19)/1.53
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("click selects a node and colours its edges; Escape clears", async () => {
        const { page, errors } = await open(browser, smallUrl);
        await page.click(sel("7_88_2"));
        const touching = small.links.filter((l) => l.source === "7_88_2" || l.target === "7_88_2");
        const hl = await page.$$eval(
          ".edge.hl",
          (els) =>
            els.map((
              e,
            ) => [
              e.getAttribute("data-source"),
              e.getAttribute("data-target"),
              (globalThis as unknown as PageGlobals).getComputedStyle(e).stroke,
              (globalThis as unknown as PageGlobals).getComputedStyle(e).strokeOpacity,
            ]),
        );
        assert.equal(hl.length, touching.length);
        for (const [s, tg, stroke, op] of hl) {
          assert.ok(s === "7_88_2" || tg === "7_88_2");
          const w = small.links.find((l) => l.source === s && l.target === tg)!.weight;
          assert.equal(stroke, w >= 0 ? "rgb(29, 78, 216)" : "rgb(185, 28, 28)");
          assert.equal(Number(op), 0.95);
        }
        const dim = await page.$$eval(
          ".edge:not(.hl)",
          (els) =>
            els.map((e) =>
              Number((globalThis as unknown as PageGlobals).getComputedStyle(e).strokeOpacity)
            ),
        );
        assert.equal(dim.length, small.links.length - touching.length);
        assert.ok(dim.every((o) => o < 0.1));
        assert.ok(await page.$eval(sel("7_88_2"), (e) => e.classList.contains("selected")));
        assert.match(page.url(), /clickedId=7_88_2/);
        await page.keyboard.press("Escape");
        assert.equal(await page.$$eval(".edge.hl", (els) => els.length), 0);
        assert.ok(!(await page.$eval("#svg", (e) => e.classList.contains("has-sel"))));
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("the pruning slider keeps what the influences predict", async () => {
        for (const [url, g] of [[smallUrl, small], [randomUrl, random]] as const) {
          const { page, errors } = await open(browser, url);
          const max = await page.$eval(
            "#prune-slider",
            (e) => Number((e as unknown as PageEl).max),
          );
          assert.ok(max >= 0.8);
          for (const v of [0, 0.2, 0.5, 0.75, 0.8, max]) {
            await setSlider(page, v);
            const want = expected(g, { threshold: v });
            assert.deepEqual(new Set(await drawnIds(page)), want.ids, `threshold ${v}`);
            assert.equal(await edgeCount(page), want.links, `threshold ${v}`);
            assert.equal(await countsText(page), `${want.ids.size} nodes, ${want.links} edges`);
          }
          await setSlider(page, 0.5);
          await page.waitForFunction(() =>
            (globalThis as unknown as { location: { hash: string } }).location.hash.includes(
              "pruningThreshold=0.5&",
            )
          );
          await page.reload();
          await page.waitForSelector("[data-ready]");
          assert.equal(
            await page.$eval("#prune-slider", (e) => Number((e as unknown as PageEl).value)),
            0.5,
          );
          assert.equal((await drawnIds(page)).length, expected(g, { threshold: 0.5 }).ids.size);
          assert.deepEqual(errors, []);
          await page.close();
        }
      });

      await t.step("hiding error nodes removes exactly them and their edges", async () => {
        for (const [url, g] of [[smallUrl, small], [randomUrl, random]] as const) {
          const { page, errors } = await open(browser, url);
          await page.click("#show-errors");
          const want = expected(g, { showErrors: false });
          const ids = new Set(await drawnIds(page));
          assert.deepEqual(ids, want.ids);
          const errorIds = g.nodes.filter((n) => n.feature_type === ERROR).map((n) => n.node_id);
          assert.ok(errorIds.length > 0 && errorIds.every((id) => !ids.has(id)));
          assert.equal(ids.size, g.nodes.length - errorIds.length);
          assert.equal(await edgeCount(page), want.links);
          await page.click("#show-errors");
          assert.equal((await drawnIds(page)).length, g.nodes.length);
          assert.deepEqual(errors, []);
          await page.close();
        }
      });

      await t.step("pins and supernodes persist in the URL across a reload", async () => {
        const { page, errors } = await open(browser, smallUrl);
        await page.keyboard.down("Control");
        await page.click(sel("9_5_3"));
        await page.keyboard.up("Control");
        await page.hover(sel("3_99_2"));
        await page.click("#pin-button");
        const pinned = () =>
          page.$$eval(
            ".node.pinned",
            (els) => els.map((e) => e.getAttribute("data-node-id")).sort(),
          );
        assert.deepEqual(await pinned(), ["3_99_2", "9_5_3"]);
        assert.match(decodeURIComponent(page.url()), /pinnedIds=9_5_3,3_99_2/);
        await page.reload();
        await page.waitForSelector("[data-ready]");
        assert.deepEqual(await pinned(), ["3_99_2", "9_5_3"]);
        // Pinned nodes survive pruning.
        await setSlider(page, 0);
        assert.deepEqual(
          new Set(await drawnIds(page)),
          expected(small, { threshold: 0, pinned: ["3_99_2", "9_5_3"] }).ids,
        );
        // The intervention that ablates the pinned features, ready to copy.
        await page.click("#copy-intervention");
        const code = await page.$eval("#intervention", (e) => e.textContent!);
        assert.match(code, /^await featureIntervention\(model, transcoders, tokens, \[/);
        assert.ok(code.includes("{ layer: 9, pos: 3, feature: 5, value: 0 }"), code);
        assert.ok(code.includes("{ layer: 3, pos: 2, feature: 99, value: 0 }"), code);
        await page.type("#group-label", "cat group");
        await page.click("#group-pinned");
        assert.deepEqual(
          await page.$$eval(".supernode-label", (els) => els.map((e) => e.textContent)),
          ["cat group"],
        );
        assert.equal(await page.$$eval("rect.supernode", (els) => els.length), 1);
        await page.reload();
        await page.waitForSelector("[data-ready]");
        assert.deepEqual(
          await page.$$eval(".supernode-label", (els) => els.map((e) => e.textContent)),
          ["cat group"],
        );
        assert.ok(
          (await page.$eval("#pins", (e) => e.textContent!)).includes("cat group (2 nodes)"),
        );
        await page.click(".ungroup");
        assert.equal(await page.$$eval(".supernode-label", (els) => els.length), 0);
        await page.click("#clear-pinned");
        assert.deepEqual(await pinned(), []);
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("no two node labels overlap", async () => {
        for (const url of [smallUrl, randomUrl]) {
          const { page, errors } = await open(browser, url);
          if (url === randomUrl) {
            const crowd = await page.$$eval(
              ".node",
              (els) => els.filter((e) => /^6_\d+_4$/.test(e.getAttribute("data-node-id")!)).length,
            );
            assert.ok(crowd >= 50, `${crowd} nodes in the crowded cell`);
          }
          assert.deepEqual(await overlappingLabels(page), []);
          await setSlider(page, 0.5);
          assert.deepEqual(await overlappingLabels(page), []);
          assert.deepEqual(errors, []);
          await page.close();
        }
      });

      await t.step("a greedy path graph renders through the adapter", async () => {
        const g = await pathGraphFixture();
        const { page, errors } = await open(
          browser,
          await writePage(dir, "paths.html", graphViewerHtml(g)),
        );
        assert.equal((await drawnIds(page)).length, g.nodes.length);
        assert.equal(await edgeCount(page), g.links.length);
        assert.deepEqual(await overlappingLabels(page), []);
        await page.hover(sel("mlp3tc[1477]@-1"));
        assert.ok(
          (await page.$eval("#details", (e) => e.textContent!)).includes("mlp3tc[1477]@-1"),
        );
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("works with no links", async () => {
        const g = { ...small, links: [] };
        const { page, errors } = await open(
          browser,
          await writePage(dir, "nolinks.html", graphViewerHtml(g)),
        );
        assert.equal(await countsText(page), `${g.nodes.length} nodes, 0 edges`);
        await page.hover(sel("7_88_2"));
        await page.click(sel("7_88_2"));
        await setSlider(page, 0.3);
        assert.ok((await page.$eval("#details", (e) => e.textContent!)).includes("no links"));
        const empty = { ...small, nodes: [], links: [] };
        const p2 = await open(browser, await writePage(dir, "empty.html", graphViewerHtml(empty)));
        assert.equal(await countsText(p2.page), "0 nodes, 0 edges");
        assert.deepEqual([...errors, ...p2.errors], []);
        await page.close();
        await p2.page.close();
      });

      await t.step("in a notebook output: an iframe or inline, state in memory", async () => {
        const host = `<!DOCTYPE html><html><body><h1>notebook</h1>${showGraphViewer(small).html}` +
          `<div>${showGraphViewer(small, { mode: "inline", height: 500 }).html}</div>` +
          `<div>${
            showGraphViewer(random, { mode: "inline", height: 500 }).html
          }</div></body></html>`;
        const page = await browser.newPage();
        await page.setViewport({ width: 1400, height: 900 });
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warn") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(`${e}`));
        const url = await writePage(dir, "host.html", host);
        await page.goto(url);
        await page.waitForFunction(() =>
          (globalThis as unknown as PageGlobals).document.querySelectorAll(".tcgv[data-ready]")
            .length === 2
        );
        const roots = await page.$$eval(
          ".tcgv",
          (els) => els.map((e) => e.querySelectorAll(".node").length),
        );
        assert.deepEqual(roots, [small.nodes.length, random.nodes.length]);
        const frame = page.frames().find((f) => f !== page.mainFrame())!;
        await frame.waitForSelector("[data-ready]");
        assert.equal(await frame.$$eval(".node", (els) => els.length), small.nodes.length);
        await frame.click(sel("7_88_2"));
        assert.equal(await frame.$$eval(".edge.hl", (els) => els.length), 5);
        await frame.hover(sel("3_1207_2"));
        await frame.click("#pin-button");
        assert.equal(await frame.$$eval(".node.pinned", (els) => els.length), 1);
        // Inline: pin in the first inline viewer (Ctrl-click); the second one is unaffected.
        const first = (await page.$$(".tcgv"))[0];
        const target = await first.$(sel("7_88_2"));
        await page.keyboard.down("Control");
        await target!.click();
        await page.keyboard.up("Control");
        assert.deepEqual(
          await page.$$eval(
            ".tcgv",
            (els) => els.map((e) => e.querySelectorAll(".node.pinned").length),
          ),
          [1, 0],
        );
        const slider = await first.$("input[type=range]");
        await slider!.evaluate((s) => {
          const w = globalThis as unknown as PageGlobals;
          (s as unknown as PageEl).value = "0";
          s.dispatchEvent(new w.Event("input", { bubbles: true }) as Event);
        });
        await settle(page);
        assert.equal(
          await first.$$eval(".node", (els) => els.length),
          expected(small, { threshold: 0, pinned: ["7_88_2"] }).ids.size,
        );
        assert.equal(page.url(), url); // the notebook's URL is left alone
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("a large graph (3000 nodes, 20000 links) stays responsive", async () => {
        const g = randomGraph({
          seed: 7,
          layers: 12,
          positions: 40,
          features: 2700,
          crowd: 30,
          links: 20000,
        });
        const t0 = performance.now();
        const { page, errors } = await open(
          browser,
          await writePage(dir, "large.html", graphViewerHtml(g)),
        );
        const loadMs = performance.now() - t0;
        assert.equal(await edgeCount(page), g.links.length);
        const t1 = performance.now();
        await setSlider(page, 0.5);
        const pruneMs = performance.now() - t1;
        assert.equal((await drawnIds(page)).length, expected(g, { threshold: 0.5 }).ids.size);
        const t2 = performance.now();
        await page.click(".k-feature");
        const clickMs = performance.now() - t2;
        console.log(
          `large graph: ${g.nodes.length} nodes, ${g.links.length} links: load ${
            loadMs.toFixed(0)
          } ms, ` +
            `prune ${pruneMs.toFixed(0)} ms, click ${clickMs.toFixed(0)} ms`,
        );
        assert.ok(loadMs < 15000 && pruneMs < 5000 && clickMs < 5000);
        assert.deepEqual(errors, []);
        await page.close();
      });
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * `deno task graph`: the attribution graph of a prompt, pruned, written as an interactive viewer
 * (one self-contained HTML file) and as the circuit-tracer/Neuronpedia graph JSON beside it.
 *
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import { loadPretrained } from "../lib/weights/mod.ts";
import {
  attributionGraph,
  type CustomTarget,
  type FeatureDetail,
  graphScores,
  graphToJson,
  logitDifferenceTarget,
  nodeCounts,
  pruneGraph,
  writeFeatureDetails,
  writeGraphFiles,
} from "../lib/attribution/mod.ts";
import { featureLogitEffects, loadFeatureStats } from "../lib/dashboards/mod.ts";
import type { LayerFeatureStats } from "../lib/dashboards/mod.ts";
import { type ViewerNodeDetails, writeGraphViewer } from "../lib/display/mod.ts";
import { fmt } from "./bench_util.ts";
import { PROVIDER_OPTION, providerOf } from "./cli.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

/** The command line of `deno task graph`. */
export const GRAPH_COMMAND = {
  name: "deno task graph",
  summary:
    "Builds the attribution graph of a prompt (every active transcoder feature, error and token node, the top logits, exact direct effects), prunes it by influence, and writes an interactive viewer (--out, one HTML file that opens from disk) and the circuit-tracer/Neuronpedia graph JSON beside it (same name, .json).",
  options: {
    prompt: { type: "string", required: true, arg: "text", help: "the prompt (BOS is prepended)" },
    model: {
      type: "string",
      default: "tiny",
      arg: "name|dir",
      help: "tiny, gpt2-small (after deno task setup), or a folder with transcoders",
    },
    out: {
      type: "string",
      default: "reports/graph.html",
      arg: "file.html",
      help: "the viewer; the graph JSON is written beside it",
    },
    "max-feature-nodes": {
      type: "integer",
      default: 8192,
      min: 1,
      help: "feature nodes at most, chosen by estimated influence on the logits",
    },
    "max-logits": { type: "integer", default: 10, min: 1, help: "logit targets at most" },
    "logit-prob": {
      type: "number",
      default: 0.95,
      min: 0.000001,
      max: 1,
      help: "the smallest set of top logits whose probability reaches this",
    },
    "logit-diff": {
      type: "string",
      arg: "A,B",
      help: 'one target instead of the top logits: logit(A) - logit(B) (e.g. " Mary, John")',
    },
    "node-threshold": {
      type: "number",
      default: 0.8,
      min: 0,
      max: 1,
      help: "keep the nodes holding this share of the influence",
    },
    "edge-threshold": {
      type: "number",
      default: 0.98,
      min: 0,
      max: 1,
      help: "keep the edges holding this share of the edge influence",
    },
    stats: {
      type: "string",
      arg: "files",
      help:
        "comma-separated feature-statistics files of deno task dashboards --stats (one per layer): top examples on hover, and feature-detail files under features/ beside the JSON",
    },
    batch: { type: "integer", default: 64, min: 1, help: "rows per reverse pass" },
    provider: PROVIDER_OPTION,
  },
} as const satisfies CommandSpec;

/** Runs `deno task graph` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(GRAPH_COMMAND, args, graph);
}

/** `--logit-diff " Mary, John"`: two tokens, split at the comma. */
function parseLogitDiff(value: string): [string, string] {
  const parts = value.split(",");
  if (parts.length !== 2 || parts.some((p) => p.trim() === "")) {
    throw new UsageError(`--logit-diff "${value}": expected two tokens separated by a comma`);
  }
  return [parts[0], parts[1].replace(/^ (?=\S)/, " ")] as [string, string];
}

async function graph(values: OptionValues<typeof GRAPH_COMMAND.options>): Promise<void> {
  const out = values.out;
  if (extname(out) !== ".html") throw new UsageError(`--out ${out}: expected a .html file`);
  const slug = basename(out, ".html");
  const { model, transcoders, dir } = await loadPretrained(values.model, {
    provider: providerOf(values.provider),
  });
  const tokens = model.toTokens(values.prompt);
  if (tokens.shape[1] > model.cfg.n_ctx) {
    throw new UsageError(
      `the prompt has ${
        tokens.shape[1]
      } tokens (BOS included), more than the model's context of ${model.cfg.n_ctx}`,
    );
  }
  const stats: LayerFeatureStats[] = [];
  for (const path of values.stats?.split(",").map((s) => s.trim()).filter(Boolean) ?? []) {
    stats.push(await loadFeatureStats(path));
  }
  let targets: CustomTarget[] | undefined;
  if (values["logit-diff"]) {
    const [a, b] = parseLogitDiff(values["logit-diff"]);
    targets = [logitDifferenceTarget(model, a, b)];
  }
  const scan = basename(dir); // metadata.scan and the features/{scan}/ folder
  const t0 = performance.now();
  const g = await attributionGraph(model, transcoders, tokens, {
    maxFeatureNodes: values["max-feature-nodes"],
    maxNLogits: values["max-logits"],
    desiredLogitProb: values["logit-prob"],
    targets,
    batchSize: values.batch,
    scan,
    progress: true,
  });
  const pruned = pruneGraph(g, {
    nodeThreshold: values["node-threshold"],
    edgeThreshold: values["edge-threshold"],
  });
  const scores = graphScores(g, { influence: pruned.influence });
  const json = graphToJson(g, pruned, { slug, scan, nodeThreshold: values["node-threshold"] });
  const seconds = (performance.now() - t0) / 1000;
  const c = nodeCounts(g);
  const active = g.activeFeatures.length / 3;
  console.log(
    `Prompt: ${g.tokens.length} tokens (BOS first); ${active} active features, ${c.features} kept as nodes` +
      (g.droppedFeatures ? ` (${g.droppedFeatures} dropped by --max-feature-nodes)` : ""),
  );
  console.log(
    `Targets: ${
      g.logitTargets.map((t) => `${JSON.stringify(t.label)} (p=${fmt(t.probability, 3)})`).join(
        ", ",
      )
    }`,
  );
  console.log(
    `Graph: ${c.total} nodes; pruned to ${json.nodes.length} nodes and ${json.links.length} links; ` +
      `replacement score ${fmt(scores.replacement, 3)}, completeness ${
        fmt(scores.completeness, 3)
      }; ${fmt(seconds, 1)} s`,
  );

  // Details on hover: logit effects of every kept feature, and top examples from --stats.
  const details: Record<string, ViewerNodeDetails> = {};
  const features: [number, number][] = [];
  for (const node of json.nodes) {
    if (node.feature_type !== "cross layer transcoder") continue;
    const [l, f] = node.node_id.split("_").map(Number);
    const fx = featureLogitEffects(model, transcoders[l]!, f, { k: 5, bins: 1 });
    details[node.node_id] = {
      topLogits: fx.top.map((t) => [t.str, t.value] as const),
      bottomLogits: fx.bottom.map((t) => [t.str, t.value] as const),
    };
    if (stats.some((s) => s.layer === l)) features.push([l, f]);
  }
  const jsonDir = dirname(out);
  if (features.length) {
    const paths = await writeFeatureDetails(jsonDir, { scan, model, transcoders, stats, features });
    const nodesOf = new Map<number, string[]>();
    for (const node of json.nodes) {
      if (node.feature_type !== "cross layer transcoder") continue;
      nodesOf.set(node.feature, [...(nodesOf.get(node.feature) ?? []), node.node_id]);
    }
    for (const path of paths) {
      const d = JSON.parse(await Deno.readTextFile(path)) as FeatureDetail;
      const top = d.examples_quantiles[0]?.examples.slice(0, 3) ?? [];
      for (const nodeId of nodesOf.get(d.index) ?? []) {
        details[nodeId] = {
          ...details[nodeId],
          topExamples: top.map((e) => ({ tokens: e.tokens, acts: e.tokens_acts_list })),
        };
      }
    }
    console.log(`Feature details: ${paths.length} files under ${join(jsonDir, "features")}`);
  }
  await writeGraphFiles(jsonDir, json);
  await writeGraphViewer(out, json, { details, title: `${values.prompt} (${scan})` });
  console.log(`Wrote ${out} and ${join(jsonDir, `${slug}.json`)}`);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

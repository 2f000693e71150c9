/**
 * What each notebook must show, and the environment its tests run it in: shared by the notebook
 * tests and the headless soak run (soak.ts).
 */
import { fileURLToPath } from "node:url";
import type { Expectation } from "./notebook_runner.ts";

const walkthrough: Expectation[] = [
  [/model tiny: 4 layers, d_model \d+, transcoders for layers 0, 1, 2, 3/, "the model summary"],
  [/\d+ rows of 128 tokens/, "the corpus size"],
  [/\d+ live features of \d+ \(log10 frequency > -4\)/, "the live-feature count"],
  [/Firing frequency: [\d.]+%/, "the dashboard"],
  [/Between [\d.]+ and [\d.]+: [\d.]+%/, "activation bands"],
  [
    /CE clean [\d.]+, all replaced [\d.]+, zero-ablated [\d.]+ nats; CE score [-\d.]+; KL [\d.]+/,
    "the evaluation",
  ],
  [/Path \[0\]\[0\]: mlp\d+tc\[\d+\]@-1 "[^"]*": [\d.e+-]+ <- \S+@\d+ "/, "greedy paths"],
  [/\d+ paths avoid the layer-0 transcoder; \d+ end in an embedding/, "path filters"],
  [/tc_error/, "error nodes"],
  [/attribution [-\d.]+, measured [-\d.]+ \(relative error/, "attribution checks"],
  [/Most-positive de-embedding tokens/, "de-embeddings"],
  [/Most-positive transcoder features/, "pullbacks"],
  [/top-10 overlap of the pullback and the mean input-times-gradient \d+%/, "mean IxG"],
];

const caseStudies: Expectation[] = [
  [/layer 3: \d+ live features of 2048; 32768 validation tokens/, "the setup"],
  [
    /hypothesis 1: mlp3tc\[\d+\] fires on the current token when it is one of .*" to"/,
    "hypothesis 1",
  ],
  [/mlp0tc\[\d+\]: pullback [-\d.]+, rank \d+ of 2048/, "the pullback ranks"],
  [/test 1: .*mean activation [\d.]+ vs [\d.]+ \((\d+)x\)/, "test 1"],
  [/mlp3tc\[\d+\]: (\d+)% of the first-level attribution comes from the current token/, "sources"],
  [/hypothesis 2: mlp3tc\[\d+\] fires a few tokens after one of "\."/, "hypothesis 2"],
  [/test 2: mean activation ([\d.]+)x higher ([1-4]) tokens after a sentence end/, "test 2"],
  [/logit\(" States"\) - logit\(" Nations"\) = -?\d+\.\d+/, "the logit difference"],
  [/first-level sources: mlp0tc\[\d+\]@5: [\d.]+ \(" United"\)/, "the logit-difference sources"],
  [/Path \[0\]\[0\]: mlp3@-1: /, "the logit-difference paths"],
  [/tc_error/, "error nodes"],
  [/attribution [-\d.]+, measured [-\d.]+ \(relative error/, "intervention checks"],
];

const attributionGraphs: Expectation[] = [
  [
    /graph of "When Mary and John.*" on tiny: \d+ tokens, \d+ active features, \d+ feature nodes, \d+ nodes in all/,
    "the graph",
  ],
  [/targets: "[^"]*" \(p=[\d.]+\)/, "the logit targets"],
  [
    /pruned to \d+ nodes and \d+ links; replacement score [\d.]+, completeness [\d.]+/,
    "the scores",
  ],
  [/Attribution graph: \d+ nodes/, "the viewer"],
  [
    /ablating L\d+\/\d+@\d+ .*predicted change of the .* logit [-\d.]+, measured [-\d.]+ \(relative error [\d.e+-]+\)/,
    "the frozen intervention",
  ],
  [/live ablation: p\(.*\) [\d.]+ -> [\d.]+/, "the live intervention"],
  [/QK L\d+H0 \d+->3: score [-\d.]+, attention [\d.]+/, "the QK decomposition"],
  [/without .*: score [-\d.]+/, "a QK removal"],
];

const sweep: Expectation[] = [
  [
    /(\d+) dictionaries for layer 2: ([4-9]) transcoders, ([4-9]) MLP-output SAEs; evaluated on \d+ held-out tokens/,
    "the committed sweep",
  ],
  [/SAE \(MLP out\)\s+[\d.e-]+\s+[\d.]+\s+[\d.]+/, "the table"],
  [/CE clean [\d.]+, layer-2 MLP zero-ablated [\d.]+ nats/, "the baselines"],
  [/sweep chart: \d+ points|<svg/, "the chart"],
  [
    /\d+ of \d+ matched transcoders lose less than the SAEs at their L0/,
    "the matched-L0 comparison",
  ],
  [
    /transcoder-l1-\S+: a transcoder on blocks\.2\.ln2\.hook_normalized; on \d+ rows L0 [\d.]+/,
    "a transcoder",
  ],
  [/mlp_out_sae-l1-\S+: an SAE on blocks\.2\.hook_mlp_out; on \d+ rows L0 [\d.]+/, "an SAE"],
];

/** A notebook, its test environment and its expected results. */
export interface NotebookSpec {
  path: string;
  env: Record<string, string>;
  expected: readonly Expectation[];
}

const at = (name: string) => fileURLToPath(new URL(`../../notebooks/${name}`, import.meta.url));

/** The project's notebooks. */
export const NOTEBOOKS: Record<
  "walkthrough" | "caseStudies" | "attributionGraphs" | "sweep",
  NotebookSpec
> = {
  walkthrough: {
    path: at("walkthrough.ipynb"),
    env: { TC_MODEL: "tiny", TC_ROWS: "128" },
    expected: walkthrough,
  },
  caseStudies: { path: at("case_studies.ipynb"), env: { TC_ROWS: "256" }, expected: caseStudies },
  attributionGraphs: {
    path: at("attribution_graphs.ipynb"),
    env: { TC_MODEL: "tiny" },
    expected: attributionGraphs,
  },
  sweep: { path: at("sweep.ipynb"), env: { TC_ROWS: "16" }, expected: sweep },
};

/**
 * Display of every result type: rich output in Deno's Jupyter kernel (a `Displayable`'s MIME
 * bundle), readable text in terminals, token highlighting HTML, tables, and Observable Plot
 * charts rendered headlessly to SVG through linkedom.
 *
 * - In a notebook: `show`, `print` and `flushOutputs` (outputs that survive headless runs),
 *   `Displayable`/`displayable`, `row`, `stack`, `inJupyter`, `isJupyterDisplayable`,
 *   `JUPYTER_DISPLAY`.
 * - One call per result type: `showTokens`, `showTopTokens`, `showTopFeatures`, `showEval`,
 *   `showPaths`, `showGraph`, `showHistogram`, `showHeatmap`, `showScatter`, `showDashboard`
 *   (a `FeatureDashboard`, built by `dashboardFromStats` or lib/dashboards), and the static HTML
 *   report of many dashboards, `renderDashboardReport`.
 * - The attribution-graph viewer: `graphViewerHtml`, `writeGraphViewer` (one self-contained
 *   HTML page) and `showGraphViewer` (inline in a notebook) for `ViewerGraph`s (circuit-tracer's
 *   graph JSON, `ViewerNode`, `ViewerLink`, `ViewerNodeDetails`); `circuitGraphToViewer` for the
 *   path graphs of greedy search (which `showGraph` shows).
 * - The pieces: token highlighting (`tokensHtml`, `tokensText`, `tokensAnsi`), tables
 *   (`htmlTable`, `textTable`, `tokensTable`, `pathsTable`, `featuresTable`, `layerEvalTable`,
 *   `allLayersEvalTable`, `summaryTable`), charts as SVG strings and their text counterparts
 *   (`plotToSvg`, `histogramSvg`/`histogramText`, `histogramBins`, `binsFromEdges`,
 *   `heatmapSvg`/`heatmapText`, `scatterSvg`/`scatterText`, `graphText`,
 *   `NEGATIVE_COLOR`, `POSITIVE_COLOR`).
 *
 * @example
 * ```ts
 * import { showTokens } from "@transcoder-circuits/core/display";
 * const d = showTokens(["Oh", ",", " 6", "M"], [0, 0, 0.12, 7.52], { current: 3 });
 * d.text; // "Oh, 6(0.12)[[M]](7.52)"
 * ```
 *
 * @module
 */
export { type Align, htmlTable, textTable } from "./format.ts";
export {
  type DenoJupyter,
  Displayable,
  displayable,
  flushOutputs,
  inJupyter,
  isJupyterDisplayable,
  JUPYTER_DISPLAY,
  type JupyterDisplayable,
  type MimeBundle,
  print,
  row,
  show,
  type ShowOptions,
  stack,
} from "./jupyter.ts";
export {
  tokensAnsi,
  type TokenSequence,
  tokensHtml,
  type TokensOptions,
  tokensText,
} from "./tokens_html.ts";
export {
  allLayersEvalTable,
  featuresTable,
  layerEvalTable,
  pathsTable,
  type RankedFeature,
  type RankedToken,
  tokensTable,
  type TokenTableKind,
  type TopBottom,
  type TopBottomLabels,
} from "./tables.ts";
export {
  type BinOptions,
  binsFromEdges,
  type ChartOptions,
  type ColorScheme,
  type HeatmapOptions,
  heatmapSvg,
  heatmapText,
  type HistogramBin,
  histogramBins,
  type HistogramInput,
  type HistogramOptions,
  histogramSvg,
  histogramText,
  NEGATIVE_COLOR,
  type PlotOptions,
  plotToSvg,
  POSITIVE_COLOR,
  type ScatterOptions,
  scatterSvg,
  scatterText,
} from "./charts.ts";
export { graphText } from "./circuit_text.ts";
export {
  graphViewerHtml,
  type GraphViewerOptions,
  showGraphViewer,
  type ShowGraphViewerOptions,
  type ViewerGraph,
  type ViewerLink,
  type ViewerNode,
  type ViewerNodeDetails,
  writeGraphViewer,
} from "./graph_viewer.ts";
export { circuitGraphToViewer, type CircuitGraphViewerOptions } from "./circuit_graph_viewer.ts";
export { type DashboardOptions, showDashboard } from "./dashboard_html.ts";
export {
  type FeatureIndexRow,
  renderDashboardReport,
  type ReportInfo,
} from "./dashboard_report.ts";
export {
  type EvalResult,
  showEval,
  showGraph,
  showHeatmap,
  showHistogram,
  showPaths,
  showScatter,
  showTokens,
  showTopFeatures,
  showTopTokens,
  type TopFeaturesOptions,
  type TopTokensOptions,
} from "./show.ts";
export {
  dashboardFromStats,
  type ExampleRef,
  type ExampleWindow,
  type FeatureStatsLike,
  type StatsDashboardOptions,
  summaryTable,
} from "./adapters.ts";

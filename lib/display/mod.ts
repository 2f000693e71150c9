/**
 * Display of every result type: rich output in Deno's Jupyter kernel (a `Displayable`'s MIME
 * bundle), readable text in terminals, token highlighting HTML, tables, and Observable Plot
 * charts rendered headlessly to SVG through linkedom.
 *
 * @example
 * ```ts
 * import { showTokens } from "./mod.ts";
 * const d = showTokens(["Oh", ",", " 6", "M"], [0, 0, 0.12, 7.52], { current: 3 });
 * d.text; // "Oh, 6(0.12)[[M]](7.52)"
 * ```
 *
 * @module
 */
export * from "./format.ts";
export * from "./jupyter.ts";
export * from "./tokens_html.ts";
export * from "./tables.ts";
export * from "./charts.ts";
export * from "./circuit_chart.ts";
export * from "./dashboard_html.ts";
export * from "./dashboard_report.ts";
export * from "./show.ts";
export * from "./adapters.ts";

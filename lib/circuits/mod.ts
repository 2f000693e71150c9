/**
 * Circuit analysis with transcoders: feature vectors, linear attributions with frozen attention
 * and linearised LayerNorms, greedy path search, filters, graphs with error nodes, and checks
 * of attributions against interventions.
 *
 * @module
 */
export * from "./feature_vector.ts";
export * from "./context.ts";
export * from "./attribution.ts";
export * from "./filters.ts";
export * from "./paths.ts";
export * from "./graph.ts";
export * from "./graph_layout.ts";
export * from "./weight_products.ts";
export * from "./intervention.ts";

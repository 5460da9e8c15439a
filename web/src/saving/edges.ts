import type { GraphEdge } from "../api/graph";

/** An edge's identity: its four ends, as the canvas service matches edges. */
export function edgeKey(edge: GraphEdge): string {
  return JSON.stringify([edge.source, edge.source_port, edge.target, edge.target_port]);
}

/** The edges of a graph by identity, in the graph's order (a repeated edge counts once). */
export function edgesByKey(edges: readonly GraphEdge[]): Map<string, GraphEdge> {
  return new Map(edges.map((edge) => [edgeKey(edge), edge]));
}

// The edits a user makes to a graph, as pure functions: each returns a new graph that shares
// every node and edge it did not touch, so memoised views of those stay as they are.

import type { Graph, GraphEdge, GraphNode, Position } from "../api/graph";

/** An edge's id on the canvas; the same connection twice (which validation reports) gets a
 * suffix so that every id stays unique. */
export function edgeIds(edges: readonly GraphEdge[]): string[] {
  const seen = new Map<string, number>();
  return edges.map((edge) => {
    const base = `${edge.source}.${edge.source_port}>${edge.target}.${edge.target_port}`;
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    return count === 0 ? base : `${base}#${String(count + 1)}`;
  });
}

export function addNodes(graph: Graph, nodes: readonly GraphNode[], edges: readonly GraphEdge[] = []): Graph {
  return { nodes: [...graph.nodes, ...nodes], edges: [...graph.edges, ...edges] };
}

export function addEdge(graph: Graph, edge: GraphEdge): Graph {
  return { nodes: graph.nodes, edges: [...graph.edges, edge] };
}

/** The graph without `nodeIds`, their edges and the edges named by `edgeIdsToRemove`. */
export function removeElements(
  graph: Graph,
  nodeIds: ReadonlySet<string>,
  edgeIdsToRemove: ReadonlySet<string>,
): Graph {
  if (nodeIds.size === 0 && edgeIdsToRemove.size === 0) return graph;
  const ids = edgeIds(graph.edges);
  const edges = graph.edges.filter(
    (edge, index) =>
      !nodeIds.has(edge.source) && !nodeIds.has(edge.target) && !edgeIdsToRemove.has(ids[index] ?? ""),
  );
  const nodes = nodeIds.size === 0 ? graph.nodes : graph.nodes.filter((node) => !nodeIds.has(node.id));
  if (nodes.length === graph.nodes.length && edges.length === graph.edges.length) return graph;
  return { nodes, edges };
}

/** The graph with nodes at new positions; the same graph when none of them moved. */
export function moveNodes(graph: Graph, positions: ReadonlyMap<string, Position>): Graph {
  const nodes = graph.nodes.map((node) => {
    const to = positions.get(node.id);
    if (to === undefined || (to.x === node.position.x && to.y === node.position.y)) return node;
    return { ...node, position: { x: to.x, y: to.y } };
  });
  return nodes.some((node, index) => node !== graph.nodes[index]) ? { nodes, edges: graph.edges } : graph;
}

export function setProperties(graph: Graph, nodeId: string, properties: Record<string, unknown>): Graph {
  return {
    nodes: graph.nodes.map((node) => (node.id === nodeId ? { ...node, properties } : node)),
    edges: graph.edges,
  };
}

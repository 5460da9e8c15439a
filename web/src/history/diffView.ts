// Two versions' structural diff as something to draw: the newer graph with the nodes and edges
// the older one had and the newer lost put back as ghosts, and a mark for each node and edge
// that was added, changed or removed. The diff itself is the server's (GET .../diff); the two
// graphs only say where the ghosts were and what the marked things are.

import type { GraphDiff } from "../api/canvases";
import type { Graph, GraphEdge, GraphNode } from "../api/graph";
import type { FlowEdge } from "../editor/flowNodes";
import { edgeIds } from "../editor/graphEdits";

export type DiffKind = "added" | "changed" | "removed";

export interface NodeMark {
  kind: DiffKind;
  /** What changed on a changed node, as a person names it: "position", "name", "type". */
  fields: readonly string[];
}

export interface DiffMarks {
  /** By node id. */
  nodes: ReadonlyMap<string, NodeMark>;
  /** By the id the editor gives each edge of the drawn graph. */
  edges: ReadonlyMap<string, DiffKind>;
}

export interface DiffCounts {
  added: { nodes: number; edges: number };
  changed: { nodes: number };
  removed: { nodes: number; edges: number };
}

export interface DiffView {
  /** The newer graph, with what was removed drawn back in. */
  graph: Graph;
  marks: DiffMarks;
  counts: DiffCounts;
}

function edgeKey(edge: GraphEdge): string {
  return `${edge.source}\n${edge.source_port}\n${edge.target}\n${edge.target_port}`;
}

/** A changed field as a person names it: "properties.name" is the node's "name". */
export function fieldLabel(field: string): string {
  return field.startsWith("properties.") ? field.slice("properties.".length) : field;
}

/** What to draw for `diff`, the change from graph `older` to graph `newer`. */
export function diffView(older: Graph, newer: Graph, diff: GraphDiff): DiffView {
  const nodes = new Map<string, NodeMark>();
  const newerIds = new Set(newer.nodes.map((node) => node.id));
  for (const id of diff.nodes_added) {
    if (newerIds.has(id)) nodes.set(id, { kind: "added", fields: [] });
  }
  for (const change of diff.nodes_changed) {
    if (newerIds.has(change.node)) {
      nodes.set(change.node, { kind: "changed", fields: change.fields.map(fieldLabel) });
    }
  }
  const removedIds = new Set(diff.nodes_removed.filter((id) => !newerIds.has(id)));
  const ghosts: GraphNode[] = older.nodes.filter((node) => removedIds.has(node.id));
  for (const ghost of ghosts) nodes.set(ghost.id, { kind: "removed", fields: [] });

  const added = new Set(diff.edges_added.map(edgeKey));
  const newerEdges = new Set(newer.edges.map(edgeKey));
  const ghostEdges = diff.edges_removed.filter((edge) => !newerEdges.has(edgeKey(edge)));
  const graph: Graph = {
    nodes: [...newer.nodes, ...ghosts],
    edges: [...newer.edges, ...ghostEdges],
  };
  const ids = edgeIds(graph.edges);
  const edges = new Map<string, DiffKind>();
  graph.edges.forEach((edge, index) => {
    const id = ids[index];
    if (id === undefined) return;
    if (index >= newer.edges.length) edges.set(id, "removed");
    else if (added.has(edgeKey(edge))) edges.set(id, "added");
  });

  const count = (kind: DiffKind, of: ReadonlyMap<string, DiffKind | NodeMark>) =>
    [...of.values()].filter((mark) => (typeof mark === "string" ? mark : mark.kind) === kind)
      .length;
  return {
    graph,
    marks: { nodes, edges },
    counts: {
      added: { nodes: count("added", nodes), edges: count("added", edges) },
      changed: { nodes: count("changed", nodes) },
      removed: { nodes: count("removed", nodes), edges: count("removed", edges) },
    },
  };
}

/** The editor's edges with their marks: a class for the outline and dash, and the mark as
 * the edge's label (so it is told in words, not by colour alone). */
export function markEdges(edges: readonly FlowEdge[], marks: ReadonlyMap<string, DiffKind>): FlowEdge[] {
  return edges.map((edge) => {
    const kind = marks.get(edge.id);
    if (kind === undefined) return edge;
    return {
      ...edge,
      className: `sg-diff-edge is-${kind}`,
      label: kind,
      ariaLabel: `${edge.ariaLabel ?? "Edge"} (${kind})`,
    };
  });
}

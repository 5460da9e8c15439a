// What another person changed between two graphs, in a form the merge view can list: nodes
// added, removed, moved, retyped or with a property changed, and edges drawn or removed.

import type { Graph, GraphEdge, GraphNode, NodeType, Position } from "../api/graph";
import { jsonEqual } from "../api/json";
import { edgesByKey } from "./edges";

export type GraphChange =
  | { kind: "added"; node: GraphNode }
  | { kind: "removed"; node: GraphNode }
  | { kind: "moved"; node: GraphNode; from: Position }
  | { kind: "retyped"; node: GraphNode; from: string }
  | { kind: "property"; node: GraphNode; key: string; from: unknown; to: unknown }
  | { kind: "connected"; edge: GraphEdge }
  | { kind: "disconnected"; edge: GraphEdge };

/** The changes that turn `base` into `other`, nodes in `other`'s order, then removals, then
 * edges. A changed node reports each changed field; `node` is the node as `other` has it. */
export function describeChanges(base: Graph, other: Graph): GraphChange[] {
  const before = new Map(base.nodes.map((node) => [node.id, node]));
  const after = new Set(other.nodes.map((node) => node.id));
  const changes: GraphChange[] = [];
  for (const node of other.nodes) {
    const old = before.get(node.id);
    if (old === undefined) {
      changes.push({ kind: "added", node });
      continue;
    }
    if (old.type !== node.type) changes.push({ kind: "retyped", node, from: old.type });
    if (!jsonEqual(old.position, node.position)) {
      changes.push({ kind: "moved", node, from: old.position });
    }
    const keys = new Set([...Object.keys(old.properties), ...Object.keys(node.properties)]);
    for (const key of keys) {
      const [from, to] = [old.properties[key], node.properties[key]];
      if (!jsonEqual(from, to)) changes.push({ kind: "property", node, key, from, to });
    }
  }
  for (const node of base.nodes) {
    if (!after.has(node.id)) changes.push({ kind: "removed", node });
  }
  const [oldEdges, newEdges] = [edgesByKey(base.edges), edgesByKey(other.edges)];
  for (const [key, edge] of newEdges) {
    if (!oldEdges.has(key)) changes.push({ kind: "connected", edge });
  }
  for (const [key, edge] of oldEdges) {
    if (!newEdges.has(key)) changes.push({ kind: "disconnected", edge });
  }
  return changes;
}

/** How a node is named to people: its type's title and its `name` property, else its id. */
export function nodeLabel(node: GraphNode, nodeTypes: readonly NodeType[] = []): string {
  const title = nodeTypes.find((type) => type.name === node.type)?.title ?? node.type;
  const name = node.properties.name;
  return `${title} “${typeof name === "string" && name !== "" ? name : node.id}”`;
}

/** A property value as a short phrase. */
export function valueText(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = typeof value === "string" ? `“${value}”` : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/** One change as a sentence: "Moved Shot “Opening”", "Set Scene “Dock”'s lighting to “night”". */
export function changeText(
  change: GraphChange,
  graphs: { base: Graph; other: Graph },
  nodeTypes: readonly NodeType[] = [],
): string {
  const label = (node: GraphNode) => nodeLabel(node, nodeTypes);
  const named = (id: string) => {
    const node =
      graphs.other.nodes.find((n) => n.id === id) ?? graphs.base.nodes.find((n) => n.id === id);
    return node === undefined ? `“${id}”` : label(node);
  };
  const edgeText = (edge: GraphEdge) =>
    `${named(edge.source)} (${edge.source_port}) to ${named(edge.target)} (${edge.target_port})`;
  switch (change.kind) {
    case "added":
      return `Added ${label(change.node)}`;
    case "removed":
      return `Removed ${label(change.node)}`;
    case "moved":
      return `Moved ${label(change.node)}`;
    case "retyped":
      return `Changed ${label(change.node)} from a ${change.from} node`;
    case "property":
      return change.to === undefined
        ? `Cleared ${label(change.node)}'s ${change.key}`
        : `Set ${label(change.node)}'s ${change.key} to ${valueText(change.to)}`;
    case "connected":
      return `Connected ${edgeText(change.edge)}`;
    case "disconnected":
      return `Disconnected ${edgeText(change.edge)}`;
  }
}

// The graph as React Flow's nodes and edges. Each node object is kept (the same object) while
// nothing it shows changed, so React Flow and the memoised node component skip it: an edit or
// a live event re-renders the nodes it touched, not all five hundred.

import type { Edge, Node, NodeChange } from "@xyflow/react";

import type { NodeResult } from "../api/events";
import type { Graph, GraphEdge, GraphNode, GraphProblem, NodeType, Position } from "../api/graph";
import type { Registry } from "./connections";
import { edgeIds } from "./graphEdits";
import { sameResult } from "./results";

export const NODE_KIND = "shotgraph";

export type NodeData = {
  typeName: string;
  /** The registry's description of the node's type; undefined for a type it does not know. */
  type: NodeType | undefined;
  properties: Record<string, unknown>;
  /** Every problem pinned to the node, its ports and its fields. */
  problems: readonly GraphProblem[];
  result: NodeResult | undefined;
};

export type FlowNode = Node<NodeData, typeof NODE_KIND>;
export type FlowEdge = Edge;

const NO_PROBLEMS: readonly GraphProblem[] = [];

export interface Decorations {
  types: Registry;
  problemsByNode: ReadonlyMap<string, readonly GraphProblem[]>;
  nodeStates: ReadonlyMap<string, NodeResult> | undefined;
}

/** Problems by the node they are pinned to, and by the index of the edge. */
export function groupProblems(problems: readonly GraphProblem[]): {
  byNode: Map<string, GraphProblem[]>;
  byEdge: Map<number, GraphProblem[]>;
} {
  const byNode = new Map<string, GraphProblem[]>();
  const byEdge = new Map<number, GraphProblem[]>();
  for (const problem of problems) {
    if (problem.edge !== undefined) {
      byEdge.set(problem.edge, [...(byEdge.get(problem.edge) ?? []), problem]);
    } else if (problem.node !== undefined) {
      byNode.set(problem.node, [...(byNode.get(problem.node) ?? []), problem]);
    }
  }
  return { byNode, byEdge };
}

function sameProblems(a: readonly GraphProblem[], b: readonly GraphProblem[]): boolean {
  return (
    a === b ||
    (a.length === b.length &&
      a.every((p, i) => {
        const q = b[i];
        return (
          q !== undefined && p.kind === q.kind && p.message === q.message && p.port === q.port && p.field === q.field
        );
      }))
  );
}

/** What a node is called on the canvas: its type's title, and the first required text
 * property it has (a character's name, a scene's location). */
export function nodeSubtitle(type: NodeType | undefined, properties: Record<string, unknown>): string {
  const required = type?.properties.required;
  if (!Array.isArray(required)) return "";
  for (const name of required) {
    const value = typeof name === "string" ? properties[name] : undefined;
    if (typeof value === "string" && value !== "") return value;
  }
  return "";
}

export function nodeLabel(typeName: string, type: NodeType | undefined, properties: Record<string, unknown>): string {
  const subtitle = nodeSubtitle(type, properties);
  const title = type?.title ?? typeName;
  return subtitle === "" ? title : `${title}: ${subtitle}`;
}

function dataOf(node: GraphNode, decorations: Decorations, previous: NodeData | undefined): NodeData {
  const type = decorations.types.get(node.type);
  const problems = decorations.problemsByNode.get(node.id) ?? NO_PROBLEMS;
  const result = decorations.nodeStates?.get(node.id);
  if (
    previous !== undefined &&
    previous.typeName === node.type &&
    previous.type === type &&
    previous.properties === node.properties &&
    sameProblems(previous.problems, problems) &&
    sameResult(previous.result, result)
  ) {
    return previous;
  }
  return { typeName: node.type, type, properties: node.properties, problems, result };
}

/** The canvas's nodes for `graph`, reusing each of `previous` that shows the same, and keeping
 * what React Flow knows of each (selection, measured size, a drag in progress). `select`,
 * when given, replaces the selection. */
export function syncNodes(
  previous: readonly FlowNode[],
  graph: Graph,
  decorations: Decorations,
  select?: ReadonlySet<string>,
): FlowNode[] {
  const before = new Map(previous.map((node) => [node.id, node]));
  return graph.nodes.map((node) => {
    const old = before.get(node.id);
    const data = dataOf(node, decorations, old?.data);
    const selected = select === undefined ? (old?.selected ?? false) : select.has(node.id);
    // A node being dragged stays under the pointer whatever else changes meanwhile.
    const position = old?.dragging === true ? old.position : node.position;
    if (
      old !== undefined &&
      old.data === data &&
      (old.selected ?? false) === selected &&
      old.position.x === position.x &&
      old.position.y === position.y
    ) {
      return old;
    }
    const state = data.result?.state;
    const flowNode: FlowNode = {
      ...old,
      id: node.id,
      type: NODE_KIND,
      position: { x: position.x, y: position.y },
      data,
      selected,
      ariaLabel: nodeLabel(node.type, data.type, data.properties),
    };
    if (state !== undefined) {
      // React Flow spreads these onto the node's element, which carries data-testid too.
      const attributes: Record<string, string> = { "data-node-state": state };
      flowNode.domAttributes = attributes;
    } else {
      delete flowNode.domAttributes;
    }
    return flowNode;
  });
}

/** The canvas's edges: each problem an edge has is its label, and marks it. */
export function flowEdges(
  graph: Graph,
  problemsByEdge: ReadonlyMap<number, readonly GraphProblem[]>,
  selected: ReadonlySet<string>,
): FlowEdge[] {
  const ids = edgeIds(graph.edges);
  return graph.edges.map((edge: GraphEdge, index) => {
    const id = ids[index] ?? String(index);
    const problems = problemsByEdge.get(index);
    const flowEdge: FlowEdge = {
      id,
      source: edge.source,
      sourceHandle: edge.source_port,
      target: edge.target,
      targetHandle: edge.target_port,
      selected: selected.has(id),
      ariaLabel: `${edge.source_port} to ${edge.target_port}`,
    };
    if (problems !== undefined && problems.length > 0) {
      flowEdge.className = "has-problem";
      flowEdge.label = problems.map((problem) => problem.message).join("; ");
    }
    return flowEdge;
  });
}

/** Where nodes ended up once a drag (or a nudge with the arrow keys) is over. React Flow marks
 * the positions of a drag in progress `dragging: true`, and its end `dragging: false`. */
export function finishedMoves(changes: readonly NodeChange<FlowNode>[]): Map<string, Position> {
  const moved = new Map<string, Position>();
  for (const change of changes) {
    if (change.type === "position" && change.dragging === false && change.position !== undefined) {
      moved.set(change.id, change.position);
    }
  }
  return moved;
}

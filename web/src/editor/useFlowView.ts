import { applyNodeChanges, type EdgeChange, type NodeChange } from "@xyflow/react";
import { useCallback, useMemo, useState } from "react";

import type { Graph, GraphProblem } from "../api/graph";
import { flowEdges, syncNodes, type Decorations, type FlowEdge, type FlowNode } from "./flowNodes";
import { edgeIds } from "./graphEdits";

const NO_EDGES: ReadonlySet<string> = new Set();

interface NodeView {
  graph: Graph;
  decorations: Decorations;
  nodes: FlowNode[];
  /** The selection to apply when the next graph is shown (the nodes just added or pasted). */
  select: ReadonlySet<string> | undefined;
}

export interface FlowView {
  nodes: FlowNode[];
  edges: FlowEdge[];
  selectedNodeIds: string[];
  selectedEdgeIds: ReadonlySet<string>;
  /** React Flow's own node changes: selection, measured sizes, a drag in progress. */
  applyNodeChanges: (changes: NodeChange<FlowNode>[]) => void;
  onEdgesChange: (changes: EdgeChange<FlowEdge>[]) => void;
  /** Select these nodes (and no edge) once the next graph shows: the ones just added. */
  selectNext: (nodeIds: ReadonlySet<string>) => void;
  selectAll: () => void;
  deselect: () => void;
}

/** What React Flow shows of `graph`: its nodes, kept between renders so that a drag moves
 * them without a new graph, and its edges; and what is selected. */
export function useFlowView(
  graph: Graph,
  decorations: Decorations,
  problemsByEdge: ReadonlyMap<number, readonly GraphProblem[]>,
): FlowView {
  const [view, setView] = useState<NodeView>(() => ({
    graph,
    decorations,
    nodes: syncNodes([], graph, decorations),
    select: undefined,
  }));
  let nodes = view.nodes;
  if (view.graph !== graph || view.decorations !== decorations) {
    nodes = syncNodes(view.nodes, graph, decorations, view.select);
    setView({ graph, decorations, nodes, select: undefined });
  }
  const [selectedEdgeIds, setSelectedEdgeIds] = useState<ReadonlySet<string>>(NO_EDGES);
  const edges = useMemo(() => flowEdges(graph, problemsByEdge, selectedEdgeIds), [graph, problemsByEdge, selectedEdgeIds]);

  const applyChanges = useCallback((changes: NodeChange<FlowNode>[]) => {
    setView((old) => ({ ...old, nodes: applyNodeChanges(changes, old.nodes) }));
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<FlowEdge>[]) => {
    const selections = changes.filter((change) => change.type === "select");
    if (selections.length === 0) return;
    setSelectedEdgeIds((old) => {
      const next = new Set(old);
      for (const change of selections) {
        if (change.selected) next.add(change.id);
        else next.delete(change.id);
      }
      return next;
    });
  }, []);

  const selectNext = useCallback((nodeIds: ReadonlySet<string>) => {
    setView((old) => ({ ...old, select: nodeIds }));
    setSelectedEdgeIds(NO_EDGES);
  }, []);

  const selectAll = useCallback(() => {
    setView((old) => ({
      ...old,
      nodes: old.nodes.map((node) => (node.selected === true ? node : { ...node, selected: true })),
    }));
    setSelectedEdgeIds(new Set(edgeIds(graph.edges)));
  }, [graph]);

  const deselect = useCallback(() => {
    setView((old) => ({
      ...old,
      nodes: old.nodes.map((node) => (node.selected === true ? { ...node, selected: false } : node)),
    }));
    setSelectedEdgeIds(NO_EDGES);
  }, []);

  return {
    nodes,
    edges,
    selectedNodeIds: nodes.filter((node) => node.selected === true).map((node) => node.id),
    selectedEdgeIds,
    applyNodeChanges: applyChanges,
    onEdgesChange,
    selectNext,
    selectAll,
    deselect,
  };
}

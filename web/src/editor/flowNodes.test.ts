import { describe, expect, it } from "vitest";

import type { NodeResult } from "../api/events";
import type { Graph, GraphNode, GraphProblem } from "../api/graph";
import { registryOf } from "./connections";
import { finishedMoves, flowEdges, groupProblems, nodeLabel, syncNodes, type Decorations, type FlowNode } from "./flowNodes";
import { moveNodes, setProperties } from "./graphEdits";
import { NODE_TYPES } from "./nodeTypes.fixture";

const TYPES = registryOf(NODE_TYPES);

function decorations(problems: GraphProblem[] = [], states?: Map<string, NodeResult>): Decorations {
  return { types: TYPES, problemsByNode: groupProblems(problems).byNode, nodeStates: states };
}

/** A graph of `count` shots in a grid, as large as a canvas may be. */
function shots(count: number): Graph {
  const nodes: GraphNode[] = Array.from({ length: count }, (_, index) => ({
    id: `n${String(index)}`,
    type: "shot",
    position: { x: (index % 25) * 240, y: Math.floor(index / 25) * 160 },
    properties: { name: `Shot ${String(index)}` },
  }));
  return { nodes, edges: [] };
}

describe("syncNodes", () => {
  it("keeps every node object an edit did not touch, so none of them renders again", () => {
    const graph = shots(500);
    const before = syncNodes([], graph, decorations());
    const moved = syncNodes(before, moveNodes(graph, new Map([["n7", { x: 1, y: 2 }]])), decorations());
    const changed = moved.filter((node, index) => node !== before[index]);
    expect(changed.map((node) => node.id)).toEqual(["n7"]);
    expect(changed[0]?.position).toEqual({ x: 1, y: 2 });
    expect(changed[0]?.data).toBe(before[7]?.data);

    const renamed = syncNodes(moved, setProperties(graph, "n9", { name: "Close-up" }), decorations());
    expect(renamed.filter((node, index) => node !== moved[index]).map((node) => node.id)).toEqual(["n7", "n9"]);
  });

  it("touches only the nodes whose state or problems changed", () => {
    const graph = shots(50);
    const before = syncNodes([], graph, decorations());
    const states = new Map([["n3", { node_id: "n3", key: "k", state: "running" as const, progress: 10 }]]);
    const problems = [{ kind: "missing_connection", message: "needs a scene", node: "n4", port: "scene" }];
    const after = syncNodes(before, graph, decorations(problems, states));
    expect(after.filter((node, index) => node !== before[index]).map((node) => node.id)).toEqual(["n3", "n4"]);
    // The same again (a repeated event, a re-validation) changes nothing.
    const again = syncNodes(after, graph, decorations([...problems.map((p) => ({ ...p }))], new Map(states)));
    expect(again.every((node, index) => node === after[index])).toBe(true);
  });

  it("marks the node element with its execution state", () => {
    const graph = shots(2);
    const states = new Map([["n1", { node_id: "n1", key: "k", state: "failed" as const, error: "boom" }]]);
    const nodes = syncNodes([], graph, decorations([], states));
    expect(nodes[1]?.domAttributes).toEqual({ "data-node-state": "failed" });
    expect(nodes[0]?.domAttributes).toBeUndefined();
    expect(syncNodes(nodes, graph, decorations())[1]?.domAttributes).toBeUndefined();
  });

  it("keeps the selection, measured sizes and a drag in progress", () => {
    const graph = shots(2);
    const [first, second] = syncNodes([], graph, decorations());
    if (first === undefined || second === undefined) throw new Error("no nodes");
    const held: FlowNode[] = [
      { ...first, selected: true, measured: { width: 192, height: 90 } },
      { ...second, dragging: true, position: { x: 999, y: 999 } },
    ];
    const next = syncNodes(held, setProperties(graph, "n0", { name: "x" }), decorations());
    expect(next[0]).toMatchObject({ selected: true, measured: { width: 192, height: 90 } });
    expect(next[1]?.position).toEqual({ x: 999, y: 999 });
  });

  it("replaces the selection when told", () => {
    const graph = shots(3);
    const selected = syncNodes([], graph, decorations()).map((node) => ({ ...node, selected: true }));
    const next = syncNodes(selected, graph, decorations(), new Set(["n2"]));
    expect(next.map((node) => node.selected)).toEqual([false, false, true]);
  });

  it("names a node by its type and first required text", () => {
    expect(nodeLabel("shot", TYPES.get("shot"), { name: "Opening" })).toBe("Shot: Opening");
    expect(nodeLabel("scene", TYPES.get("scene"), { location: "a beach" })).toBe("Scene: a beach");
    expect(nodeLabel("shot", TYPES.get("shot"), {})).toBe("Shot");
    expect(nodeLabel("hologram", undefined, {})).toBe("hologram");
  });
});

describe("flowEdges", () => {
  it("marks an edge's problems on it", () => {
    const graph: Graph = {
      nodes: shots(2).nodes,
      edges: [{ source: "n0", source_port: "frame", target: "n1", target_port: "scene" }],
    };
    const { byEdge } = groupProblems([{ kind: "port_type_mismatch", message: "image is not a scene", edge: 0 }]);
    const [edge] = flowEdges(graph, byEdge, new Set(["n0.frame>n1.scene"]));
    expect(edge).toMatchObject({
      id: "n0.frame>n1.scene",
      sourceHandle: "frame",
      targetHandle: "scene",
      selected: true,
      className: "has-problem",
      label: "image is not a scene",
    });
  });
});

describe("finishedMoves", () => {
  it("reads only the positions a drag ended at", () => {
    const moves = finishedMoves([
      { id: "a", type: "position", position: { x: 1, y: 1 }, dragging: true },
      { id: "b", type: "position", position: { x: 2, y: 2 }, dragging: false },
      { id: "c", type: "select", selected: true },
      { id: "d", type: "position", dragging: false },
    ]);
    expect([...moves]).toEqual([["b", { x: 2, y: 2 }]]);
  });
});

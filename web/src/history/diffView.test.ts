import { describe, expect, it } from "vitest";

import type { GraphDiff } from "../api/canvases";
import type { Graph, GraphEdge, GraphNode } from "../api/graph";
import type { FlowEdge } from "../editor/flowNodes";
import { diffView, fieldLabel, markEdges } from "./diffView";

const node = (id: string, type: string, properties: Record<string, unknown> = {}, x = 0): GraphNode => ({
  id,
  type,
  position: { x, y: 0 },
  properties,
});
const edge = (source: string, source_port: string, target: string, target_port: string): GraphEdge => ({
  source,
  source_port,
  target,
  target_port,
});

const adaToShot = edge("ada", "character", "s1", "characters");
const yardToShot = edge("yard", "scene", "s1", "scene");
const adaToShot2 = edge("ada", "character", "s2", "characters");

// Version 1: Ada and the yard feed shot 1. Version 2: Ada renamed and moved, the yard gone
// (and its edge with it), shot 2 added and fed by Ada; shot 1 as it was.
const older: Graph = {
  nodes: [node("ada", "character", { name: "Ada" }), node("yard", "scene", { location: "Yard" }), node("s1", "shot")],
  edges: [adaToShot, yardToShot],
};
const newer: Graph = {
  nodes: [node("ada", "character", { name: "Ada L." }, 64), node("s1", "shot"), node("s2", "shot")],
  edges: [adaToShot, adaToShot2],
};
const diff: GraphDiff = {
  nodes_added: ["s2"],
  nodes_removed: ["yard"],
  nodes_changed: [{ node: "ada", fields: ["position", "properties.name"] }],
  edges_added: [adaToShot2],
  edges_removed: [yardToShot],
};

describe("a diff drawn on the graph", () => {
  it("draws the newer graph with the removed nodes and edges put back as ghosts", () => {
    const { graph } = diffView(older, newer, diff);
    expect(graph.nodes.map((n) => n.id)).toEqual(["ada", "s1", "s2", "yard"]);
    // The ghost stands where it stood in the older version, as it was there.
    expect(graph.nodes[3]).toEqual(older.nodes[1]);
    expect(graph.edges).toEqual([adaToShot, adaToShot2, yardToShot]);
  });

  it("marks each node added, changed (with what) or removed, and leaves the rest unmarked", () => {
    const { marks } = diffView(older, newer, diff);
    expect(Object.fromEntries(marks.nodes)).toEqual({
      s2: { kind: "added", fields: [] },
      ada: { kind: "changed", fields: ["position", "name"] },
      yard: { kind: "removed", fields: [] },
    });
    expect(marks.nodes.has("s1")).toBe(false);
  });

  it("marks edges by the ids the editor gives them", () => {
    const { marks } = diffView(older, newer, diff);
    expect(Object.fromEntries(marks.edges)).toEqual({
      "ada.character>s2.characters": "added",
      "yard.scene>s1.scene": "removed",
    });
  });

  it("counts what it marks", () => {
    expect(diffView(older, newer, diff).counts).toEqual({
      added: { nodes: 1, edges: 1 },
      changed: { nodes: 1 },
      removed: { nodes: 1, edges: 1 },
    });
  });

  it("marks nothing for two equal versions", () => {
    const none: GraphDiff = { nodes_added: [], nodes_removed: [], nodes_changed: [], edges_added: [], edges_removed: [] };
    const view = diffView(newer, newer, none);
    expect(view.graph).toEqual(newer);
    expect(view.marks.nodes.size + view.marks.edges.size).toBe(0);
  });

  it("ignores what a diff names but neither graph holds", () => {
    const stray: GraphDiff = { ...diff, nodes_added: ["s2", "ghost"], nodes_removed: ["yard", "s1"] };
    const { marks, graph } = diffView(older, newer, stray);
    expect(marks.nodes.has("ghost")).toBe(false);
    expect(marks.nodes.has("s1")).toBe(false); // in the newer graph: not removed after all
    expect(graph.nodes.filter((n) => n.id === "s1")).toHaveLength(1);
  });

  it("names a changed field as a person would", () => {
    expect(["type", "position", "properties.set_piece"].map(fieldLabel)).toEqual(["type", "position", "set_piece"]);
  });
});

describe("marked edges", () => {
  const flowEdge = (id: string): FlowEdge => ({ id, source: "a", target: "b", ariaLabel: "character to characters" });

  it("carry their mark as a class and as their label, and leave the others as they were", () => {
    const plain = flowEdge("kept");
    const marked = markEdges([plain, flowEdge("new"), flowEdge("gone")], new Map([["new", "added"], ["gone", "removed"]] as const));
    expect(marked[0]).toBe(plain);
    expect(marked[1]).toMatchObject({ className: "sg-diff-edge is-added", label: "added", ariaLabel: "character to characters (added)" });
    expect(marked[2]).toMatchObject({ className: "sg-diff-edge is-removed", label: "removed" });
  });
});

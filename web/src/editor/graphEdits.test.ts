import { describe, expect, it } from "vitest";

import type { Graph } from "../api/graph";
import { edgeIds, moveNodes, removeElements, setProperties } from "./graphEdits";

const GRAPH: Graph = {
  nodes: [
    { id: "hero", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada" } },
    { id: "beach", type: "scene", position: { x: 0, y: 200 }, properties: {} },
    { id: "s1", type: "shot", position: { x: 300, y: 100 }, properties: {} },
  ],
  edges: [
    { source: "hero", source_port: "character", target: "s1", target_port: "characters" },
    { source: "beach", source_port: "scene", target: "s1", target_port: "scene" },
  ],
};

describe("graph edits", () => {
  it("names edges uniquely, even a repeated one", () => {
    const [first] = GRAPH.edges;
    if (first === undefined) throw new Error("no edge");
    expect(edgeIds([first, first])).toEqual(["hero.character>s1.characters", "hero.character>s1.characters#2"]);
  });

  it("removes a node with its edges", () => {
    const next = removeElements(GRAPH, new Set(["s1"]), new Set());
    expect(next.nodes.map((node) => node.id)).toEqual(["hero", "beach"]);
    expect(next.edges).toEqual([]);
  });

  it("removes an edge by its id and keeps its nodes", () => {
    const next = removeElements(GRAPH, new Set(), new Set(["beach.scene>s1.scene"]));
    expect(next.nodes).toBe(GRAPH.nodes);
    expect(next.edges).toEqual([GRAPH.edges[0]]);
  });

  it("returns the same graph when nothing is removed", () => {
    expect(removeElements(GRAPH, new Set(), new Set())).toBe(GRAPH);
    expect(removeElements(GRAPH, new Set(["gone"]), new Set(["nothing"]))).toBe(GRAPH);
  });

  it("moves nodes, sharing the ones that stay", () => {
    const next = moveNodes(GRAPH, new Map([["beach", { x: 16, y: 32 }]]));
    expect(next.nodes[1]?.position).toEqual({ x: 16, y: 32 });
    expect(next.nodes[0]).toBe(GRAPH.nodes[0]);
    expect(next.edges).toBe(GRAPH.edges);
    expect(moveNodes(GRAPH, new Map([["beach", { x: 0, y: 200 }]]))).toBe(GRAPH);
  });

  it("replaces one node's properties", () => {
    const next = setProperties(GRAPH, "hero", { name: "Grace" });
    expect(next.nodes[0]?.properties).toEqual({ name: "Grace" });
    expect(next.nodes[2]).toBe(GRAPH.nodes[2]);
  });
});

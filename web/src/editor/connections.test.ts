import { describe, expect, it } from "vitest";

import type { Graph, GraphEdge, GraphNode, NodeType } from "../api/graph";
import { connectionHint, connectionRefusal, edgeOf, endpointOf, registryOf, type Endpoint } from "./connections";
import { NODE_TYPES } from "./nodeTypes.fixture";

// An image filter: takes an image and makes one, so that chains (and loops) can be drawn.
const FILTER: NodeType = {
  name: "filter",
  title: "Filter",
  description: "",
  properties: { type: "object" },
  inputs: [{ name: "image", type: "image", min: 1, max: 1 }],
  outputs: [{ name: "image", type: "image", min: 0, max: null }],
};
const TYPES = registryOf([...NODE_TYPES, FILTER]);

function node(id: string, type: string): GraphNode {
  return { id, type, position: { x: 0, y: 0 }, properties: {} };
}

function edge(source: string, source_port: string, target: string, target_port: string): GraphEdge {
  return { source, source_port, target, target_port };
}

const out = (node: string, port: string): Endpoint => ({ node, port, side: "output" });
const into = (node: string, port: string): Endpoint => ({ node, port, side: "input" });

const GRAPH: Graph = {
  nodes: [node("hero", "character"), node("hero2", "character"), node("beach", "scene"), node("s1", "shot")],
  edges: [],
};

describe("connectionRefusal", () => {
  it("allows an output into an input of its type", () => {
    expect(connectionRefusal(GRAPH, TYPES, out("hero", "character"), into("s1", "characters"))).toBeNull();
    expect(connectionRefusal(GRAPH, TYPES, out("beach", "scene"), into("s1", "scene"))).toBeNull();
  });

  it("allows a connection drawn from the input end", () => {
    expect(connectionRefusal(GRAPH, TYPES, into("s1", "scene"), out("beach", "scene"))).toBeNull();
  });

  it("refuses another type, naming both", () => {
    expect(connectionRefusal(GRAPH, TYPES, out("hero", "character"), into("s1", "scene"))).toBe(
      "Shot.scene takes a scene, not a character",
    );
  });

  it("refuses two outputs or two inputs", () => {
    expect(connectionRefusal(GRAPH, TYPES, out("hero", "character"), out("beach", "scene"))).toMatch(/both ends are outputs/i);
    expect(connectionRefusal(GRAPH, TYPES, into("s1", "scene"), into("s1", "characters"))).toMatch(/both ends are inputs/i);
  });

  it("refuses a node connected to itself", () => {
    const graph: Graph = { nodes: [node("f", "filter")], edges: [] };
    expect(connectionRefusal(graph, TYPES, out("f", "image"), into("f", "image"))).toBe("Filter cannot connect to itself");
  });

  it("refuses the same connection twice", () => {
    const graph: Graph = { nodes: GRAPH.nodes, edges: [edge("hero", "character", "s1", "characters")] };
    expect(connectionRefusal(graph, TYPES, out("hero", "character"), into("s1", "characters"))).toBe(
      "Character.character is already connected to Shot.characters",
    );
    expect(connectionRefusal(graph, TYPES, out("hero2", "character"), into("s1", "characters"))).toBeNull();
  });

  it("refuses an input already holding its maximum", () => {
    const graph: Graph = {
      nodes: [...GRAPH.nodes, node("cave", "scene")],
      edges: [edge("beach", "scene", "s1", "scene")],
    };
    expect(connectionRefusal(graph, TYPES, out("cave", "scene"), into("s1", "scene"))).toBe(
      "Shot.scene takes at most 1 connection",
    );
  });

  it("counts up to a larger maximum", () => {
    const characters = Array.from({ length: 7 }, (_, index) => node(`c${String(index)}`, "character"));
    const full: Graph = {
      nodes: [...characters, node("s1", "shot")],
      edges: characters.slice(0, 6).map((c) => edge(c.id, "character", "s1", "characters")),
    };
    expect(connectionRefusal(full, TYPES, out("c6", "character"), into("s1", "characters"))).toBe(
      "Shot.characters takes at most 6 connections",
    );
  });

  it("refuses a connection that closes a loop", () => {
    const graph: Graph = {
      nodes: [node("a", "filter"), node("b", "filter"), node("c", "filter")],
      edges: [edge("a", "image", "b", "image"), edge("b", "image", "c", "image")],
    };
    // c's input is free, a's is free: c -> a would close a -> b -> c -> a.
    expect(connectionRefusal(graph, TYPES, out("c", "image"), into("a", "image"))).toMatch(/loop/);
    const open: Graph = { nodes: [...graph.nodes, node("d", "filter")], edges: graph.edges };
    expect(connectionRefusal(open, TYPES, out("c", "image"), into("d", "image"))).toBeNull();
  });

  it("refuses ports and nodes that do not exist", () => {
    expect(connectionRefusal(GRAPH, TYPES, out("hero", "character"), into("s1", "props"))).toBe('Shot has no input "props"');
    expect(connectionRefusal(GRAPH, TYPES, out("gone", "character"), into("s1", "characters"))).toMatch(/no longer/);
    const odd: Graph = { nodes: [node("x", "hologram"), node("s1", "shot")], edges: [] };
    expect(connectionRefusal(odd, TYPES, out("x", "beam"), into("s1", "scene"))).toMatch(/not a known kind/);
  });
});

describe("edges and handles", () => {
  it("makes the edge output to input whichever end came first", () => {
    const expected = edge("beach", "scene", "s1", "scene");
    expect(edgeOf(out("beach", "scene"), into("s1", "scene"))).toEqual(expected);
    expect(edgeOf(into("s1", "scene"), out("beach", "scene"))).toEqual(expected);
    expect(edgeOf(into("s1", "scene"), into("s1", "characters"))).toBeNull();
  });

  it("reads a source handle as an output and a target handle as an input", () => {
    expect(endpointOf({ nodeId: "s1", id: "frame", type: "source" })).toEqual(out("s1", "frame"));
    expect(endpointOf({ nodeId: "s1", id: "scene", type: "target" })).toEqual(into("s1", "scene"));
  });

  it("says where a dragged connection may go", () => {
    expect(connectionHint(GRAPH, TYPES, out("hero", "character"))).toBe(
      "Character.character: drop on an input that takes a character",
    );
    expect(connectionHint(GRAPH, TYPES, into("s1", "scene"))).toBe("Shot.scene: drop on an output that makes a scene");
  });
});

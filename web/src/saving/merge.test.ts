import { describe, expect, it } from "vitest";

import type { Graph, GraphEdge, GraphNode, NodeType } from "../api/graph";
import { mergeGraphs } from "./merge";

function node(id: string, properties: Record<string, unknown> = {}, x = 0, y = 0): GraphNode {
  return { id, type: id.startsWith("c") ? "character" : "shot", position: { x, y }, properties };
}

function edge(source: string, target: string, port = "characters"): GraphEdge {
  return { source, source_port: "character", target, target_port: port };
}

const base: Graph = {
  nodes: [node("c1", { name: "Ada" }), node("c2", { name: "Bo" }), node("s1", { name: "Open" })],
  edges: [edge("c1", "s1")],
};

/** A copy of `graph` with node `id` changed by `change`. */
function edit(graph: Graph, id: string, change: Partial<GraphNode>): Graph {
  return {
    ...graph,
    nodes: graph.nodes.map((n) =>
      n.id === id ? { ...n, ...change, properties: { ...n.properties, ...change.properties } } : n,
    ),
  };
}

function without(graph: Graph, id: string): Graph {
  return {
    nodes: graph.nodes.filter((n) => n.id !== id),
    edges: graph.edges.filter((e) => e.source !== id && e.target !== id),
  };
}

const byId = (graph: Graph, id: string) => graph.nodes.find((n) => n.id === id);

describe("mergeGraphs", () => {
  it("takes disjoint edits from both sides", () => {
    const mine = edit(base, "c1", { properties: { name: "Ada Lovelace" } });
    const theirs = edit(base, "s1", { position: { x: 40, y: 10 } });
    const { graph, conflicts } = mergeGraphs(base, mine, theirs);
    expect(conflicts).toEqual([]);
    expect(byId(graph, "c1")?.properties).toEqual({ name: "Ada Lovelace" });
    expect(byId(graph, "s1")?.position).toEqual({ x: 40, y: 10 });
    expect(graph.edges).toEqual(base.edges);
  });

  it("takes different properties of one node from each side", () => {
    const mine = edit(base, "s1", { properties: { framing: "close-up" } });
    const theirs = edit(base, "s1", { properties: { duration_s: 4 } });
    const { graph, conflicts } = mergeGraphs(base, mine, theirs);
    expect(conflicts).toEqual([]);
    expect(byId(graph, "s1")?.properties).toEqual({
      name: "Open",
      framing: "close-up",
      duration_s: 4,
    });
  });

  it("takes the same edit made on both sides once, without a conflict", () => {
    const mine = edit(base, "c2", { properties: { name: "Bea" } });
    const theirs = edit(base, "c2", { properties: { name: "Bea" } });
    const added: Graph = { ...mine, edges: [...mine.edges, edge("c2", "s1")] };
    const theirsAdded: Graph = { ...theirs, edges: [...theirs.edges, edge("c2", "s1")] };
    const { graph, conflicts } = mergeGraphs(base, added, theirsAdded);
    expect(conflicts).toEqual([]);
    expect(byId(graph, "c2")?.properties).toEqual({ name: "Bea" });
    expect(graph.edges).toEqual([edge("c1", "s1"), edge("c2", "s1")]);
  });

  it("reports a property both sides set differently, takes mine, and theirs when chosen", () => {
    const mine = edit(base, "c1", { properties: { name: "Ada L." } });
    const theirs = edit(base, "c1", { properties: { name: "Ada Byron" } });
    const merged = mergeGraphs(base, mine, theirs);
    expect(merged.conflicts).toEqual([
      {
        key: JSON.stringify(["c1", "properties.name"]),
        node: "c1",
        field: "properties.name",
        base: "Ada",
        mine: "Ada L.",
        theirs: "Ada Byron",
        resolution: "mine",
      },
    ]);
    expect(byId(merged.graph, "c1")?.properties.name).toBe("Ada L.");

    const key = merged.conflicts[0]?.key ?? "";
    const flipped = mergeGraphs(base, mine, theirs, { resolutions: { [key]: "theirs" } });
    expect(flipped.conflicts[0]?.resolution).toBe("theirs");
    expect(byId(flipped.graph, "c1")?.properties.name).toBe("Ada Byron");
  });

  it("takes a property one side removed when the other left it alone", () => {
    const tagged = edit(base, "c2", { properties: { role: "lead" } });
    const mine: Graph = {
      ...tagged,
      nodes: tagged.nodes.map((n) => (n.id === "c2" ? { ...n, properties: { name: "Bo" } } : n)),
    };
    const theirs = edit(tagged, "s1", { position: { x: 9, y: 9 } });
    const { graph, conflicts } = mergeGraphs(tagged, mine, theirs);
    expect(conflicts).toEqual([]);
    expect(byId(graph, "c2")?.properties).toEqual({ name: "Bo" });
  });

  it("reports a node deleted on one side and edited on the other, keeping mine by default", () => {
    const mine = without(base, "c1");
    const theirs = edit(base, "c1", { properties: { name: "Ada Byron" } });
    const merged = mergeGraphs(base, mine, theirs);
    expect(merged.conflicts).toHaveLength(1);
    expect(merged.conflicts[0]).toMatchObject({
      node: "c1",
      field: "node",
      base: byId(base, "c1"),
      mine: undefined,
      theirs: byId(theirs, "c1"),
      resolution: "mine",
    });
    expect(byId(merged.graph, "c1")).toBeUndefined();
    expect(merged.graph.edges).toEqual([]);

    const key = merged.conflicts[0]?.key ?? "";
    const kept = mergeGraphs(base, mine, theirs, { resolutions: { [key]: "theirs" } });
    expect(byId(kept.graph, "c1")?.properties.name).toBe("Ada Byron");
    // The node comes back with the edges theirs had: mine dropped them only with the node.
    expect(kept.graph.edges).toEqual([edge("c1", "s1")]);
  });

  it("keeps a node mine edited that theirs deleted, with its edges, unless theirs is chosen", () => {
    const mine = edit(base, "c1", { position: { x: 5, y: 5 } });
    const theirs = without(base, "c1");
    const merged = mergeGraphs(base, mine, theirs);
    expect(merged.conflicts.map((c) => [c.node, c.field])).toEqual([["c1", "node"]]);
    expect(byId(merged.graph, "c1")?.position).toEqual({ x: 5, y: 5 });
    expect(merged.graph.edges).toEqual([edge("c1", "s1")]);

    const key = merged.conflicts[0]?.key ?? "";
    const gone = mergeGraphs(base, mine, theirs, { resolutions: { [key]: "theirs" } });
    expect(byId(gone.graph, "c1")).toBeUndefined();
    expect(gone.graph.edges).toEqual([]);
  });

  it("deletes a node one side deleted and the other left alone, without a conflict", () => {
    const mine = edit(base, "s1", { properties: { framing: "wide" } });
    const theirs = without(base, "c2");
    const { graph, conflicts } = mergeGraphs(base, mine, theirs);
    expect(conflicts).toEqual([]);
    expect(graph.nodes.map((n) => n.id)).toEqual(["c1", "s1"]);
  });

  it("counts a new edge to a node the other side deleted as an edit of it", () => {
    const mine = without(base, "c2");
    const theirs: Graph = { ...base, edges: [...base.edges, edge("c2", "s1")] };
    const { graph, conflicts } = mergeGraphs(base, mine, theirs);
    expect(conflicts.map((c) => [c.node, c.field])).toEqual([["c2", "node"]]);
    expect(byId(graph, "c2")).toBeUndefined();
    expect(graph.edges).toEqual([edge("c1", "s1")]);
  });

  it("drops edges whose nodes no longer exist", () => {
    // Mine connects c2 to s1 while theirs deletes s1 (which mine did not otherwise touch).
    const mine: Graph = { ...base, edges: [...base.edges, edge("c2", "s1")] };
    const theirs = without(base, "s1");
    const merged = mergeGraphs(base, mine, theirs);
    // Mine's new edge is an edit of s1: a conflict, resolved as mine, keeps s1 and both edges.
    expect(merged.conflicts.map((c) => c.field)).toEqual(["node"]);
    const key = merged.conflicts[0]?.key ?? "";
    const deleted = mergeGraphs(base, mine, theirs, { resolutions: { [key]: "theirs" } });
    expect(deleted.graph.nodes.map((n) => n.id)).toEqual(["c1", "c2"]);
    expect(deleted.graph.edges).toEqual([]);

    // An edge of the base whose target theirs deleted, where mine changed nothing.
    const plain = mergeGraphs(base, base, without(base, "s1"));
    expect(plain.conflicts).toEqual([]);
    expect(plain.graph.edges).toEqual([]);
  });

  it("keeps nodes both sides added with different ids, mine first", () => {
    const mine: Graph = { ...base, nodes: [...base.nodes, node("s2", { name: "Mine" })] };
    const theirs: Graph = { ...base, nodes: [...base.nodes, node("s3", { name: "Theirs" })] };
    const { graph, conflicts } = mergeGraphs(base, mine, theirs);
    expect(conflicts).toEqual([]);
    expect(graph.nodes.map((n) => n.id)).toEqual(["c1", "c2", "s1", "s2", "s3"]);
  });

  it("merges a node both sides added with the same id field by field", () => {
    const mine: Graph = {
      ...base,
      nodes: [...base.nodes, node("s2", { name: "A", framing: "wide" })],
    };
    const theirs: Graph = {
      ...base,
      nodes: [...base.nodes, node("s2", { name: "B", framing: "wide" })],
    };
    const { graph, conflicts } = mergeGraphs(base, mine, theirs);
    expect(conflicts.map((c) => [c.field, c.base, c.mine, c.theirs])).toEqual([
      ["properties.name", undefined, "A", "B"],
    ]);
    expect(byId(graph, "s2")?.properties).toEqual({ name: "A", framing: "wide" });
  });

  it("takes a move made on one side, and reports moves to different places", () => {
    const mine = edit(base, "c1", { position: { x: 100, y: 0 } });
    const moved = mergeGraphs(base, mine, base);
    expect(moved.conflicts).toEqual([]);
    expect(byId(moved.graph, "c1")?.position).toEqual({ x: 100, y: 0 });

    const same = mergeGraphs(base, mine, edit(base, "c1", { position: { x: 100, y: 0 } }));
    expect(same.conflicts).toEqual([]);

    const theirs = edit(base, "c1", { position: { x: 0, y: 100 } });
    const both = mergeGraphs(base, mine, theirs);
    expect(both.conflicts.map((c) => [c.field, c.mine, c.theirs])).toEqual([
      ["position", { x: 100, y: 0 }, { x: 0, y: 100 }],
    ]);
    expect(byId(both.graph, "c1")?.position).toEqual({ x: 100, y: 0 });
    const key = both.conflicts[0]?.key ?? "";
    const flipped = mergeGraphs(base, mine, theirs, { resolutions: { [key]: "theirs" } });
    expect(byId(flipped.graph, "c1")?.position).toEqual({ x: 0, y: 100 });
  });

  it("removes an edge either side removed and keeps edges either side drew", () => {
    const withTwo: Graph = { ...base, edges: [edge("c1", "s1"), edge("c2", "s1")] };
    const mine: Graph = { ...withTwo, edges: [edge("c2", "s1")] };
    const theirs: Graph = { ...withTwo, edges: [...withTwo.edges, edge("c1", "s1", "extras")] };
    const { graph, conflicts } = mergeGraphs(withTwo, mine, theirs);
    expect(conflicts).toEqual([]);
    expect(graph.edges).toEqual([edge("c2", "s1"), edge("c1", "s1", "extras")]);
  });

  const types: NodeType[] = [
    {
      name: "character",
      title: "Character",
      description: "",
      properties: { type: "object" },
      inputs: [],
      outputs: [{ name: "character", type: "character", min: 0, max: null }],
    },
    {
      name: "shot",
      title: "Shot",
      description: "",
      properties: { type: "object" },
      inputs: [
        { name: "lead", type: "character", min: 0, max: 1 },
        { name: "characters", type: "character", min: 0, max: null },
      ],
      outputs: [],
    },
  ];

  it("keeps an input within its max: mine's new edge by default, theirs when chosen", () => {
    const empty: Graph = { ...base, edges: [] };
    const mine: Graph = { ...empty, edges: [edge("c1", "s1", "lead")] };
    const theirs: Graph = { ...empty, edges: [edge("c2", "s1", "lead")] };
    const merged = mergeGraphs(empty, mine, theirs, { nodeTypes: types });
    expect(merged.conflicts).toMatchObject([
      { node: "s1", field: "inputs.lead", base: [], mine: mine.edges, theirs: theirs.edges },
    ]);
    expect(merged.graph.edges).toEqual(mine.edges);
    const key = merged.conflicts[0]?.key ?? "";
    const flipped = mergeGraphs(empty, mine, theirs, {
      nodeTypes: types,
      resolutions: { [key]: "theirs" },
    });
    expect(flipped.graph.edges).toEqual(theirs.edges);

    // Without the registry the merge cannot know the limit, and keeps both.
    expect(mergeGraphs(empty, mine, theirs).graph.edges).toHaveLength(2);
    // An input without a max takes both.
    const many = mergeGraphs(
      empty,
      { ...empty, edges: [edge("c1", "s1")] },
      { ...empty, edges: [edge("c2", "s1")] },
      { nodeTypes: types },
    );
    expect(many.conflicts).toEqual([]);
    expect(many.graph.edges).toHaveLength(2);
  });

  it("drops an edge to a port the merged node's type does not have", () => {
    const mine: Graph = { ...base, edges: [...base.edges, edge("c2", "s1", "no-such-port")] };
    const { graph } = mergeGraphs(base, mine, base, { nodeTypes: types });
    expect(graph.edges).toEqual(base.edges);
  });

  it("merges two-way when the base is gone: nothing taken as deleted, differences conflict", () => {
    const mine = edit(without(base, "c2"), "c1", { properties: { name: "Mine" } });
    const theirs = edit(base, "s1", { properties: { framing: "wide" } });
    const { graph, conflicts } = mergeGraphs(null, mine, theirs);
    // c2 is only in theirs: with no base, it may as well be new there, so it stays.
    expect(graph.nodes.map((n) => n.id)).toEqual(["c1", "s1", "c2"]);
    expect(conflicts.map((c) => [c.node, c.field, c.mine, c.theirs])).toEqual([
      ["c1", "properties.name", "Mine", "Ada"],
    ]);
    // A value only one side has is taken, never dropped.
    expect(byId(graph, "s1")?.properties).toEqual({ name: "Open", framing: "wide" });
    expect(graph.edges).toEqual(base.edges);
  });

  it("leaves its inputs alone", () => {
    const mine = edit(base, "c1", { properties: { name: "X" } });
    const theirs = edit(base, "c1", { properties: { name: "Y" } });
    const copies = JSON.stringify([base, mine, theirs]);
    const { graph } = mergeGraphs(base, mine, theirs);
    (byId(graph, "c1") as GraphNode).position.x = 99;
    expect(JSON.stringify([base, mine, theirs])).toBe(copies);
  });
});

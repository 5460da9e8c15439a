import { describe, expect, it } from "vitest";

import type { Graph, GraphNode, NodeType } from "../api/graph";
import { changeText, describeChanges, nodeLabel } from "./changes";

const shot = (id: string, properties: Record<string, unknown>, x = 0): GraphNode => ({
  id,
  type: "shot",
  position: { x, y: 0 },
  properties,
});
const link = { source: "c1", source_port: "character", target: "s1", target_port: "characters" };

const base: Graph = {
  nodes: [
    shot("s1", { name: "Open", framing: "wide" }),
    shot("s2", { name: "Close" }),
    { id: "c1", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada" } },
  ],
  edges: [link],
};

describe("describeChanges", () => {
  it("lists nothing for the same graph, whatever the order of property keys", () => {
    const reordered: Graph = {
      ...base,
      nodes: base.nodes.map((n) => ({
        ...n,
        properties: Object.fromEntries(Object.entries(n.properties).reverse()),
      })),
    };
    expect(describeChanges(base, reordered)).toEqual([]);
  });

  it("lists what the other graph added, removed, moved and changed, and its edges", () => {
    const s3 = shot("s3", { name: "New" });
    const other: Graph = {
      nodes: [
        { ...shot("s1", { name: "Open", framing: "close-up", duration_s: 3 }, 50) },
        { id: "c1", type: "prop", position: { x: 0, y: 0 }, properties: { name: "Ada" } },
        s3,
      ],
      edges: [{ ...link, target: "s3" }],
    };
    const changes = describeChanges(base, other);
    expect(changes).toEqual([
      { kind: "moved", node: other.nodes[0], from: { x: 0, y: 0 } },
      { kind: "property", node: other.nodes[0], key: "framing", from: "wide", to: "close-up" },
      { kind: "property", node: other.nodes[0], key: "duration_s", from: undefined, to: 3 },
      { kind: "retyped", node: other.nodes[1], from: "character" },
      { kind: "added", node: s3 },
      { kind: "removed", node: base.nodes[1] },
      { kind: "connected", edge: { ...link, target: "s3" } },
      { kind: "disconnected", edge: link },
    ]);
  });
});

describe("changeText", () => {
  const types: NodeType[] = [
    { name: "shot", title: "Shot", description: "", properties: {}, inputs: [], outputs: [] },
  ];

  it("names nodes by type title and name, and says what changed", () => {
    const other: Graph = {
      nodes: [shot("s1", { name: "Open", framing: "close-up" }), base.nodes[2] as GraphNode],
      edges: [],
    };
    const texts = describeChanges(base, other).map((change) =>
      changeText(change, { base, other }, types),
    );
    expect(texts).toEqual([
      "Set Shot “Open”'s framing to “close-up”",
      "Removed Shot “Close”",
      "Disconnected character “Ada” (character) to Shot “Open” (characters)",
    ]);
  });

  it("says a cleared property was cleared, and names an unnamed node by its id", () => {
    const other: Graph = {
      ...base,
      nodes: [shot("s1", { framing: "wide" }), ...base.nodes.slice(1)],
    };
    const [change] = describeChanges(base, other);
    expect(change && changeText(change, { base, other }, types)).toBe("Cleared Shot “s1”'s name");
    expect(nodeLabel(shot("x9", { name: "" }))).toBe("shot “x9”");
  });
});

import { describe, expect, it } from "vitest";

import type { Graph } from "../api/graph";
import { PASTE_OFFSET, copyOf, hold, nextPaste, pasteOf } from "./clipboard";

const GRAPH: Graph = {
  nodes: [
    { id: "hero", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada", lora: { name: "ada" } } },
    { id: "beach", type: "scene", position: { x: 0, y: 200 }, properties: { location: "a beach" } },
    { id: "s1", type: "shot", position: { x: 300, y: 100 }, properties: { name: "Opening" } },
  ],
  edges: [
    { source: "hero", source_port: "character", target: "s1", target_port: "characters" },
    { source: "beach", source_port: "scene", target: "s1", target_port: "scene" },
  ],
};

function counter(): () => string {
  let next = 0;
  return () => `new-${String(++next)}`;
}

describe("copyOf", () => {
  it("copies the selected nodes and only the edges among them", () => {
    const clip = copyOf(GRAPH, new Set(["hero", "s1"]));
    expect(clip?.nodes.map((node) => node.id)).toEqual(["hero", "s1"]);
    expect(clip?.edges).toEqual([GRAPH.edges[0]]);
  });

  it("copies nothing when no node is selected", () => {
    expect(copyOf(GRAPH, new Set())).toBeNull();
    expect(copyOf(GRAPH, new Set(["gone"]))).toBeNull();
  });

  it("holds values, not the graph's objects", () => {
    const clip = copyOf(GRAPH, new Set(["hero"]));
    expect(clip?.nodes[0]).toEqual(GRAPH.nodes[0]);
    expect(clip?.nodes[0]).not.toBe(GRAPH.nodes[0]);
  });
});

describe("pasteOf", () => {
  it("gives every node a new id and points the copied edges at the new nodes", () => {
    const clip = copyOf(GRAPH, new Set(["hero", "beach", "s1"]));
    if (clip === null) throw new Error("nothing copied");
    const pasted = pasteOf(clip, PASTE_OFFSET, counter());
    expect(pasted.nodes.map((node) => node.id)).toEqual(["new-1", "new-2", "new-3"]);
    expect(pasted.edges).toEqual([
      { source: "new-1", source_port: "character", target: "new-3", target_port: "characters" },
      { source: "new-2", source_port: "scene", target: "new-3", target_port: "scene" },
    ]);
  });

  it("offsets the pasted nodes and copies their properties", () => {
    const clip = copyOf(GRAPH, new Set(["hero"]));
    if (clip === null) throw new Error("nothing copied");
    const [node] = pasteOf(clip, 64, counter()).nodes;
    expect(node?.position).toEqual({ x: 64, y: 64 });
    expect(node?.properties).toEqual(GRAPH.nodes[0]?.properties);
    (node?.properties.lora as { name: string }).name = "changed";
    expect(clip.nodes[0]?.properties).toEqual({ name: "Ada", lora: { name: "ada" } });
  });

  it("makes distinct random ids by default", () => {
    const clip = copyOf(GRAPH, new Set(["hero"]));
    if (clip === null) throw new Error("nothing copied");
    const first = pasteOf(clip, 0).nodes[0]?.id;
    const second = pasteOf(clip, 0).nodes[0]?.id;
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(first).not.toBe(second);
  });
});

describe("the tab's clipboard", () => {
  it("moves each paste of one copy a step further", () => {
    const clip = copyOf(GRAPH, new Set(["hero"]));
    if (clip === null) throw new Error("nothing copied");
    hold(clip);
    expect(nextPaste()?.offset).toBe(PASTE_OFFSET);
    expect(nextPaste()?.offset).toBe(2 * PASTE_OFFSET);
    hold(clip);
    expect(nextPaste()).toEqual({ clip, offset: PASTE_OFFSET });
  });
});

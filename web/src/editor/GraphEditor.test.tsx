// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { NodeProps } from "@xyflow/react";

import type { NodeResult } from "../api/events";
import type { Graph, GraphNode, GraphProblem } from "../api/graph";
import type { FlowNode } from "./flowNodes";
import { GraphEditor } from "./GraphEditor";
import { NODE_TYPES } from "./nodeTypes.fixture";

afterEach(cleanup);

// The ids of the nodes whose component rendered, to show that one change renders one node.
const nodeRenders = vi.hoisted(() => new Set<string>());

vi.mock("./ShotgraphNode", async (importOriginal) => {
  const { memo } = await import("react");
  const { ShotgraphNode } = await importOriginal<typeof import("./ShotgraphNode")>();
  const View = (ShotgraphNode as unknown as { type: (props: NodeProps<FlowNode>) => React.ReactNode }).type;
  function Counted(props: NodeProps<FlowNode>) {
    nodeRenders.add(props.id);
    return View(props);
  }
  return { ShotgraphNode: memo(Counted) };
});

const FRAME = "f0".repeat(32);

const STORY: Graph = {
  nodes: [
    { id: "hero", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada" } },
    { id: "beach", type: "scene", position: { x: 0, y: 240 }, properties: { location: "a beach" } },
    { id: "s1", type: "shot", position: { x: 320, y: 120 }, properties: { name: "Opening", framing: "wide", duration_s: 3 } },
  ],
  edges: [
    { source: "hero", source_port: "character", target: "s1", target_port: "characters" },
    { source: "beach", source_port: "scene", target: "s1", target_port: "scene" },
  ],
};

interface HarnessProps {
  initial: Graph;
  onChange: (graph: Graph) => void;
  problems?: GraphProblem[];
  nodeStates?: ReadonlyMap<string, NodeResult>;
  readOnly?: boolean;
}

/** The editor as a page holds it: what it emits becomes the graph it is given. */
function Harness({ initial, onChange, problems = [], nodeStates, readOnly }: HarnessProps) {
  const [graph, setGraph] = useState(initial);
  return (
    <GraphEditor
      graph={graph}
      nodeTypes={NODE_TYPES}
      problems={problems}
      {...(nodeStates === undefined ? {} : { nodeStates })}
      {...(readOnly === undefined ? {} : { readOnly })}
      onChange={(next) => {
        setGraph(next);
        onChange(next);
      }}
    />
  );
}

function lastGraph(onChange: ReturnType<typeof vi.fn>): Graph {
  const call = onChange.mock.calls.at(-1);
  if (call === undefined) throw new Error("nothing was emitted");
  return call[0] as Graph;
}

function nodeElement(id: string): HTMLElement {
  return screen.getByTestId(`rf__node-${id}`);
}

/** A key pressed on the canvas (where focus is after a click on it). */
function press(target: HTMLElement, key: string, modifiers: { ctrlKey?: boolean; shiftKey?: boolean } = {}) {
  fireEvent.keyDown(target, { key, ...modifiers });
}

describe("GraphEditor", () => {
  it("adds a node from the palette with a new id and its type's defaults, and selects it", () => {
    const onChange = vi.fn();
    render(<Harness initial={{ nodes: [], edges: [] }} onChange={onChange} />);
    const palette = within(screen.getByRole("region", { name: "Node palette" }));
    expect(palette.getAllByRole("button").map((button) => button.textContent)).toEqual(["Character", "Scene", "Shot"]);

    fireEvent.click(palette.getByRole("button", { name: "Shot" }));
    fireEvent.click(palette.getByRole("button", { name: "Shot" }));

    const graph = lastGraph(onChange);
    expect(graph.nodes).toHaveLength(2);
    const [first, second] = graph.nodes as [GraphNode, GraphNode];
    expect(first).toMatchObject({ type: "shot", properties: { camera_angle: "eye-level" } });
    expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.id).not.toBe(first.id);
    // A second click does not hide the first node under the new one.
    expect(second.position).not.toEqual(first.position);
    expect(within(screen.getByRole("region", { name: "Properties" })).getByRole("heading", { name: "Shot" })).toBeTruthy();
  });

  it("drops a dragged palette entry onto the canvas", () => {
    const onChange = vi.fn();
    const { container } = render(<Harness initial={{ nodes: [], edges: [] }} onChange={onChange} />);
    const data = new Map<string, string>();
    const dataTransfer = {
      setData: (type: string, value: string) => data.set(type, value),
      getData: (type: string) => data.get(type) ?? "",
      get types() {
        return [...data.keys()];
      },
      dropEffect: "none",
      effectAllowed: "all",
    };
    fireEvent.dragStart(screen.getByRole("button", { name: "Scene" }), { dataTransfer });
    const pane = container.querySelector(".react-flow");
    if (pane === null) throw new Error("no canvas");
    fireEvent.dragOver(pane, { dataTransfer, clientX: 300, clientY: 200 });
    fireEvent.drop(pane, { dataTransfer, clientX: 300, clientY: 200 });
    expect(lastGraph(onChange).nodes.map((node) => node.type)).toEqual(["scene"]);
  });

  it("deletes the selected node with its edges, and undoes and redoes it", () => {
    const onChange = vi.fn();
    render(<Harness initial={STORY} onChange={onChange} />);
    fireEvent.click(nodeElement("s1"));

    press(nodeElement("s1"), "Delete");
    expect(lastGraph(onChange)).toEqual({ nodes: STORY.nodes.slice(0, 2), edges: [] });

    // The focused node is gone, and focus with it: keys on the page still reach the editor.
    press(document.body, "z", { ctrlKey: true });
    expect(lastGraph(onChange)).toEqual(STORY);
    press(nodeElement("hero"), "z", { ctrlKey: true, shiftKey: true });
    expect(lastGraph(onChange).nodes).toHaveLength(2);
    press(nodeElement("hero"), "y", { ctrlKey: true });
    expect(onChange).toHaveBeenCalledTimes(3); // nothing left to redo
  });

  it("copies and pastes nodes under new ids, keeping the edges among them", () => {
    const onChange = vi.fn();
    render(<Harness initial={STORY} onChange={onChange} />);
    const canvas = nodeElement("s1");
    press(canvas, "a", { ctrlKey: true });
    press(canvas, "c", { ctrlKey: true });
    press(canvas, "v", { ctrlKey: true });

    const graph = lastGraph(onChange);
    expect(graph.nodes).toHaveLength(6);
    const pasted = graph.nodes.slice(3);
    const ids = new Set(pasted.map((node) => node.id));
    expect(ids.size).toBe(3);
    for (const node of STORY.nodes) expect(ids.has(node.id)).toBe(false);
    expect(pasted[0]?.position).toEqual({ x: 32, y: 32 });
    const pastedEdges = graph.edges.slice(2);
    expect(pastedEdges).toHaveLength(2);
    for (const edge of pastedEdges) expect(ids.has(edge.source) && ids.has(edge.target)).toBe(true);
  });

  it("selects everything and deletes it", () => {
    const onChange = vi.fn();
    render(<Harness initial={STORY} onChange={onChange} />);
    press(nodeElement("hero"), "a", { ctrlKey: true });
    press(nodeElement("hero"), "Backspace");
    expect(lastGraph(onChange)).toEqual({ nodes: [], edges: [] });
  });

  it("leaves keys typed into a property field to the field", () => {
    const onChange = vi.fn();
    render(<Harness initial={STORY} onChange={onChange} />);
    fireEvent.click(nodeElement("s1"));
    const name = within(screen.getByRole("region", { name: "Properties" })).getByLabelText("name");
    press(name, "Backspace");
    press(name, "a", { ctrlKey: true });
    expect(onChange).not.toHaveBeenCalled();
  });

  it("edits the selected node's properties, one undo step per field", () => {
    const onChange = vi.fn();
    render(<Harness initial={STORY} onChange={onChange} />);
    fireEvent.click(nodeElement("s1"));
    const name = within(screen.getByRole("region", { name: "Properties" })).getByLabelText("name");
    fireEvent.change(name, { target: { value: "Open" } });
    fireEvent.change(name, { target: { value: "Opening shot" } });
    expect(lastGraph(onChange).nodes[2]?.properties.name).toBe("Opening shot");

    fireEvent.click(screen.getByRole("button", { name: "Undo" }));
    expect(lastGraph(onChange)).toEqual(STORY);
  });

  it("starts a new history when the graph changes from outside", () => {
    const onChange = vi.fn();
    const props = { nodeTypes: NODE_TYPES, problems: [], onChange };
    const { rerender } = render(<GraphEditor graph={STORY} {...props} />);
    fireEvent.click(screen.getByRole("button", { name: "Character" }));
    expect(screen.getByRole("button", { name: "Undo" }).hasAttribute("disabled")).toBe(false);

    const merged: Graph = { nodes: STORY.nodes.slice(1), edges: STORY.edges.slice(1) };
    rerender(<GraphEditor graph={merged} {...props} />);

    expect(screen.queryByTestId("rf__node-hero")).toBeNull();
    expect(screen.getByRole("button", { name: "Undo" }).hasAttribute("disabled")).toBe(true);
    press(nodeElement("s1"), "z", { ctrlKey: true });
    expect(onChange).toHaveBeenCalledTimes(1);
  });

  it("shows each node's execution state, progress, error and image", () => {
    const states = new Map<string, NodeResult>([
      ["hero", { node_id: "hero", key: "a", state: "cached", output: { image: FRAME } }],
      ["beach", { node_id: "beach", key: "b", state: "running", progress: 40 }],
      ["s1", { node_id: "s1", key: "c", state: "failed", error: "the frame could not be drawn" }],
    ]);
    render(<Harness initial={STORY} onChange={vi.fn()} nodeStates={states} />);

    expect(nodeElement("hero").getAttribute("data-node-state")).toBe("cached");
    // React Flow keeps a node hidden until it has measured it, which happy-dom never lets it.
    const image = nodeElement("hero").querySelector("img");
    expect(image?.getAttribute("alt")).toBe("Reference thumbnail");
    expect(image?.getAttribute("src")).toBe(`/v1/blobs/${FRAME}`);
    const progress = within(nodeElement("beach")).getByRole("progressbar", { hidden: true });
    expect(progress.getAttribute("aria-valuenow")).toBe("40");
    expect(nodeElement("s1").getAttribute("data-node-state")).toBe("failed");
    expect(within(nodeElement("s1")).getByText("the frame could not be drawn")).toBeTruthy();
  });

  it("marks problems on their node and port", () => {
    const problems: GraphProblem[] = [
      { kind: "missing_connection", message: "shot 's1' needs exactly 1 'scene' input, has 0", node: "s1", port: "scene" },
      { kind: "required_property", message: "framing is required", node: "s1", field: "framing" },
    ];
    render(<Harness initial={STORY} onChange={vi.fn()} problems={problems} />);
    const shot = within(nodeElement("s1"));
    expect(shot.getByText("2", { exact: false }).textContent).toBe("2 problems");
    expect(shot.getByText("framing is required")).toBeTruthy();
    expect(nodeElement("s1").querySelector('.react-flow__handle[data-handleid="scene"]')?.classList.contains("has-problem")).toBe(
      true,
    );
  });

  it("lets a reader look but not edit", () => {
    const onChange = vi.fn();
    render(<Harness initial={STORY} onChange={onChange} readOnly />);
    expect(screen.queryByRole("region", { name: "Node palette" })).toBeNull();
    fireEvent.click(nodeElement("s1"));
    press(nodeElement("s1"), "Delete");
    press(nodeElement("s1"), "v", { ctrlKey: true });
    expect(onChange).not.toHaveBeenCalled();
    expect(within(screen.getByRole("region", { name: "Properties" })).getByLabelText("name").matches(":disabled")).toBe(true);
  });

  it("shows a 500-node canvas, and renders again only the node whose state or place changed", { timeout: 30_000 }, () => {
    const nodes: GraphNode[] = Array.from({ length: 500 }, (_, index) => ({
      id: `n${String(index)}`,
      type: "shot",
      position: { x: (index % 25) * 240, y: Math.floor(index / 25) * 200 },
      properties: { name: `Shot ${String(index)}`, framing: "wide", duration_s: 2 },
    }));
    const props = { nodeTypes: NODE_TYPES, problems: [], onChange: vi.fn() };
    const graph: Graph = { nodes, edges: [] };
    const { container, rerender } = render(<GraphEditor graph={graph} {...props} />);
    expect(container.querySelectorAll(".sg-node")).toHaveLength(500);

    nodeRenders.clear();
    const states = new Map<string, NodeResult>([["n0", { node_id: "n0", key: "k", state: "running", progress: 5 }]]);
    rerender(<GraphEditor graph={graph} {...props} nodeStates={states} />);
    expect([...nodeRenders]).toEqual(["n0"]);
    expect(nodeElement("n0").getAttribute("data-node-state")).toBe("running");

    nodeRenders.clear();
    const moved: Graph = { nodes: nodes.map((node) => (node.id === "n7" ? { ...node, position: { x: 5, y: 5 } } : node)), edges: [] };
    rerender(<GraphEditor graph={moved} {...props} nodeStates={states} />);
    expect([...nodeRenders]).toEqual(["n7"]);
  });
});

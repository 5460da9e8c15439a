// @vitest-environment happy-dom
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { GraphNode, NodeType } from "../api/graph";
import { NODE_TYPES } from "../editor/nodeTypes.fixture";
import { PropertiesPanel } from "../editor/PropertiesPanel";

afterEach(cleanup);

function typeOf(name: string): NodeType {
  const type = NODE_TYPES.find((candidate) => candidate.name === name);
  if (type === undefined) throw new Error(`no node type ${name}`);
  return type;
}

function node(type: string, properties: Record<string, unknown>): GraphNode {
  return { id: `${type}-1`, type, position: { x: 0, y: 0 }, properties };
}

describe("the Properties panel", () => {
  it("shows a scene's set piece in a region of its own", async () => {
    const scene = node("scene", { location: "Yard" });
    render(<PropertiesPanel node={scene} type={typeOf("scene")} problems={[]} selectedCount={1} readOnly={false} onChange={vi.fn()} />);
    const region = await screen.findByRole("region", { name: "Set piece" });
    expect(region.closest("[aria-label='Properties']")).not.toBeNull();
    expect(screen.getByRole("button", { name: "Add set piece" })).toBeTruthy();
  });

  it("shows none for other kinds of node, nor to a reader an Add button", async () => {
    const shot = node("shot", { name: "Opening" });
    const { rerender } = render(
      <PropertiesPanel node={shot} type={typeOf("shot")} problems={[]} selectedCount={1} readOnly={false} onChange={vi.fn()} />,
    );
    expect(screen.queryByRole("region", { name: "Set piece" })).toBeNull();
    rerender(
      <PropertiesPanel node={node("scene", { location: "Yard" })} type={typeOf("scene")} problems={[]} selectedCount={1} readOnly onChange={vi.fn()} />,
    );
    await screen.findByRole("region", { name: "Set piece" });
    expect(screen.queryByRole("button", { name: "Add set piece" })).toBeNull();
  });
});

// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { GraphNode, NodeType } from "../api/graph";
import { identity } from "../app/testing";
import { IdentityContext } from "../app/session";
import { NODE_TYPES } from "../editor/nodeTypes.fixture";
import { PropertiesPanel } from "../editor/PropertiesPanel";
import { digest, storedBlob } from "./fakeXhr";
import { studioUploads } from "./studioUploads";

afterEach(() => {
  cleanup();
  sessionStorage.clear();
});

function typeOf(name: string): NodeType {
  const type = NODE_TYPES.find((candidate) => candidate.name === name);
  if (type === undefined) throw new Error(`no node type ${name}`);
  return type;
}

function node(type: string, properties: Record<string, unknown>): GraphNode {
  return { id: `${type}-1`, type, position: { x: 0, y: 0 }, properties };
}

function renderPanel(who: string, shown: GraphNode, onChange = vi.fn(), readOnly = false) {
  render(
    <IdentityContext value={identity(who)}>
      <PropertiesPanel
        node={shown}
        type={typeOf(shown.type)}
        problems={[]}
        selectedCount={1}
        readOnly={readOnly}
        onChange={onChange}
      />
    </IdentityContext>,
  );
  return within(screen.getByRole("region", { name: "Properties" }));
}

/** The options of the list an input offers (`<input list>`): value and label. */
function offered(input: HTMLElement): [string, string][] {
  const list = document.getElementById(input.getAttribute("list") ?? "");
  return Array.from(list?.querySelectorAll("option") ?? [], (option) => [option.value, option.getAttribute("label") ?? ""]);
}

describe("a node's image field", () => {
  it("offers the images uploaded in this session, and takes the one chosen", () => {
    const { images } = studioUploads("user-grace");
    images.add("cliffs.png", storedBlob(digest(1)));
    images.add("harbour.jpg", storedBlob(digest(2)));
    const onChange = vi.fn();
    const panel = renderPanel("grace", node("scene", { location: "a lighthouse" }), onChange);

    const backdrop = panel.getByLabelText("backdrop");
    expect(offered(backdrop)).toEqual([
      [digest(2), "harbour.jpg (4 × 3)"],
      [digest(1), "cliffs.png (4 × 3)"],
    ]);
    fireEvent.change(backdrop, { target: { value: digest(2) } });
    expect(onChange).toHaveBeenCalledWith("scene-1", { location: "a lighthouse", backdrop: digest(2) }, "backdrop");
  });

  it("offers them for each of a character's reference images, and none to another person", () => {
    studioUploads("user-hopper").images.add("face.png", storedBlob(digest(3)));
    const panel = renderPanel("hopper", node("character", { name: "Ada", reference_images: [digest(3)] }));
    expect(offered(panel.getByLabelText("reference_images 1"))).toEqual([[digest(3), "face.png (4 × 3)"]]);
    cleanup();

    const someoneElse = renderPanel("lovelace", node("character", { name: "Ada", reference_images: [digest(3)] }));
    expect(offered(someoneElse.getByLabelText("reference_images 1"))).toEqual([]);
  });

  it("offers nothing on a read-only canvas", () => {
    studioUploads("user-knuth").images.add("face.png", storedBlob(digest(4)));
    const panel = renderPanel("knuth", node("scene", { location: "a lighthouse" }), vi.fn(), true);
    expect(panel.getByLabelText("backdrop").getAttribute("list")).toBeNull();
  });
});

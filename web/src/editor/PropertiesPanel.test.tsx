// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { GraphNode, GraphProblem, NodeType } from "../api/graph";
import { NODE_TYPES } from "./nodeTypes.fixture";
import { PropertiesPanel } from "./PropertiesPanel";

afterEach(cleanup);

function typeOf(name: string): NodeType {
  const type = NODE_TYPES.find((candidate) => candidate.name === name);
  if (type === undefined) throw new Error(`no node type ${name}`);
  return type;
}

const SHOT: GraphNode = {
  id: "s1",
  type: "shot",
  position: { x: 0, y: 0 },
  properties: { name: "Opening", camera_angle: "eye-level", framing: "wide", duration_s: 3 },
};

/** The panel as the editor holds it: every accepted change becomes the node's properties. */
function Harness({
  node,
  onChange,
  problems = [],
  readOnly = false,
}: {
  node: GraphNode;
  onChange: (properties: Record<string, unknown>, field: string) => void;
  problems?: GraphProblem[];
  readOnly?: boolean;
}) {
  const [properties, setProperties] = useState(node.properties);
  return (
    <PropertiesPanel
      node={{ ...node, properties }}
      type={typeOf(node.type)}
      problems={problems}
      selectedCount={1}
      readOnly={readOnly}
      onChange={(_id, next, field) => {
        setProperties(next);
        onChange(next, field);
      }}
    />
  );
}

function panel() {
  return within(screen.getByRole("region", { name: "Properties" }));
}

/** The text of the elements an input is described by. */
function description(input: HTMLElement): string {
  const ids = input.getAttribute("aria-describedby")?.split(" ") ?? [];
  return ids.map((id) => document.getElementById(id)?.textContent ?? "").join(" | ");
}

describe("PropertiesPanel", () => {
  it("marks a value the schema refuses and does not send it", () => {
    const onChange = vi.fn();
    render(<Harness node={SHOT} onChange={onChange} />);
    const duration = panel().getByLabelText("duration_s");

    fireEvent.change(duration, { target: { value: "9999" } });

    expect(duration.getAttribute("aria-invalid")).toBe("true");
    expect(description(duration)).toContain("At most 3600");
    expect(onChange).not.toHaveBeenCalled();
    // The field keeps what was typed; the node keeps its last valid value.
    expect((duration as HTMLInputElement).value).toBe("9999");
  });

  it("sends a value the schema accepts, and clears the mark", () => {
    const onChange = vi.fn();
    render(<Harness node={SHOT} onChange={onChange} />);
    const duration = panel().getByLabelText("duration_s");
    fireEvent.change(duration, { target: { value: "9999" } });

    fireEvent.change(duration, { target: { value: "12.5" } });

    expect(duration.getAttribute("aria-invalid")).toBeNull();
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenLastCalledWith({ ...SHOT.properties, duration_s: 12.5 }, "duration_s");
  });

  it("refuses to empty a required field", () => {
    const onChange = vi.fn();
    render(<Harness node={SHOT} onChange={onChange} />);
    const name = panel().getByLabelText("name");

    fireEvent.change(name, { target: { value: "" } });

    expect(name.getAttribute("aria-invalid")).toBe("true");
    expect(description(name)).toContain("Required");
    expect(onChange).not.toHaveBeenCalled();
  });

  it("edits a choice, sending the option itself", () => {
    const onChange = vi.fn();
    render(<Harness node={SHOT} onChange={onChange} />);
    const framing = panel().getByLabelText("framing");
    const closeUp = within(framing).getByRole("option", { name: "close-up" });

    fireEvent.change(framing, { target: { value: closeUp.getAttribute("value") } });

    expect(onChange).toHaveBeenLastCalledWith({ ...SHOT.properties, framing: "close-up" }, "framing");
  });

  it("shows a validation problem on its field, with the description as a hint", () => {
    const problems = [{ kind: "required_property", message: "framing is required", node: "s1", field: "framing" }];
    const withoutFraming = { name: "Opening", duration_s: 3 };
    render(<Harness node={{ ...SHOT, properties: withoutFraming }} problems={problems} onChange={vi.fn()} />);
    const framing = panel().getByLabelText("framing");
    expect(framing.getAttribute("aria-invalid")).toBe("true");
    expect(description(framing)).toBe("How much of the scene the frame holds. | framing is required");
  });

  it("does not mark a field with what was found in its old value once it is edited", () => {
    const required = { kind: "required_property", message: "framing is required", node: "s1", field: "framing" };
    const node = { ...SHOT, properties: { name: "Opening", duration_s: 3 } };
    const { rerender } = render(<Harness node={node} problems={[required]} onChange={vi.fn()} />);
    const framing = panel().getByLabelText("framing");

    fireEvent.change(framing, { target: { value: "0" } });
    fireEvent.blur(framing);

    // Until the next validation answers, the old problem says nothing about the new value.
    expect(framing.getAttribute("aria-invalid")).toBeNull();
    const answer = { ...required, kind: "invalid_property", message: "framing is not allowed here" };
    rerender(<Harness node={node} problems={[answer]} onChange={vi.fn()} />);
    expect(framing.getAttribute("aria-invalid")).toBe("true");
    expect(description(framing)).toContain("framing is not allowed here");
  });

  it("fills an optional nested object only once it is added", () => {
    const onChange = vi.fn();
    const character: GraphNode = { id: "c1", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada" } };
    render(<Harness node={character} onChange={onChange} />);
    expect(panel().getAllByLabelText("name")).toHaveLength(1);

    fireEvent.click(panel().getByRole("button", { name: "Add lora" }));
    expect(panel().getByLabelText("weight").getAttribute("placeholder")).toBe("1");
    const [, loraName] = panel().getAllByLabelText("name");
    if (loraName === undefined) throw new Error("the lora's name field is missing");
    fireEvent.change(loraName, { target: { value: "ada-v2" } });

    expect(onChange).toHaveBeenLastCalledWith({ name: "Ada", lora: { name: "ada-v2" } }, "lora.name");
    fireEvent.click(panel().getByRole("button", { name: "Remove lora" }));
    expect(onChange).toHaveBeenLastCalledWith({ name: "Ada" }, "lora");
  });

  it("edits a list item by item and marks the item at fault", () => {
    const onChange = vi.fn();
    const blob = "a".repeat(64);
    const character: GraphNode = { id: "c1", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada" } };
    render(<Harness node={character} onChange={onChange} />);
    const add = panel().getByRole("button", { name: "Add to reference_images" });

    fireEvent.click(add);
    fireEvent.change(panel().getByLabelText("reference_images 1"), { target: { value: blob } });
    expect(onChange).toHaveBeenLastCalledWith({ name: "Ada", reference_images: [blob] }, "reference_images");

    fireEvent.click(add);
    const second = panel().getByLabelText("reference_images 2");
    fireEvent.change(second, { target: { value: "not a blob" } });
    expect(second.getAttribute("aria-invalid")).toBe("true");
    expect(description(second)).toBe("Item 2: Not in the expected form");
    expect(panel().getByLabelText("reference_images 1").getAttribute("aria-invalid")).toBeNull();
    expect(onChange).toHaveBeenCalledTimes(1);
  });

  it("forgets what was typed when the node changes from elsewhere", () => {
    const node = SHOT;
    const { rerender } = render(<PropertiesPanel node={node} type={typeOf("shot")} problems={[]} selectedCount={1} readOnly={false} onChange={vi.fn()} />);
    const duration = panel().getByLabelText("duration_s");
    fireEvent.change(duration, { target: { value: "9999" } });
    expect(duration.getAttribute("aria-invalid")).toBe("true");

    const undone = { ...node, properties: { ...node.properties, duration_s: 4 } };
    rerender(<PropertiesPanel node={undone} type={typeOf("shot")} problems={[]} selectedCount={1} readOnly={false} onChange={vi.fn()} />);

    expect(panel().getByLabelText<HTMLInputElement>("duration_s").value).toBe("4");
    expect(panel().getByLabelText("duration_s").getAttribute("aria-invalid")).toBeNull();
  });

  it("shows a read-only node's properties without letting them change", () => {
    render(<Harness node={SHOT} onChange={vi.fn()} readOnly />);
    expect(panel().getByLabelText<HTMLInputElement>("name").value).toBe("Opening");
    expect(panel().getByLabelText("name").matches(":disabled")).toBe(true);
    expect(panel().getByLabelText("duration_s").matches(":disabled")).toBe(true);
    expect(panel().queryByRole("button")).toBeNull();
  });

  it("says what to do when no single node is selected", () => {
    const props = { node: undefined, type: undefined, problems: [], readOnly: false, onChange: vi.fn() };
    const { rerender } = render(<PropertiesPanel {...props} selectedCount={0} />);
    expect(panel().getByText("Select a node to see its properties.")).toBeTruthy();
    rerender(<PropertiesPanel {...props} selectedCount={3} />);
    expect(panel().getByText("3 nodes selected.")).toBeTruthy();
  });
});

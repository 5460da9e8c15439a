// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { fakeGateway, problem, type Call } from "../app/testing";
import { DEFAULT_PARAMETERS } from "./customizer.fixture";
import SetPieceSection from "./SetPieceSection";
import { DEFAULT_SOURCE } from "./setPiece";

const SOURCE = 'wall_colour = "#c0392b";\ncolor(wall_colour) cube(10);\n';
const RENDER = { id: "r1", batch_id: "b1", progress: 0, formats: ["png", "glb", "3mf", "stl"] };

/** The section as the Properties panel holds it: each change becomes the node's properties. */
function Harness({ start, onChange }: { start: Record<string, unknown>; onChange: (field: string, properties: Record<string, unknown>) => void }) {
  const [properties, setProperties] = useState(start);
  return (
    <SetPieceSection
      nodeId="scene-1"
      properties={properties}
      readOnly={false}
      onChange={(_, next, field) => {
        onChange(field, next);
        setProperties(next);
      }}
    />
  );
}

function previews(calls: Call[]): unknown[] {
  return calls.filter((call) => call.path === "/v1/render/preview").map((call) => call.body);
}

let urls = 0;
beforeEach(() => {
  urls = 0;
  vi.spyOn(URL, "createObjectURL").mockImplementation(() => `blob:preview-${String((urls += 1))}`);
  vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => undefined);
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe("SetPieceSection", () => {
  it("offers a scene without a set piece the default model", () => {
    const onChange = vi.fn();
    render(<Harness start={{ location: "Yard" }} onChange={onChange} />);
    const region = screen.getByRole("region", { name: "Set piece" });
    fakeGateway({
      "POST /v1/render/parameters": () => [200, { parameters: DEFAULT_PARAMETERS }],
      "POST /v1/render/preview": () => [200, {}],
      "POST /v1/renders": () => [202, { ...RENDER, state: "queued" }],
    });
    fireEvent.click(within(region).getByRole("button", { name: "Add set piece" }));
    expect(onChange).toHaveBeenCalledWith("set_piece", { location: "Yard", set_piece: { source: DEFAULT_SOURCE, values: {} } });
  });

  it("previews the values, renders them once settled, and offers the files", async () => {
    const calls = fakeGateway({
      "POST /v1/render/parameters": () => [200, { parameters: [DEFAULT_PARAMETERS[0]] }],
      "POST /v1/render/preview": () => [200, {}],
      "POST /v1/renders": () => [202, { ...RENDER, state: "queued" }],
      "GET /v1/renders/r1": [() => [200, { ...RENDER, state: "running", progress: 50 }], () => [200, { ...RENDER, state: "succeeded", progress: 100 }]],
    });
    const onChange = vi.fn();
    render(<Harness start={{ location: "Yard", set_piece: { source: SOURCE } }} onChange={onChange} />);
    const region = screen.getByRole("region", { name: "Set piece" });

    const preview = await within(region).findByRole("img", { name: "Set piece preview" });
    expect(preview.getAttribute("src")).toBe("blob:preview-1");
    expect(previews(calls)).toEqual([{ source: SOURCE, parameters: {}, view: { width: 480, height: 360 } }]);
    const png = within(region).getByRole("link", { name: "PNG" });
    expect(png.getAttribute("aria-disabled")).toBe("true");
    expect(png.hasAttribute("href")).toBe(false);

    // Once settled: the render of the values, followed to its end; the files are offered.
    await waitFor(() => {
      expect(within(region).getByRole("link", { name: "GLB" }).getAttribute("href")).toBe("/v1/renders/r1/glb");
    }, { timeout: 4000 });
    const started = calls.find((call) => call.path === "/v1/renders");
    expect(started?.body).toEqual({
      source: SOURCE,
      parameters: {},
      view: { width: 1280, height: 720 },
      formats: ["png", "glb", "3mf", "stl"],
    });
    expect(within(region).getByRole("link", { name: "STL" }).getAttribute("download")).toBe("set-piece.stl");
    expect(within(region).getByRole("region", { name: "3D model" }).getAttribute("data-glb-url")).toBe("/v1/renders/r1/glb");

    // A colour picked: saved into the node's values, previewed anew.
    fireEvent.change(within(region).getByLabelText("wall_colour colour"), { target: { value: "#ff0000" } });
    expect(onChange).toHaveBeenLastCalledWith("set_piece.values", {
      location: "Yard",
      set_piece: { source: SOURCE, values: { wall_colour: "#ff0000" } },
    });
    expect(within(region).getByRole("link", { name: "GLB" }).getAttribute("aria-disabled")).toBe("true");
    await waitFor(() => {
      expect(previews(calls)).toHaveLength(2);
    });
    expect(previews(calls)[1]).toMatchObject({ parameters: { wall_colour: "#ff0000" } });
    await waitFor(() => {
      expect(within(region).getByRole("img", { name: "Set piece preview" }).getAttribute("src")).toBe("blob:preview-2");
    });
  });

  it("says what is wrong with the model, on which line, until it is fixed", async () => {
    fakeGateway({
      "POST /v1/render/parameters": () => [200, { parameters: [] }],
      "POST /v1/render/preview": [
        () => [422, { ...problem(422, "Parser error in file model.scad, line 2: syntax error")[1] as object, line: 2 }],
        () => [200, {}],
      ],
      "POST /v1/renders": () => [202, { ...RENDER, state: "queued" }],
    });
    const section = (source: string) => (
      <SetPieceSection nodeId="scene-1" properties={{ location: "Yard", set_piece: { source } }} readOnly={false} onChange={vi.fn()} />
    );
    const { rerender } = render(section("cube(1);\nsphere(2;\n"));
    const region = screen.getByRole("region", { name: "Set piece" });
    const alert = await within(region).findByRole("alert");
    expect(alert.textContent).toBe("Line 2: Parser error in file model.scad, line 2: syntax error");
    expect(within(region).getByRole("region", { name: "3D model" }).textContent).toMatch(/fix the model’s error first/);
    expect(within(region).getByText("This model has no customizer parameters.")).toBeTruthy();

    rerender(section("cube(1);\nsphere(2);\n"));
    // Still said while the fix is checked, then gone.
    expect(within(region).getByRole("alert")).toBe(alert);
    await within(region).findByRole("img", { name: "Set piece preview" });
    expect(within(region).queryByRole("alert")).toBeNull();
  });
});

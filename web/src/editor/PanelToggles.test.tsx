// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { EMPTY_GRAPH } from "../api/graph";
import { GraphEditor } from "./GraphEditor";
import { NODE_TYPES } from "./nodeTypes.fixture";
import { ONE_PANEL_QUERY } from "./panels";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

/** A screen where `ONE_PANEL_QUERY` matches (a phone) or not (a tablet). */
function screenOf(phone: boolean) {
  vi.stubGlobal("matchMedia", (query: string) => ({
    matches: phone && query === ONE_PANEL_QUERY,
    media: query,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  }));
}

function renderEditor(readOnly = false) {
  render(
    <GraphEditor graph={EMPTY_GRAPH} nodeTypes={NODE_TYPES} problems={[]} readOnly={readOnly} onChange={vi.fn()} />,
  );
  return {
    add: screen.queryByRole("button", { name: "Add node" }),
    properties: screen.getByRole("button", { name: "Properties" }),
    paletteRegion: screen.queryByRole("region", { name: "Node palette" }),
    propertiesRegion: screen.getByRole("region", { name: "Properties" }),
  };
}

describe("the panel toggles", () => {
  it("each control its panel, and say whether it is open", () => {
    screenOf(false);
    const { add, properties, paletteRegion, propertiesRegion } = renderEditor();
    if (add === null || paletteRegion === null) throw new Error("no palette");
    expect(add.getAttribute("aria-controls")).toBe(paletteRegion.id);
    expect(properties.getAttribute("aria-controls")).toBe(propertiesRegion.id);
    expect(add.getAttribute("aria-expanded")).toBe("false");
    expect(paletteRegion.classList.contains("is-open")).toBe(false);

    fireEvent.click(add);
    fireEvent.click(properties);
    // Room for both beside the canvas.
    expect(add.getAttribute("aria-expanded")).toBe("true");
    expect(properties.getAttribute("aria-expanded")).toBe("true");
    expect(paletteRegion.classList.contains("is-open")).toBe(true);
    expect(propertiesRegion.classList.contains("is-open")).toBe(true);

    fireEvent.click(add);
    expect(add.getAttribute("aria-expanded")).toBe("false");
    expect(paletteRegion.classList.contains("is-open")).toBe(false);
  });

  it("open one panel at a time on a phone", () => {
    screenOf(true);
    const { add, properties, paletteRegion, propertiesRegion } = renderEditor();
    if (add === null || paletteRegion === null) throw new Error("no palette");
    fireEvent.click(add);
    fireEvent.click(properties);
    expect(add.getAttribute("aria-expanded")).toBe("false");
    expect(paletteRegion.classList.contains("is-open")).toBe(false);
    expect(propertiesRegion.classList.contains("is-open")).toBe(true);
    fireEvent.click(add);
    expect(paletteRegion.classList.contains("is-open")).toBe(true);
    expect(properties.getAttribute("aria-expanded")).toBe("false");
  });

  it("offer no palette to a reader", () => {
    screenOf(false);
    const { add, paletteRegion } = renderEditor(true);
    expect(add).toBeNull();
    expect(paletteRegion).toBeNull();
  });
});

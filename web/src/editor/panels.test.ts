import { describe, expect, it } from "vitest";

import { shownPanels, togglePanel } from "./panels";

describe("togglePanel", () => {
  it("opens a closed panel last, and closes an open one", () => {
    expect(togglePanel([], "palette")).toEqual(["palette"]);
    expect(togglePanel(["palette"], "properties")).toEqual(["palette", "properties"]);
    expect(togglePanel(["palette", "properties"], "palette")).toEqual(["properties"]);
    expect(togglePanel(["properties"], "properties")).toEqual([]);
  });
});

describe("shownPanels", () => {
  it("shows every open panel where there is room", () => {
    expect([...shownPanels(["palette", "properties"], false)]).toEqual(["palette", "properties"]);
  });

  it("shows only the last opened where one fits at a time", () => {
    expect([...shownPanels(["palette", "properties"], true)]).toEqual(["properties"]);
    expect([...shownPanels(["properties", "palette"], true)]).toEqual(["palette"]);
    expect([...shownPanels([], true)]).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";

import { ORBIT_STEP, viewActionFor, ZOOM_STEP } from "./keys";

describe("viewActionFor", () => {
  it("turns with the arrow keys, each the opposite of its partner", () => {
    expect(viewActionFor("ArrowLeft")).toEqual({ kind: "orbit", left: ORBIT_STEP, up: 0 });
    expect(viewActionFor("ArrowRight")).toEqual({ kind: "orbit", left: -ORBIT_STEP, up: 0 });
    expect(viewActionFor("ArrowUp")).toEqual({ kind: "orbit", left: 0, up: ORBIT_STEP });
    expect(viewActionFor("ArrowDown")).toEqual({ kind: "orbit", left: 0, up: -ORBIT_STEP });
  });

  it("zooms in with + (or = unshifted) and out with - (or _), by the same step", () => {
    for (const key of ["+", "="]) {
      expect(viewActionFor(key)).toEqual({ kind: "zoom", scale: 1 / ZOOM_STEP });
    }
    for (const key of ["-", "_"]) {
      expect(viewActionFor(key)).toEqual({ kind: "zoom", scale: ZOOM_STEP });
    }
  });

  it("frames the model again with Home, and leaves other keys alone", () => {
    expect(viewActionFor("Home")).toEqual({ kind: "reset" });
    for (const key of ["Tab", "Enter", " ", "a", "Escape", "PageDown"]) {
      expect(viewActionFor(key)).toBeNull();
    }
  });
});

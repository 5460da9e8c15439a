import { describe, expect, it } from "vitest";

import { colourParts, joinColour, opacityText, parseColour } from "./colour";

describe("parseColour", () => {
  it.each([
    ["#f00", "#ff0000"],
    ["#F00", "#ff0000"],
    ["#f008", "#ff000088"],
    ["#f00f", "#ff0000"],
    ["#1a2B3c", "#1a2b3c"],
    ["#1a2b3c80", "#1a2b3c80"],
    ["#1a2b3cff", "#1a2b3c"],
    ["  #abc  ", "#aabbcc"],
  ])("takes %j as %s", (typed, colour) => {
    expect(parseColour(typed)).toEqual({ ok: true, value: colour });
  });

  it.each(["", "   ", "red", "f00", "#12345g", "#12", "#12345", "#1234567", "#123456789", "rgb(1,2,3)", "#ff 00 00"])(
    "refuses %j, naming the forms it takes",
    (typed) => {
      const parsed = parseColour(typed);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.message).toMatch(/#rgb, #rgba, #rrggbb or #rrggbbaa/);
    },
  );

  it("quotes what was typed in its refusal", () => {
    expect(parseColour("#12345g")).toEqual({
      ok: false,
      message: "“#12345g” is not a colour: use #rgb, #rgba, #rrggbb or #rrggbbaa.",
    });
  });
});

describe("hue and opacity", () => {
  it("splits a colour into the picker's hue and an opacity", () => {
    expect(colourParts("#c0392b")).toEqual({ hue: "#c0392b", alpha: 255 });
    expect(colourParts("#c0392b80")).toEqual({ hue: "#c0392b", alpha: 128 });
    expect(colourParts("#abc")).toEqual({ hue: "#aabbcc", alpha: 255 });
    expect(colourParts("SteelBlue")).toBeUndefined();
  });

  it("joins them back in the render service's form, an opaque alpha left out", () => {
    expect(joinColour("#ff0000", 255)).toBe("#ff0000");
    expect(joinColour("#ff0000", 128)).toBe("#ff000080");
    expect(joinColour("#FF0000", 0)).toBe("#ff000000");
    expect(joinColour("#ff0000", 300)).toBe("#ff0000");
    expect(joinColour("#ff0000", -4)).toBe("#ff000000");
    expect(joinColour("#ff0000", 12.6)).toBe("#ff00000d");
  });

  it("round-trips every opacity", () => {
    for (let alpha = 0; alpha <= 255; alpha += 1) {
      expect(colourParts(joinColour("#102030", alpha))).toEqual({ hue: "#102030", alpha });
    }
  });

  it("reads an opacity as a percentage", () => {
    expect(opacityText(255)).toBe("100%");
    expect(opacityText(128)).toBe("50%");
    expect(opacityText(0)).toBe("0%");
  });
});

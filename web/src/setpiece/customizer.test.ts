import { describe, expect, it } from "vitest";

import { choiceIndex, customizerForm, fieldOf, knownValues, parseNumber, valueOf, withValue, type ChoiceField } from "./customizer";
import { DEFAULT_PARAMETERS, OTHER_PARAMETERS } from "./customizer.fixture";

describe("customizerForm", () => {
  it("groups the fields by the model's tabs, in the order it declares them", () => {
    const form = customizerForm([...DEFAULT_PARAMETERS, ...OTHER_PARAMETERS]);
    expect(form.map((group) => [group.name, group.fields.map((field) => field.name)])).toEqual([
      ["Colours", ["wall_colour", "floor_colour"]],
      ["Size", ["width", "height", "doorway"]],
      ["More", ["kind", "label", "offset", "turns", "sides"]],
    ]);
  });

  it("puts parameters of no tab under 'Parameters'", () => {
    const form = customizerForm([{ name: "size", type: "number", default: 1 }]);
    expect(form).toEqual([{ name: "Parameters", fields: [expect.objectContaining({ name: "size" })] }]);
  });

  it("gives each parameter the field of its kind", () => {
    const fields = Object.fromEntries(
      [...DEFAULT_PARAMETERS, ...OTHER_PARAMETERS].map((parameter) => [parameter.name, fieldOf(parameter)]),
    );
    expect(fields.wall_colour).toEqual({ name: "wall_colour", kind: "colour", description: "The wall's colour", defaultValue: "#c0392b" });
    // Both ends given: a slider, as OpenSCAD's customizer draws [min:step:max].
    expect(fields.width).toMatchObject({ kind: "slider", min: 10, max: 100, step: 5 });
    expect(fields.height).toMatchObject({ kind: "slider", min: 5, max: 60 });
    expect(fields.height).not.toHaveProperty("step");
    // A step alone, or nothing: a number box.
    expect(fields.turns).toMatchObject({ kind: "number", step: 0.5 });
    expect(fields.sides).toEqual({ name: "sides", kind: "number", description: "", defaultValue: 6 });
    expect(fields.doorway).toMatchObject({ kind: "boolean", defaultValue: true });
    expect(fields.kind).toMatchObject({ kind: "choice", options: [{ value: "wood", label: "Wood" }, { value: "stone", label: "Stone" }] });
    expect(fields.label).toMatchObject({ kind: "text", maxLength: 12 });
    expect(fields.offset).toMatchObject({ kind: "vector", length: 3, min: -10, max: 10 });
  });

  it("is empty for a model without parameters", () => {
    expect(customizerForm([])).toEqual([]);
  });
});

describe("values", () => {
  const [, , widthParameter] = DEFAULT_PARAMETERS;
  if (widthParameter === undefined) throw new Error("the fixture has a width");
  const width = fieldOf(widthParameter);

  it("shows the node's value, else the model's default", () => {
    expect(valueOf(width, {})).toBe(40);
    expect(valueOf(width, { width: 55 })).toBe(55);
  });

  it("sends only the values of parameters the model still declares", () => {
    const values = { width: 55, gone: 3, wall_colour: "#ff0000" };
    expect(knownValues(DEFAULT_PARAMETERS, values)).toEqual({ width: 55, wall_colour: "#ff0000" });
    expect(withValue(DEFAULT_PARAMETERS, values, "height", 30)).toEqual({ width: 55, wall_colour: "#ff0000", height: 30 });
  });

  it("finds a choice by its value", () => {
    const [kindParameter] = OTHER_PARAMETERS;
    if (kindParameter === undefined) throw new Error("the fixture has a kind");
    const kind = fieldOf(kindParameter) as ChoiceField;
    expect(choiceIndex(kind, "stone")).toBe(1);
    expect(choiceIndex(kind, "glass")).toBe(-1);
  });
});

describe("parseNumber", () => {
  const field = { min: 10, max: 100 };

  it("takes a number in the model's range", () => {
    expect(parseNumber(field, " 42.5 ")).toEqual({ ok: true, value: 42.5 });
    expect(parseNumber(field, "10")).toEqual({ ok: true, value: 10 });
    expect(parseNumber({}, "-1e3")).toEqual({ ok: true, value: -1000 });
  });

  it("refuses what is not a number, or out of range, saying why", () => {
    expect(parseNumber(field, "")).toEqual({ ok: false, message: "Enter a number." });
    expect(parseNumber(field, "ten")).toEqual({ ok: false, message: "“ten” is not a number." });
    expect(parseNumber(field, "Infinity")).toEqual({ ok: false, message: "“Infinity” is not a number." });
    expect(parseNumber(field, "9")).toEqual({ ok: false, message: "At least 10." });
    expect(parseNumber(field, "101")).toEqual({ ok: false, message: "At most 100." });
  });
});

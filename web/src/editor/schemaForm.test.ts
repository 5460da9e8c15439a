import { describe, expect, it } from "vitest";

import type { JsonSchema, NodeType } from "../api/graph";
import { NODE_TYPES } from "./nodeTypes.fixture";
import { propertyErrors } from "./schemaErrors";
import {
  defaultsOf,
  fieldsOf,
  formatValue,
  parseInput,
  parseList,
  valueAt,
  withValue,
  type Field,
  type ListField,
  type SimpleField,
} from "./schemaForm";

function schemaOf(name: string): JsonSchema {
  const type: NodeType | undefined = NODE_TYPES.find((candidate) => candidate.name === name);
  if (type === undefined) throw new Error(`no node type ${name}`);
  return type.properties;
}

function byKey(fields: readonly Field[]): Map<string, Field> {
  const all = new Map<string, Field>();
  for (const field of fields) {
    all.set(field.key, field);
    if (field.kind === "group") for (const [key, child] of byKey(field.fields)) all.set(key, child);
  }
  return all;
}

function field<K extends Field["kind"]>(fields: Map<string, Field>, key: string, kind: K): Extract<Field, { kind: K }> {
  const found = fields.get(key);
  if (found?.kind !== kind) throw new Error(`${key} is ${String(found?.kind)}, not ${kind}`);
  return found as Extract<Field, { kind: K }>;
}

describe("fieldsOf", () => {
  const shot = byKey(fieldsOf(schemaOf("shot")));
  const character = byKey(fieldsOf(schemaOf("character")));

  it("lists the required properties first, then the others, labelled by name, with their hints", () => {
    expect(fieldsOf(schemaOf("shot")).map((f) => f.label)).toEqual(["name", "framing", "duration_s", "camera_angle", "notes"]);
    expect(shot.get("name")?.description).toBe("The shot's caption.");
  });

  it("keeps that order when the properties arrive with their keys sorted, as the API sends them", () => {
    const schema = schemaOf("shot");
    const properties = schema.properties as Record<string, unknown>;
    const sorted = Object.fromEntries(Object.keys(properties).sort().map((name) => [name, properties[name]]));
    expect(fieldsOf({ ...schema, properties: sorted }).map((f) => f.label)).toEqual([
      "name",
      "framing",
      "duration_s",
      "camera_angle",
      "notes",
    ]);
  });

  it("marks required properties", () => {
    expect(shot.get("name")?.required).toBe(true);
    expect(shot.get("notes")?.required).toBe(false);
  });

  it("makes short strings one line and long ones a text box", () => {
    expect(field(shot, "name", "text").multiline).toBe(false);
    expect(field(shot, "notes", "text").multiline).toBe(true);
    expect(field(shot, "notes", "text").maxLength).toBe(4000);
  });

  it("makes an enum a choice with its default", () => {
    const angle = field(shot, "camera_angle", "choice");
    expect(angle.options).toContain("low");
    expect(angle.defaultValue).toBe("eye-level");
  });

  it("makes a number field with its bounds", () => {
    const duration = field(shot, "duration_s", "number");
    expect(duration).toMatchObject({ integer: false, min: 0.1, max: 3600, step: "any" });
  });

  it("nests an object's fields under its path", () => {
    const lora = field(character, "lora", "group");
    expect(lora.required).toBe(false);
    expect(lora.fields.map((f) => f.key)).toEqual(["lora.name", "lora.weight"]);
    expect(field(character, "lora.name", "text").required).toBe(true);
    expect(field(character, "lora.weight", "number").path).toEqual(["lora", "weight"]);
  });

  it("makes an array of simple values a list, and a free-form map JSON", () => {
    const references = field(character, "reference_images", "list");
    expect(references.item.kind).toBe("text");
    expect(references.maxItems).toBe(20);
    expect(character.get("attributes")?.kind).toBe("json");
  });

  it("reads titles, integers, booleans and formats", () => {
    const fields = byKey(
      fieldsOf({
        type: "object",
        properties: {
          count: { type: "integer", title: "How many", minimum: 1 },
          step: { type: "number", multipleOf: 0.5 },
          loop: { type: "boolean" },
          mail: { type: "string", format: "email", maxLength: 100 },
          maybe: { type: ["string", "null"], maxLength: 10 },
        },
      }),
    );
    expect(field(fields, "count", "number")).toMatchObject({ label: "How many", integer: true, step: "1", min: 1 });
    expect(field(fields, "step", "number").step).toBe("0.5");
    expect(fields.get("loop")?.kind).toBe("checkbox");
    expect(field(fields, "mail", "text").inputType).toBe("email");
    expect(fields.get("maybe")?.kind).toBe("text");
  });
});

describe("defaultsOf", () => {
  it("gives a new node the schema's defaults", () => {
    expect(defaultsOf(schemaOf("shot"))).toEqual({ camera_angle: "eye-level" });
    expect(defaultsOf(schemaOf("scene"))).toEqual({ lighting: "day", mood: "neutral" });
  });

  it("leaves optional objects out and fills required ones", () => {
    expect(defaultsOf(schemaOf("character"))).toEqual({});
    const schema = {
      type: "object",
      required: ["camera"],
      properties: { camera: { type: "object", properties: { lens: { type: "number", default: 35 } } } },
    };
    expect(defaultsOf(schema)).toEqual({ camera: { lens: 35 } });
  });

  it("copies defaults, so that editing one node leaves the schema alone", () => {
    const schema = { type: "object", properties: { tags: { type: "array", default: ["a"] } } };
    const defaults = defaultsOf(schema);
    (defaults.tags as string[]).push("b");
    expect(defaultsOf(schema)).toEqual({ tags: ["a"] });
  });
});

describe("values", () => {
  const properties = { name: "Ada", lora: { name: "ada-v1", weight: 1 }, notes: "x" };

  it("reads a value at a path", () => {
    expect(valueAt(properties, ["lora", "weight"])).toBe(1);
    expect(valueAt(properties, ["lora", "missing"])).toBeUndefined();
    expect(valueAt(properties, ["name", "deeper"])).toBeUndefined();
  });

  it("sets a value without touching the original, keeping the keys' order", () => {
    const next = withValue(properties, ["name"], "Grace");
    expect(next).toEqual({ ...properties, name: "Grace" });
    expect(Object.keys(next)).toEqual(["name", "lora", "notes"]);
    expect(properties.name).toBe("Ada");
    expect(next.lora).toBe(properties.lora);
  });

  it("creates and removes nested objects", () => {
    expect(withValue({}, ["lora", "name"], "x")).toEqual({ lora: { name: "x" } });
    expect(withValue(properties, ["lora", "weight"], undefined)).toEqual({ ...properties, lora: { name: "ada-v1" } });
    const emptied = withValue(withValue(properties, ["lora", "weight"], undefined), ["lora", "name"], undefined);
    expect(emptied).toEqual({ name: "Ada", notes: "x" });
  });
});

describe("inputs", () => {
  const shot = byKey(fieldsOf(schemaOf("shot")));
  const duration = shot.get("duration_s") as SimpleField;
  const angle = shot.get("camera_angle") as SimpleField;

  it("reads numbers, and an empty input as no value", () => {
    expect(parseInput(duration, "2.5")).toEqual({ ok: true, value: 2.5 });
    expect(parseInput(duration, "")).toEqual({ ok: true, value: undefined });
    expect(parseInput(duration, "abc")).toEqual({ ok: false, message: "Enter a number" });
    expect(parseInput(duration, "", true)).toEqual({ ok: false, message: "Enter a number" });
  });

  it("shows and reads a choice by its option's position", () => {
    const index = formatValue(angle, "low");
    expect(parseInput(angle, index)).toEqual({ ok: true, value: "low" });
    expect(parseInput(angle, "")).toEqual({ ok: true, value: undefined });
    expect(parseInput(angle, "99").ok).toBe(false);
  });

  it("reads JSON, refusing what does not parse", () => {
    const attributes = byKey(fieldsOf(schemaOf("character"))).get("attributes");
    if (attributes?.kind !== "json") throw new Error("attributes should be JSON");
    expect(parseInput(attributes, '{"hair": "red"}')).toEqual({ ok: true, value: { hair: "red" } });
    expect(parseInput(attributes, "{hair")).toEqual({ ok: false, message: "Not valid JSON" });
    expect(formatValue(attributes, { hair: "red" })).toBe('{\n  "hair": "red"\n}');
  });

  it("reads a list's items, skipping blank ones", () => {
    const references = byKey(fieldsOf(schemaOf("character"))).get("reference_images") as ListField;
    expect(parseList(references, ["a", " ", "b"])).toEqual({ ok: true, value: ["a", "b"] });
    expect(parseList(references, ["", ""])).toEqual({ ok: true, value: undefined });
    const numbers: ListField = { ...references, item: { ...duration, kind: "number", integer: false, step: "any" } };
    expect(parseList(numbers, ["1", "x"])).toEqual({ ok: false, message: "Item 2: Enter a number" });
  });
});

describe("propertyErrors", () => {
  it("names each field the schema refuses, in words", () => {
    const errors = propertyErrors(schemaOf("shot"), { name: "x".repeat(300), framing: "wide", duration_s: 9999 });
    expect(errors.get("name")).toMatch(/^At most \d+ characters$/);
    expect(errors.get("duration_s")).toBe("At most 3600");
    expect(errors.has("framing")).toBe(false);
  });

  it("pins a missing required property on its own field", () => {
    const errors = propertyErrors(schemaOf("character"), { lora: { weight: 1 } });
    expect(errors.get("name")).toBe("Required");
    expect(errors.get("lora.name")).toBe("Required");
  });

  it("pins a list item's error on the item", () => {
    const blob = "a".repeat(64);
    const errors = propertyErrors(schemaOf("character"), { name: "Ada", reference_images: [blob, "not-a-blob"] });
    expect(errors.get("reference_images.1")).toBe("Not in the expected form");
    expect(propertyErrors(schemaOf("character"), { name: "Ada", reference_images: [blob, blob] }).get("reference_images")).toBe(
      "Each item may appear only once",
    );
  });

  it("names the wrong type, an unknown property and an unknown option", () => {
    const errors = propertyErrors(schemaOf("shot"), { name: 5, framing: "fisheye", duration_s: 1, lens: 35 });
    expect(errors.get("name")).toBe("Must be text");
    expect(errors.get("framing")).toBe("One of: wide, medium, close-up");
    expect(errors.get("lens")).toBe("Not a property of this node");
  });

  it("says which key of a map is wrong", () => {
    const errors = propertyErrors(schemaOf("character"), { name: "Ada", attributes: { "": "x" } });
    expect(errors.get("attributes.")).toMatch(/^Key "": /);
  });

  it("accepts valid properties", () => {
    expect(propertyErrors(schemaOf("shot"), { name: "Opening", framing: "wide", duration_s: 3 }).size).toBe(0);
  });
});

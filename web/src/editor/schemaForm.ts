// A node type's property form, from its JSON Schema: which field edits each property, what it
// starts with, and how the text of an input becomes a value. Pure; PropertiesPanel renders it.

import type { JsonSchema } from "../api/graph";

/** Strings longer than this get a multi-line box. */
const SINGLE_LINE_MAX = 200;
/** The pattern of a blob id (services/canvas/kinds/schema.py `blob_id`): an uploaded image. */
const BLOB_ID_PATTERN = "^[0-9a-f]{64}$";

// String formats an <input> has a type for (and whose value is the schema's form).
const INPUT_TYPES: Readonly<Record<string, TextField["inputType"]>> = {
  email: "email",
  uri: "url",
  date: "date",
  time: "time",
};

interface FieldBase {
  /** Where the value lives in the node's properties: ["lora", "weight"]. */
  path: readonly string[];
  /** The path dotted, as validation problems name fields: "lora.weight". */
  key: string;
  /** The schema's title, else the property's name. */
  label: string;
  description?: string;
  required: boolean;
  defaultValue?: unknown;
}

export interface TextField extends FieldBase {
  kind: "text";
  multiline: boolean;
  inputType: "text" | "email" | "url" | "date" | "time";
  minLength?: number;
  maxLength?: number;
  /** Holds a blob id: the field offers the images uploaded in this session. */
  blobId?: true;
}

export interface ChoiceField extends FieldBase {
  kind: "choice";
  options: readonly unknown[];
}

export interface NumberField extends FieldBase {
  kind: "number";
  integer: boolean;
  min?: number;
  max?: number;
  /** The input's step: the schema's multipleOf, 1 for integers, else "any". */
  step: string;
}

export interface CheckboxField extends FieldBase {
  kind: "checkbox";
}

/** A nested object with declared properties. */
export interface GroupField extends FieldBase {
  kind: "group";
  fields: readonly Field[];
}

/** An array of simple values, edited item by item. */
export interface ListField extends FieldBase {
  kind: "list";
  item: SimpleField;
  minItems?: number;
  maxItems?: number;
}

/** Anything else (a map of values, a union): edited as JSON text. */
export interface JsonField extends FieldBase {
  kind: "json";
}

export type SimpleField = TextField | ChoiceField | NumberField | CheckboxField;
export type Field = SimpleField | GroupField | ListField | JsonField;

/** The outcome of reading an input: a value (undefined: leave the property out) or why not. */
export type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function numberOf(schema: JsonSchema, keyword: string): number | undefined {
  const value = schema[keyword];
  return typeof value === "number" ? value : undefined;
}

function stringOf(schema: JsonSchema, keyword: string): string | undefined {
  const value = schema[keyword];
  return typeof value === "string" ? value : undefined;
}

/** The one non-null type a schema declares, if it declares one. */
function typeOf(schema: JsonSchema): string | undefined {
  const type = schema.type;
  if (typeof type === "string") return type;
  if (Array.isArray(type)) {
    const named = type.filter((t): t is string => typeof t === "string" && t !== "null");
    return named.length === 1 ? named[0] : undefined;
  }
  return undefined;
}

function requiredOf(schema: JsonSchema): Set<string> {
  const required = schema.required;
  return new Set(Array.isArray(required) ? required.filter((r): r is string => typeof r === "string") : []);
}

function simpleField(base: FieldBase, schema: JsonSchema): SimpleField | null {
  const options = schema.enum;
  if (Array.isArray(options)) return { ...base, kind: "choice", options };
  const type = typeOf(schema);
  if (type === "string") {
    const maxLength = numberOf(schema, "maxLength");
    const minLength = numberOf(schema, "minLength");
    const format = stringOf(schema, "format");
    const field: TextField = {
      ...base,
      kind: "text",
      multiline: maxLength === undefined || maxLength > SINGLE_LINE_MAX,
      inputType: (format === undefined ? undefined : INPUT_TYPES[format]) ?? "text",
    };
    if (maxLength !== undefined) field.maxLength = maxLength;
    if (minLength !== undefined) field.minLength = minLength;
    if (stringOf(schema, "pattern") === BLOB_ID_PATTERN) field.blobId = true;
    return field;
  }
  if (type === "number" || type === "integer") {
    const multipleOf = numberOf(schema, "multipleOf");
    const field: NumberField = {
      ...base,
      kind: "number",
      integer: type === "integer",
      step: multipleOf !== undefined ? String(multipleOf) : type === "integer" ? "1" : "any",
    };
    const min = numberOf(schema, "minimum") ?? numberOf(schema, "exclusiveMinimum");
    const max = numberOf(schema, "maximum") ?? numberOf(schema, "exclusiveMaximum");
    if (min !== undefined) field.min = min;
    if (max !== undefined) field.max = max;
    return field;
  }
  if (type === "boolean") return { ...base, kind: "checkbox" };
  return null;
}

function fieldOf(name: string, schema: JsonSchema, parent: readonly string[], required: boolean): Field {
  const path = [...parent, name];
  const base: FieldBase = { path, key: path.join("."), label: stringOf(schema, "title") ?? name, required };
  const description = stringOf(schema, "description");
  if (description !== undefined) base.description = description;
  if ("default" in schema) base.defaultValue = schema.default;

  const simple = simpleField(base, schema);
  if (simple !== null) return simple;
  const type = typeOf(schema);
  if (type === "object" && isSchema(schema.properties)) {
    return { ...base, kind: "group", fields: fieldsOf(schema, path) };
  }
  if (type === "array" && isSchema(schema.items)) {
    const item = simpleField({ path, key: base.key, label: base.label, required: false }, schema.items);
    if (item !== null) {
      const field: ListField = { ...base, kind: "list", item };
      const minItems = numberOf(schema, "minItems");
      const maxItems = numberOf(schema, "maxItems");
      if (minItems !== undefined) field.minItems = minItems;
      if (maxItems !== undefined) field.maxItems = maxItems;
      return field;
    }
  }
  return { ...base, kind: "json" };
}

/** The fields of an object schema's properties: the required ones first, in the order its
 * `required` list names them, then the others as the schema lists them. (A schema's
 * `properties` reach the studio with their keys sorted — the API sends them as a protobuf
 * Struct — but `required` is a list and keeps its order.) */
export function fieldsOf(schema: JsonSchema, parent: readonly string[] = []): Field[] {
  const properties = schema.properties;
  if (!isSchema(properties)) return [];
  const required = requiredOf(schema);
  const names = [...required].filter((name) => Object.hasOwn(properties, name));
  for (const name of Object.keys(properties)) if (!required.has(name)) names.push(name);
  return names.flatMap((name) => {
    const property = properties[name];
    return isSchema(property) ? [fieldOf(name, property, parent, required.has(name))] : [];
  });
}

/** The properties a new node starts with: every default the schema gives, in required nested
 * objects too (an optional object is left out until the user fills it). */
export function defaultsOf(schema: JsonSchema): Record<string, unknown> {
  const properties = schema.properties;
  if (!isSchema(properties)) return {};
  const required = requiredOf(schema);
  const defaults: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (!isSchema(property)) continue;
    if ("default" in property) {
      defaults[name] = structuredClone(property.default);
    } else if (required.has(name) && typeOf(property) === "object") {
      const nested = defaultsOf(property);
      if (Object.keys(nested).length > 0) defaults[name] = nested;
    }
  }
  return defaults;
}

/** The value at `path`, or undefined. */
export function valueAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const part of path) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** `properties` with `value` at `path` (undefined removes it), sharing everything else; a
 * nested object made empty by a removal is removed too. */
export function withValue(
  properties: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return properties;
  let inner: unknown = value;
  if (rest.length > 0) {
    const old = properties[head];
    const child = withValue(
      typeof old === "object" && old !== null && !Array.isArray(old) ? (old as Record<string, unknown>) : {},
      rest,
      value,
    );
    inner = Object.keys(child).length === 0 ? undefined : child;
  }
  // Built anew rather than deleted from, keeping the other keys in their order.
  const entries = Object.entries(properties).flatMap(([key, old]): [string, unknown][] =>
    key !== head ? [[key, old]] : inner === undefined ? [] : [[key, inner]],
  );
  if (inner !== undefined && !Object.hasOwn(properties, head)) entries.push([head, inner]);
  return Object.fromEntries(entries);
}

/** A value as its input shows it. */
export function formatValue(field: SimpleField | JsonField, value: unknown): string {
  if (value === undefined) return "";
  switch (field.kind) {
    case "choice": {
      const index = field.options.findIndex((option) => option === value);
      return index < 0 ? "" : String(index);
    }
    case "json":
      return JSON.stringify(value, null, 2);
    default:
      return typeof value === "string" ? value : JSON.stringify(value);
  }
}

/** What an input's text means: an empty input leaves the property out; `badInput` is the
 * browser saying a number input holds something that is not a number. */
export function parseInput(field: SimpleField | JsonField, raw: string, badInput = false): Parsed {
  if (badInput) return { ok: false, message: "Enter a number" };
  switch (field.kind) {
    case "text":
      return { ok: true, value: raw === "" ? undefined : raw };
    case "choice": {
      if (raw === "") return { ok: true, value: undefined };
      const index = Number(raw);
      return Number.isInteger(index) && index >= 0 && index < field.options.length
        ? { ok: true, value: field.options[index] }
        : { ok: false, message: "Choose one of the options" };
    }
    case "number": {
      if (raw.trim() === "") return { ok: true, value: undefined };
      const value = Number(raw);
      return Number.isFinite(value) ? { ok: true, value } : { ok: false, message: "Enter a number" };
    }
    case "checkbox":
      return { ok: true, value: raw === "true" };
    case "json": {
      if (raw.trim() === "") return { ok: true, value: undefined };
      try {
        return { ok: true, value: JSON.parse(raw) as unknown };
      } catch {
        return { ok: false, message: "Not valid JSON" };
      }
    }
  }
}

/** A list's items as its inputs hold them: blank ones are unfinished and left out. The
 * message of the first item that cannot be read names that item. */
export function parseList(field: ListField, raws: readonly string[]): Parsed {
  const values: unknown[] = [];
  for (const [index, raw] of raws.entries()) {
    if (raw.trim() === "") continue;
    const parsed = parseInput(field.item, raw);
    if (!parsed.ok) return { ok: false, message: `Item ${String(index + 1)}: ${parsed.message}` };
    values.push(parsed.value);
  }
  return { ok: true, value: values.length === 0 ? undefined : values };
}

// A node's properties judged against its type's schema, as the user types: one short message
// per field at fault, keyed by the dotted path validation problems use ("lora.weight").
// @cfworker/json-schema interprets the schema (no generated code), so it runs under the
// studio's Content-Security-Policy, which forbids eval.

import { Validator, type OutputUnit } from "@cfworker/json-schema";

import type { JsonSchema } from "../api/graph";

// Keywords whose error only says that something inside failed; the error from inside follows.
const WRAPPERS = new Set([
  "properties",
  "items",
  "prefixItems",
  "additionalProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "propertyNames",
  "patternProperties",
  "dependentSchemas",
  "$ref",
  "allOf",
  "if",
  "then",
  "else",
]);

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: "text",
  number: "a number",
  integer: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "an object",
  null: "empty",
};

const validators = new WeakMap<JsonSchema, Validator>();

function validatorFor(schema: JsonSchema): Validator {
  let validator = validators.get(schema);
  if (validator === undefined) {
    validator = new Validator(schema, "2020-12", false);
    validators.set(schema, validator);
  }
  return validator;
}

/** A JSON pointer ("#/lora/weight", URI-encoded) as its parts. */
function pointerParts(pointer: string): string[] {
  const body = pointer.replace(/^#\/?/, "");
  if (body === "") return [];
  return body.split("/").map((part) => decodeURIComponent(part).replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** The schema keyword's value an error names (its `keywordLocation`), e.g. a maxLength. */
function keywordValue(schema: JsonSchema, location: string): unknown {
  let current: unknown = schema;
  for (const part of pointerParts(location)) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${String(count)} ${count === 1 ? noun : nouns}`;
}

function messageOf(unit: OutputUnit, value: unknown): string {
  const n = typeof value === "number" ? value : NaN;
  switch (unit.keyword) {
    case "required":
      return "Required";
    case "minLength":
      return n === 1 ? "Required" : `At least ${plural(n, "character")}`;
    case "maxLength":
      return `At most ${plural(n, "character")}`;
    case "minimum":
      return `At least ${String(n)}`;
    case "maximum":
      return `At most ${String(n)}`;
    case "exclusiveMinimum":
      return `More than ${String(n)}`;
    case "exclusiveMaximum":
      return `Less than ${String(n)}`;
    case "multipleOf":
      return `A multiple of ${String(n)}`;
    case "minItems":
      return `At least ${plural(n, "item")}`;
    case "maxItems":
      return `At most ${plural(n, "item")}`;
    case "uniqueItems":
      return "Each item may appear only once";
    case "minProperties":
      return `At least ${plural(n, "entry", "entries")}`;
    case "maxProperties":
      return `At most ${plural(n, "entry", "entries")}`;
    case "pattern":
      return "Not in the expected form";
    case "format":
      return `Not a valid ${typeof value === "string" ? value : "value"}`;
    case "enum":
      return Array.isArray(value) ? `One of: ${value.map((v) => String(v)).join(", ")}` : unit.error;
    case "type": {
      const types = (Array.isArray(value) ? value : [value]).map((t) => TYPE_NAMES[String(t)] ?? String(t));
      return `Must be ${types.join(" or ")}`;
    }
    case "false":
      return "Not a property of this node";
    default:
      return unit.error;
  }
}

/** Every field of `properties` that `schema` refuses, each with its first message. */
export function propertyErrors(schema: JsonSchema, properties: unknown): Map<string, string> {
  const errors = new Map<string, string>();
  const result = validatorFor(schema).validate(properties);
  if (result.valid) return errors;
  for (const unit of result.errors) {
    if (WRAPPERS.has(unit.keyword)) continue;
    const path = pointerParts(unit.instanceLocation);
    if (unit.keyword === "required") {
      // Said of the object; the field at fault is the missing property, named in the message.
      const missing = /"(.*)"/.exec(unit.error)?.[1];
      if (missing !== undefined) path.push(missing);
    }
    const key = path.join(".");
    const inKey = unit.keywordLocation.includes("/propertyNames/");
    const message = messageOf(unit, keywordValue(schema, unit.keywordLocation));
    if (!errors.has(key)) errors.set(key, inKey ? `Key "${path.at(-1) ?? ""}": ${message}` : message);
  }
  return errors;
}

/** Whether `key` is `field` or lies inside it ("lora.name" inside "lora"). */
export function within(key: string, field: string): boolean {
  return key === field || key.startsWith(`${field}.`);
}

/** The first message for `field` or anything inside it. */
export function errorWithin(errors: ReadonlyMap<string, string>, field: string): string | undefined {
  for (const [key, message] of errors) if (within(key, field)) return message;
  return undefined;
}

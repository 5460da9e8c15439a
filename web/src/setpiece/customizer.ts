// The customizer form of a set piece, from `POST /v1/render/parameters` (its shape:
// services/render/parameters.py `Parameter.to_json`, as the gateway sends the proto): which
// field edits each parameter, in which group, and how typed text becomes a value. Pure.

/** One parameter as the API describes it. */
export interface Parameter {
  name: string;
  type: "number" | "string" | "boolean" | "vector" | "choice" | "colour";
  default: unknown;
  description?: string;
  group?: string;
  minimum?: number;
  maximum?: number;
  step?: number;
  choices?: readonly { value: unknown; label: string }[];
  max_length?: number;
  length?: number;
}

export interface ParametersAnswer {
  parameters?: Parameter[];
}

interface FieldBase {
  name: string;
  description: string;
  defaultValue: unknown;
}

export interface NumberField extends FieldBase {
  /** "slider" when the model gives both ends, as OpenSCAD's customizer draws it. */
  kind: "number" | "slider";
  min?: number;
  max?: number;
  step?: number;
}

export interface VectorField extends FieldBase {
  kind: "vector";
  length: number;
  min?: number;
  max?: number;
  step?: number;
}

export interface ChoiceField extends FieldBase {
  kind: "choice";
  options: readonly { value: unknown; label: string }[];
}

export interface BooleanField extends FieldBase {
  kind: "boolean";
}

export interface TextField extends FieldBase {
  kind: "text";
  maxLength?: number;
}

export interface ColourField extends FieldBase {
  kind: "colour";
}

export type CustomizerField = NumberField | VectorField | ChoiceField | BooleanField | TextField | ColourField;

export interface CustomizerGroup {
  name: string;
  fields: readonly CustomizerField[];
}

export type NumberParse = { ok: true; value: number } | { ok: false; message: string };

const DEFAULT_GROUP = "Parameters";

function limits(parameter: Parameter): { min?: number; max?: number; step?: number } {
  const found: { min?: number; max?: number; step?: number } = {};
  if (typeof parameter.minimum === "number") found.min = parameter.minimum;
  if (typeof parameter.maximum === "number") found.max = parameter.maximum;
  if (typeof parameter.step === "number" && parameter.step > 0) found.step = parameter.step;
  return found;
}

/** The field that edits `parameter`. */
export function fieldOf(parameter: Parameter): CustomizerField {
  const base: FieldBase = {
    name: parameter.name,
    description: parameter.description ?? "",
    defaultValue: parameter.default,
  };
  switch (parameter.type) {
    case "number": {
      const found = limits(parameter);
      const kind = found.min !== undefined && found.max !== undefined ? "slider" : "number";
      return { ...base, kind, ...found };
    }
    case "vector":
      return { ...base, kind: "vector", length: parameter.length ?? 3, ...limits(parameter) };
    case "choice":
      return { ...base, kind: "choice", options: parameter.choices ?? [] };
    case "boolean":
      return { ...base, kind: "boolean" };
    case "colour":
      return { ...base, kind: "colour" };
    case "string":
      return parameter.max_length === undefined
        ? { ...base, kind: "text" }
        : { ...base, kind: "text", maxLength: parameter.max_length };
  }
}

/** The form: the model's groups (customizer tabs) in the order it declares them. */
export function customizerForm(parameters: readonly Parameter[]): CustomizerGroup[] {
  const groups = new Map<string, CustomizerField[]>();
  for (const parameter of parameters) {
    const group = parameter.group === undefined || parameter.group === "" ? DEFAULT_GROUP : parameter.group;
    const fields = groups.get(group) ?? [];
    fields.push(fieldOf(parameter));
    groups.set(group, fields);
  }
  return [...groups].map(([name, fields]) => ({ name, fields }));
}

/** What a field shows: the node's value, else the model's default. */
export function valueOf(field: CustomizerField, values: Readonly<Record<string, unknown>>): unknown {
  return Object.hasOwn(values, field.name) ? values[field.name] : field.defaultValue;
}

/** Only the values of parameters the model declares: a value of one it no longer has would
 * make the renderer refuse the whole model. */
export function knownValues(
  parameters: readonly Parameter[],
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const known: Record<string, unknown> = {};
  for (const { name } of parameters) if (Object.hasOwn(values, name)) known[name] = values[name];
  return known;
}

/** `values` with `name` set, and without values of parameters the model no longer has. */
export function withValue(
  parameters: readonly Parameter[],
  values: Readonly<Record<string, unknown>>,
  name: string,
  value: unknown,
): Record<string, unknown> {
  return { ...knownValues(parameters, values), [name]: value };
}

function shown(value: number): string {
  return String(value);
}

/** A number typed into `field`; or why it is refused (not a number, out of the model's range). */
export function parseNumber(field: { min?: number; max?: number }, raw: string): NumberParse {
  const text = raw.trim();
  if (text === "") return { ok: false, message: "Enter a number." };
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, message: `“${text}” is not a number.` };
  if (field.min !== undefined && value < field.min) {
    return { ok: false, message: `At least ${shown(field.min)}.` };
  }
  if (field.max !== undefined && value > field.max) {
    return { ok: false, message: `At most ${shown(field.max)}.` };
  }
  return { ok: true, value };
}

/** The index of `value` among a choice field's options (-1: none). */
export function choiceIndex(field: ChoiceField, value: unknown): number {
  return field.options.findIndex((option) => option.value === value);
}

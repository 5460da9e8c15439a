// A Scene node's set piece as its properties hold it (services/canvas/kinds/scene.py):
// `set_piece = {source, values?, parameter_set?}`, and the one a new set piece starts from.

export interface SetPiece {
  source: string;
  values: Readonly<Record<string, unknown>>;
  parameterSet?: string;
}

/** What a new set piece starts from: small, quick to render, with colours to pick. */
export const DEFAULT_SOURCE = `// A small set: a floor and a back wall with a doorway.
/* [Colours] */
// The wall's colour
wall_colour = "#c0392b";
// The floor's colour
floor_colour = "#3c6e47";
/* [Size] */
// Width and depth of the set, in mm
width = 40; // [10:5:100]
// Height of the wall, in mm
height = 20; // [5:60]
// A doorway in the wall
doorway = true;

color(floor_colour) cube([width, width, 1]);
color(wall_colour) difference() {
  translate([0, width - 2, 0]) cube([width, 2, height]);
  if (doorway) translate([width / 2 - 4, width - 3, 0]) cube([8, 4, height * 0.7]);
}
`;

/** The byte limit of a source (libs/setpieces.py MAX_SOURCE_BYTES). */
export const MAX_SOURCE_BYTES = 256 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The node's set piece; undefined when it has none (or one without a source). */
export function setPieceOf(properties: Readonly<Record<string, unknown>>): SetPiece | undefined {
  const held = properties.set_piece;
  if (!isRecord(held) || typeof held.source !== "string") return undefined;
  const setPiece: SetPiece = { source: held.source, values: isRecord(held.values) ? held.values : {} };
  if (typeof held.parameter_set === "string" && held.parameter_set !== "") setPiece.parameterSet = held.parameter_set;
  return setPiece;
}

/** The node's properties with its set piece's `changes` applied (other members kept). */
export function withSetPiece(
  properties: Readonly<Record<string, unknown>>,
  changes: { source?: string; values?: Readonly<Record<string, unknown>> },
): Record<string, unknown> {
  const held = isRecord(properties.set_piece) ? properties.set_piece : {};
  return { ...properties, set_piece: { ...held, ...changes } };
}

/** Why a source cannot be saved as it is, or undefined when it can. */
export function sourceRefusal(source: string): string | undefined {
  if (source.trim() === "") return "The model is empty: write some OpenSCAD.";
  const bytes = new TextEncoder().encode(source).length;
  if (bytes > MAX_SOURCE_BYTES) {
    return `The model is ${String(bytes)} bytes; the limit is ${String(MAX_SOURCE_BYTES)} bytes (256 KiB).`;
  }
  return undefined;
}

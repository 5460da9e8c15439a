// Graphs and property values are JSON: two are the same when they hold the same values, whatever
// the order of an object's keys (a graph read back from the server, through its Struct round
// trip, does not keep it).

/** Whether two JSON values are equal: arrays in order, objects by their keys' values, a key
 * holding `undefined` as good as absent (it is absent once sent). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => jsonEqual(item, b[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left).filter((key) => left[key] !== undefined);
  if (keys.length !== Object.keys(right).filter((key) => right[key] !== undefined).length) {
    return false;
  }
  return keys.every((key) => Object.hasOwn(right, key) && jsonEqual(left[key], right[key]));
}

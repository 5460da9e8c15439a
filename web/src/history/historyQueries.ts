// The canvas's versions as one paginated query, and the comparison of two of them.

import { listVersions } from "../api/canvases";
import { cursorPages } from "../app/queries";

/** Two versions picked to compare, the older first. */
export interface VersionPair {
  older: number;
  newer: number;
}

export function pairOf(a: number, b: number): VersionPair {
  return { older: Math.min(a, b), newer: Math.max(a, b) };
}

export function versionsKey(canvasId: string) {
  return ["canvas-versions", canvasId] as const;
}

export function versionsQuery(canvasId: string) {
  return cursorPages(versionsKey(canvasId), (cursor) => listVersions(canvasId, cursor));
}

export function comparisonKey(canvasId: string, pair: VersionPair) {
  return ["canvas-comparison", canvasId, pair.older, pair.newer] as const;
}

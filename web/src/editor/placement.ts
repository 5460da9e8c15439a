// Where a node added with a click goes: at the spot asked for if it is free, else at the
// nearest free cell of a lattice around it, so that new nodes never hide others (or their
// handles) and can be wired at once.

import type { Position } from "../api/graph";

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Space kept between a new node and its neighbours. */
export const PLACEMENT_GAP = 32;
const MAX_RINGS = 12;

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** The free top-left nearest `wanted` for a node of `size` among `taken`; `wanted` itself
 * when nothing is free within reach (a crowded canvas still gets its node). */
export function freeSpot(wanted: Position, size: { width: number; height: number }, taken: readonly Rect[]): Position {
  const stepX = size.width + PLACEMENT_GAP;
  const stepY = size.height + PLACEMENT_GAP;
  const padded = taken.map((rect) => ({
    x: rect.x - PLACEMENT_GAP / 2,
    y: rect.y - PLACEMENT_GAP / 2,
    width: rect.width + PLACEMENT_GAP,
    height: rect.height + PLACEMENT_GAP,
  }));
  const free = (p: Position) => !padded.some((rect) => overlaps(rect, { ...p, ...size }));
  for (let ring = 0; ring <= MAX_RINGS; ring++) {
    const cells: Position[] = [];
    for (let i = -ring; i <= ring; i++) {
      for (let j = -ring; j <= ring; j++) {
        if (Math.max(Math.abs(i), Math.abs(j)) === ring) cells.push({ x: wanted.x + i * stepX, y: wanted.y + j * stepY });
      }
    }
    cells.sort((a, b) => Math.hypot(a.x - wanted.x, a.y - wanted.y) - Math.hypot(b.x - wanted.x, b.y - wanted.y));
    const found = cells.find(free);
    if (found !== undefined) return found;
  }
  return wanted;
}

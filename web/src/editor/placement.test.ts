import { describe, expect, it } from "vitest";

import { PLACEMENT_GAP, freeSpot } from "./placement";

const SIZE = { width: 200, height: 100 };

describe("freeSpot", () => {
  it("takes the spot asked for when it is free", () => {
    expect(freeSpot({ x: 0, y: 0 }, SIZE, [{ x: 500, y: 500, ...SIZE }])).toEqual({ x: 0, y: 0 });
  });

  it("moves beside a node in the way, leaving a gap", () => {
    const spot = freeSpot({ x: 0, y: 0 }, SIZE, [{ x: 0, y: 0, ...SIZE }]);
    const clear =
      spot.x >= SIZE.width + PLACEMENT_GAP / 2 ||
      spot.x + SIZE.width <= -PLACEMENT_GAP / 2 ||
      spot.y >= SIZE.height + PLACEMENT_GAP / 2 ||
      spot.y + SIZE.height <= -PLACEMENT_GAP / 2;
    expect(clear).toBe(true);
    // The nearest such spot: one step up or down, the shorter way.
    expect(Math.abs(spot.x) + Math.abs(spot.y)).toBe(SIZE.height + PLACEMENT_GAP);
  });

  it("places nodes added one after another side by side, none over another", () => {
    const taken: { x: number; y: number; width: number; height: number }[] = [];
    for (let count = 0; count < 9; count++) taken.push({ ...freeSpot({ x: 0, y: 0 }, SIZE, taken), ...SIZE });
    for (const [index, a] of taken.entries()) {
      for (const b of taken.slice(index + 1)) {
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart).toBe(true);
      }
    }
  });
});

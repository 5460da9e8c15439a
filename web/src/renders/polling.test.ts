import { describe, expect, it } from "vitest";

import { pollDelay } from "./polling";

describe("pollDelay", () => {
  it("looks again soon at first, then less and less often, at most every 5 s", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 20].map(pollDelay);
    expect(delays.slice(0, 3)).toEqual([300, 480, 768]);
    for (let i = 1; i < delays.length; i += 1) {
      expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
    }
    expect(Math.max(...delays)).toBe(5_000);
    expect(pollDelay(0)).toBe(300);
  });
});

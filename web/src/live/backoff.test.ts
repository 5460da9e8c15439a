import { describe, expect, it } from "vitest";

import { backoffCeiling, backoffDelay, backoffPolicy, DEFAULT_BACKOFF } from "./backoff";

describe("backoff", () => {
  const policy = backoffPolicy({ initialMs: 100, maxMs: 2_000, multiplier: 2 });

  it("doubles its ceiling with each attempt up to the cap", () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffCeiling(policy, attempt));
    expect(ceilings).toEqual([100, 200, 400, 800, 1_600, 2_000, 2_000]);
  });

  it("stays finite and capped however many attempts failed", () => {
    expect(backoffCeiling(policy, 10_000)).toBe(2_000);
    expect(backoffCeiling(policy, -3)).toBe(100);
  });

  it("draws each wait uniformly from nothing up to the ceiling (full jitter)", () => {
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(400);
    expect(backoffDelay(policy, 3, () => 0.999_999)).toBeLessThan(800);

    // A seeded generator: 2,000 clients cut at once spread over the whole range.
    let state = 42;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const waits = Array.from({ length: 2_000 }, () => backoffDelay(policy, 4, random));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...waits)).toBeLessThan(1_600);
    const quarters = [0, 1, 2, 3].map(
      (q) => waits.filter((w) => w >= q * 400 && w < (q + 1) * 400).length,
    );
    for (const count of quarters) expect(count).toBeGreaterThan(400); // ~500 each
  });

  it("refuses a policy that would busy-loop or never grow", () => {
    expect(() => backoffPolicy({ initialMs: 0 })).toThrow(RangeError);
    expect(() => backoffPolicy({ initialMs: 500, maxMs: 100 })).toThrow(RangeError);
    expect(() => backoffPolicy({ multiplier: 0.5 })).toThrow(RangeError);
    expect(backoffPolicy()).toEqual(DEFAULT_BACKOFF);
  });
});

import { describe, expect, it } from "vitest";

import { jsonEqual } from "./json";

describe("jsonEqual", () => {
  it("compares objects whatever the order of their keys", () => {
    const read = { a: 1, b: [1, { c: 2, d: 3 }] };
    const readBack = { b: [1, { d: 3, c: 2 }], a: 1 };
    expect(jsonEqual(read, readBack)).toBe(true);
  });

  it("tells apart extra keys, reordered arrays, and an array from an object", () => {
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: [] }, { a: {} })).toBe(false);
    expect(jsonEqual({ a: null }, { a: {} })).toBe(false);
    expect(jsonEqual(1, "1")).toBe(false);
  });

  it("takes a key holding undefined as absent, as it is once sent", () => {
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(jsonEqual({ a: undefined }, { b: undefined })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1, c: 2 })).toBe(false);
  });
});

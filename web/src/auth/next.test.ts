import { describe, expect, it } from "vitest";

import { safeNext } from "./next";

describe("safeNext", () => {
  it.each([
    ["/canvases/3f2a", "/canvases/3f2a"],
    ["/keys?tab=new", "/keys?tab=new"],
    ["/canvases/3f2a#node-7", "/canvases/3f2a#node-7"],
    ["/", "/"],
  ])("follows the path of this site %s", (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });

  it.each([
    [null],
    [""],
    ["https://evil.example/canvases"],
    ["//evil.example"],
    ["//evil.example/canvases/1"],
    ["/\\evil.example"],
    ["\\\\evil.example"],
    ["/\t/evil.example"],
    ["/\n/evil.example"],
    ["javascript:alert(1)"],
    ["canvases/1"],
    ["/signin?next=/keys"],
  ])("goes to the canvas list instead of %j", (next) => {
    expect(safeNext(next)).toBe("/");
  });

  it("keeps a path that looks like a host inside the site", () => {
    expect(safeNext("/evil.example")).toBe("/evil.example");
  });
});

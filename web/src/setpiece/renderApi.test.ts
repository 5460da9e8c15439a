import { describe, expect, it } from "vitest";

import { ApiError } from "../api/http";
import { canonicalJson, problemLine, specKey, type RenderSpec } from "./renderApi";

const SPEC: RenderSpec = {
  source: "cube(1);",
  parameters: { wall: "#ff0000", width: 40 },
  view: { width: 1280, height: 720 },
  formats: ["png", "glb", "3mf", "stl"],
};

function refused(problem: Record<string, unknown>): ApiError {
  return new ApiError({ type: "about:blank", title: "Unprocessable", status: 422, ...problem });
}

describe("canonicalJson", () => {
  it("writes every object's keys sorted, whatever order they came in", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: "x" } })).toBe('{"a":{"c":"x","d":[1,{"e":3,"f":2}]},"b":1}');
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
  });
});

describe("specKey", () => {
  it("is the same for the same spec, and another for other values", async () => {
    const key = await specKey(SPEC);
    expect(key).toMatch(/^setpiece-[0-9a-f]{64}$/);
    expect(await specKey({ ...SPEC, parameters: { width: 40, wall: "#ff0000" } })).toBe(key);
    expect(await specKey({ ...SPEC, parameters: { wall: "#ff0001", width: 40 } })).not.toBe(key);
    expect(await specKey({ ...SPEC, formats: ["png"] })).not.toBe(key);
  });
});

describe("problemLine", () => {
  it("reads the problem's line member", () => {
    expect(problemLine(refused({ detail: "Parser error in file model.scad, line 2", line: 2 }))).toBe(2);
  });

  it("else a line its detail names", () => {
    expect(problemLine(refused({ detail: "unterminated string starting on line 7" }))).toBe(7);
  });

  it("is undefined when none is named", () => {
    expect(problemLine(refused({ detail: "the model has no 3D geometry" }))).toBeUndefined();
    expect(problemLine(refused({ line: 0 }))).toBeUndefined();
    expect(problemLine(new Error("line 3"))).toBeUndefined();
  });
});

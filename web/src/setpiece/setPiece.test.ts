import { describe, expect, it } from "vitest";

import { MAX_SOURCE_BYTES, setPieceOf, sourceRefusal, withSetPiece } from "./setPiece";

describe("setPieceOf", () => {
  it("reads a scene's set piece", () => {
    expect(setPieceOf({ location: "Yard" })).toBeUndefined();
    expect(setPieceOf({ set_piece: { values: {} } })).toBeUndefined();
    expect(setPieceOf({ set_piece: { source: "cube(1);" } })).toEqual({ source: "cube(1);", values: {} });
    expect(setPieceOf({ set_piece: { source: "s", values: { a: 1 }, parameter_set: "big" } })).toEqual({
      source: "s",
      values: { a: 1 },
      parameterSet: "big",
    });
  });
});

describe("withSetPiece", () => {
  it("changes the set piece and keeps everything else", () => {
    const properties = { location: "Yard", set_piece: { source: "s", values: { a: 1 }, parameter_set: "big" } };
    expect(withSetPiece(properties, { values: { a: 2 } })).toEqual({
      location: "Yard",
      set_piece: { source: "s", values: { a: 2 }, parameter_set: "big" },
    });
    expect(withSetPiece({ location: "Yard" }, { source: "cube(1);", values: {} })).toEqual({
      location: "Yard",
      set_piece: { source: "cube(1);", values: {} },
    });
  });
});

describe("sourceRefusal", () => {
  it("refuses an empty model and one over the renderer's limit in bytes", () => {
    expect(sourceRefusal("cube(1);")).toBeUndefined();
    expect(sourceRefusal(" \n ")).toMatch(/empty/);
    expect(sourceRefusal("x".repeat(MAX_SOURCE_BYTES))).toBeUndefined();
    // Fewer characters than the limit, more bytes.
    expect(sourceRefusal("é".repeat(MAX_SOURCE_BYTES / 2 + 1))).toMatch(/262146 bytes; the limit is 262144/);
  });
});

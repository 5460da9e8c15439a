import { EditorState } from "@codemirror/state";
import { describe, expect, it } from "vitest";

import { lineErrors, markedError, setLineError } from "./errorLine";

const SOURCE = "a = 1;\nb = 2;\ncube(a;\n";

function editor(doc = SOURCE): EditorState {
  return EditorState.create({ doc, extensions: lineErrors() });
}

describe("the error's line", () => {
  it("is marked by the effect and cleared by null", () => {
    let state = editor();
    expect(markedError(state)).toBeUndefined();
    state = state.update({ effects: setLineError.of({ line: 3, message: "syntax error" }) }).state;
    expect(markedError(state)).toEqual({ line: 3, message: "syntax error" });
    state = state.update({ effects: setLineError.of(null) }).state;
    expect(markedError(state)).toBeUndefined();
  });

  it("moves with its line as lines are added above it", () => {
    let state = editor();
    state = state.update({ effects: setLineError.of({ line: 3, message: "syntax error" }) }).state;
    state = state.update({ changes: { from: 0, insert: "// a comment\n// and another\n" } }).state;
    expect(markedError(state)).toEqual({ line: 5, message: "syntax error" });
  });

  it("stays within the document", () => {
    let state = editor("cube(1);");
    state = state.update({ effects: setLineError.of({ line: 12, message: "far" }) }).state;
    expect(markedError(state)?.line).toBe(1);
    state = state.update({ effects: setLineError.of({ line: 0, message: "before" }) }).state;
    expect(markedError(state)?.line).toBe(1);
  });
});

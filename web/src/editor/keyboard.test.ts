// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";

import { commandOf, isFormControl, type KeyPress } from "./keyboard";

function press(key: string, modifiers: Partial<KeyPress> = {}): KeyPress {
  return { key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...modifiers };
}

describe("commandOf", () => {
  it("maps the editor's shortcuts, with Ctrl or Cmd", () => {
    expect(commandOf(press("Delete"))).toBe("delete");
    expect(commandOf(press("Backspace"))).toBe("delete");
    expect(commandOf(press("Escape"))).toBe("deselect");
    for (const mod of [{ ctrlKey: true }, { metaKey: true }]) {
      expect(commandOf(press("c", mod))).toBe("copy");
      expect(commandOf(press("x", mod))).toBe("cut");
      expect(commandOf(press("v", mod))).toBe("paste");
      expect(commandOf(press("a", mod))).toBe("selectAll");
      expect(commandOf(press("z", mod))).toBe("undo");
      expect(commandOf(press("Z", { ...mod, shiftKey: true }))).toBe("redo");
    }
    expect(commandOf(press("y", { ctrlKey: true }))).toBe("redo");
  });

  it("leaves other keys alone", () => {
    expect(commandOf(press("c"))).toBeNull();
    expect(commandOf(press("z", { ctrlKey: true, altKey: true }))).toBeNull();
    expect(commandOf(press("Delete", { shiftKey: true }))).toBeNull();
    expect(commandOf(press("ArrowLeft"))).toBeNull();
  });
});

describe("isFormControl", () => {
  it("tells fields from the canvas", () => {
    document.body.innerHTML = `
      <input id="text"><textarea id="area"></textarea><select id="pick"></select>
      <div contenteditable="true"><span id="inside"></span></div>
      <div id="pane"></div>`;
    for (const id of ["text", "area", "pick", "inside"]) {
      expect(isFormControl(document.getElementById(id))).toBe(true);
    }
    expect(isFormControl(document.getElementById("pane"))).toBe(false);
    expect(isFormControl(null)).toBe(false);
  });
});

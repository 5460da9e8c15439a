// The editor's keyboard map. Pure, so that which key does what is tested apart from the DOM.
//
//   Delete, Backspace        delete the selected nodes (with their edges) and edges
//   Ctrl/Cmd+C, X, V         copy, cut, paste (new ids, offset, the edges among them kept)
//   Ctrl/Cmd+A               select every node and edge
//   Escape                   select nothing
//   Ctrl/Cmd+Z               undo
//   Ctrl/Cmd+Shift+Z, Ctrl+Y redo
//
// React Flow adds its own: arrow keys move the selected nodes, Shift+drag selects a box,
// Ctrl/Cmd+click adds to the selection.

/** What a key press asks the editor to do. */
export type Command = "delete" | "copy" | "cut" | "paste" | "selectAll" | "undo" | "redo" | "deselect";

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

/** The command a key press means, or null. Ctrl and Cmd are one modifier, so the same keys
 * work on every platform. */
export function commandOf(press: KeyPress): Command | null {
  if (press.altKey) return null;
  const mod = press.ctrlKey || press.metaKey;
  const key = press.key.toLowerCase();
  if (!mod) {
    if (press.shiftKey) return null;
    if (key === "delete" || key === "backspace") return "delete";
    if (key === "escape") return "deselect";
    return null;
  }
  switch (key) {
    case "z":
      return press.shiftKey ? "redo" : "undo";
    case "y":
      return press.shiftKey ? null : "redo";
    case "c":
      return press.shiftKey ? null : "copy";
    case "x":
      return press.shiftKey ? null : "cut";
    case "v":
      return press.shiftKey ? null : "paste";
    case "a":
      return press.shiftKey ? null : "selectAll";
    default:
      return null;
  }
}

/** Whether a key press aimed at `target` belongs to a field being typed in (or any form
 * control), where the editor's shortcuts must not take it. */
export function isFormControl(target: EventTarget | null): boolean {
  if (typeof Element === "undefined" || !(target instanceof Element)) return false;
  if (target.closest("input, textarea, select, [contenteditable='true'], [contenteditable='']") !== null) return true;
  return target instanceof HTMLElement && target.isContentEditable;
}

/** What each shortcut does, for the editor's help text and aria-keyshortcuts. */
export const SHORTCUTS = {
  undo: "Control+Z Meta+Z",
  redo: "Control+Shift+Z Meta+Shift+Z Control+Y",
} as const;

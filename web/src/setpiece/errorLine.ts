// The model's error, marked on its line in the source editor: a line decoration and a gutter
// marker carrying the message. Set (or cleared, with null) by the `setLineError` effect; it
// moves with the line as the text around it is edited.

import { RangeSet, StateEffect, StateField, type EditorState, type Extension } from "@codemirror/state";
import { Decoration, EditorView, gutter, GutterMarker, type DecorationSet } from "@codemirror/view";

export interface LineError {
  /** 1-based, as OpenSCAD counts. */
  line: number;
  message: string;
}

export const setLineError = StateEffect.define<LineError | null>();

/** Keeps the gutter its width while no line is marked. */
class Spacer extends GutterMarker {
  override toDOM(): Node {
    const spacer = document.createElement("span");
    spacer.className = "sp-error-spacer";
    spacer.textContent = "✕";
    return spacer;
  }
}

class ErrorMarker extends GutterMarker {
  constructor(readonly message: string) {
    super();
  }

  override eq(other: GutterMarker): boolean {
    return other instanceof ErrorMarker && other.message === this.message;
  }

  override toDOM(): Node {
    const marker = document.createElement("span");
    marker.className = "sp-error-marker";
    marker.textContent = "✕";
    marker.title = this.message;
    return marker;
  }
}

interface Marked {
  error: LineError;
  /** Where its line starts in the document. */
  from: number;
  decorations: DecorationSet;
  markers: RangeSet<GutterMarker>;
}

const ERROR_LINE = Decoration.line({ class: "sp-error-line", attributes: { "data-error-line": "true" } });

function marked(state: EditorState, line: number, message: string): Marked {
  const number = Math.min(Math.max(1, line), state.doc.lines);
  const from = state.doc.line(number).from;
  return {
    error: { line: number, message },
    from,
    decorations: Decoration.set([ERROR_LINE.range(from)]),
    markers: RangeSet.of([new ErrorMarker(message).range(from)]),
  };
}

export const lineErrorField = StateField.define<Marked | null>({
  create: () => null,
  update(value, transaction) {
    let next = value;
    if (next !== null && transaction.docChanged) {
      const at = transaction.state.doc.lineAt(transaction.changes.mapPos(next.from));
      next = marked(transaction.state, at.number, next.error.message);
    }
    for (const effect of transaction.effects) {
      if (effect.is(setLineError)) {
        next = effect.value === null ? null : marked(transaction.state, effect.value.line, effect.value.message);
      }
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field, (value) => value?.decorations ?? Decoration.none),
});

/** The line the error is marked on now, if any. */
export function markedError(state: EditorState): LineError | undefined {
  return state.field(lineErrorField, false)?.error;
}

export function lineErrors(): Extension {
  return [
    lineErrorField,
    gutter({
      class: "sp-error-gutter",
      markers: (view) => view.state.field(lineErrorField)?.markers ?? RangeSet.empty,
      initialSpacer: () => new Spacer(),
    }),
    EditorView.baseTheme({
      ".sp-error-line": { backgroundColor: "#fdecea", boxShadow: "inset 3px 0 0 #b3261e" },
      ".sp-error-gutter .cm-gutterElement": { width: "1.2rem", textAlign: "center" },
      ".sp-error-marker": { color: "#b3261e", fontWeight: "700" },
      ".sp-error-spacer": { visibility: "hidden" },
    }),
  ];
}

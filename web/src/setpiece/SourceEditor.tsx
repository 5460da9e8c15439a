// The OpenSCAD source editor: CodeMirror 6, loaded on demand (this module is its own chunk,
// imported only when the person opens the editor). Controlled: `value` is the node's source;
// every edit goes out through `onChange`; the model's error is marked on its line.

import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { Annotation, Compartment, EditorState } from "@codemirror/state";
import { EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { useEffect, useEffectEvent, useRef, useState } from "react";

import { lineErrors, setLineError, type LineError } from "./errorLine";
import { openscad } from "./openscadLanguage";

export interface SourceEditorProps {
  value: string;
  onChange: (source: string) => void;
  error: LineError | undefined;
  readOnly: boolean;
  /** The editing area's accessible name. */
  label: string;
}

// The editor's own look. CodeMirror puts its styles in a constructed style sheet, which the
// studio's CSP allows, only inside a shadow root (on a document it adds a <style> element,
// which the CSP refuses): so the editor lives in one, and is styled from here.
const THEME = EditorView.theme({
  "&": { height: "100%", fontSize: "0.85rem", backgroundColor: "#fff", color: "#1d2129" },
  "&.cm-focused": { outline: "2px solid #3b5bdb", outlineOffset: "-2px" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
  ".cm-gutters": { backgroundColor: "#f4f5f7", color: "#5b616b", borderRight: "1px solid #dde0e5" },
});

// Typing over a selection: Chrome would delete it itself, and where it spans lines it merges
// them copying the highlighting's colours into style attributes, which the CSP refuses. The
// editor replaces the selection instead, as it does for a paste.
const TYPE_OVER_SELECTION = EditorView.domEventHandlers({
  beforeinput(event, view) {
    const { state } = view;
    if (event.inputType !== "insertText" || event.data === null || state.selection.ranges.every((r) => r.empty)) {
      return false;
    }
    event.preventDefault();
    view.dispatch({ ...state.replaceSelection(event.data), userEvent: "input.type", scrollIntoView: true });
    return true;
  },
});

/** Marks a change that came from the node (not typed here), so it is not sent back. */
const fromNode = Annotation.define<boolean>();
const RECENT_SENDS = 32;

export default function SourceEditor({ value, onChange, error, readOnly, label }: SourceEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const [view, setView] = useState<EditorView>();
  const [editable] = useState(() => new Compartment());
  const [first] = useState(() => ({ value, readOnly, label }));
  // What this editor sent lately: the node echoing one back (maybe behind newer typing) is
  // not a change from elsewhere.
  const sent = useRef<string[]>([]);
  const changed = useEffectEvent((source: string) => {
    sent.current = [...sent.current.slice(-(RECENT_SENDS - 1)), source];
    onChange(source);
  });

  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const shadow = element.shadowRoot ?? element.attachShadow({ mode: "open" });
    const attributes = { "aria-label": first.label, "aria-multiline": "true" };
    const created = new EditorView({
      parent: shadow,
      root: shadow,
      state: EditorState.create({
        doc: first.value,
        extensions: [
          lineNumbers(),
          lineErrors(),
          history(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          openscad,
          // Its colours are all at least 4.5:1 against the editor's white.
          syntaxHighlighting(defaultHighlightStyle),
          THEME,
          TYPE_OVER_SELECTION,
          editable.of([EditorState.readOnly.of(first.readOnly), EditorView.editable.of(!first.readOnly)]),
          EditorView.contentAttributes.of(attributes),
          EditorView.updateListener.of((update) => {
            // Only the person's edits: a value put in from the node is the node's already.
            if (update.docChanged && !update.transactions.some((t) => t.annotation(fromNode) === true)) {
              changed(update.state.doc.toString());
            }
          }),
        ],
      }),
    });
    setView(created);
    return () => {
      created.destroy();
      setView(undefined);
    };
  }, [editable, first]);

  // A change from elsewhere (undo on the canvas, a merge): the editor shows it.
  useEffect(() => {
    if (view === undefined) return;
    const shown = view.state.doc.toString();
    if (shown !== value && !sent.current.includes(value)) {
      sent.current = [];
      view.dispatch({ changes: { from: 0, to: shown.length, insert: value }, annotations: fromNode.of(true) });
    }
  }, [view, value]);

  useEffect(() => {
    view?.dispatch({
      effects: editable.reconfigure([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
    });
  }, [editable, readOnly, view]);

  const line = error?.line;
  const message = error?.message;
  useEffect(() => {
    if (view === undefined) return;
    const marked = line === undefined || message === undefined ? null : { line, message };
    view.dispatch({ effects: setLineError.of(marked) });
  }, [line, message, view]);

  return <div ref={host} className="sp-source__editor" />;
}

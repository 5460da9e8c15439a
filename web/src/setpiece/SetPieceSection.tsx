// The set-piece workbench of a Scene node, in the Properties panel: the coloured quick preview,
// the customizer form, the OpenSCAD source (in a wider sheet, on demand), and the 3D model with
// its downloads. Loaded on demand (see SetPieceSlot); changes go out through the editor's
// normal property path, so autosave keeps them.

import "./setpiece.css";

import { useId, useMemo, useRef, useState } from "react";

import { customizerForm, withValue } from "./customizer";
import { LazyPart, type Loader } from "./LazyPart";
import { CustomizerForm } from "./CustomizerForm";
import { ModelPanel } from "./ModelPanel";
import { DEFAULT_SOURCE, setPieceOf, sourceRefusal, withSetPiece, type SetPiece } from "./setPiece";
import type { SetPieceSlotProps } from "./SetPieceSlot";
import type { SourceEditorProps } from "./SourceEditor";
import { useSetPiece, type Refusal } from "./useSetPiece";

// CodeMirror is a chunk of its own, fetched when the editor is first opened.
const loadSourceEditor: Loader<SourceEditorProps> = () => import("./SourceEditor");

function refusalText(error: Refusal): string {
  return error.line === undefined ? error.message : `Line ${String(error.line)}: ${error.message}`;
}

interface WorkbenchProps extends SetPieceSlotProps {
  setPiece: SetPiece;
}

function SourceSheet({
  source,
  error,
  busy,
  readOnly,
  onSource,
  onClose,
}: {
  source: string;
  error: Refusal | undefined;
  busy: boolean;
  readOnly: boolean;
  onSource: (source: string) => void;
  onClose: () => void;
}) {
  const [refused, setRefused] = useState<string>();
  let status = "No errors.";
  if (refused !== undefined) status = refused;
  else if (error !== undefined) status = refusalText(error);
  else if (busy) status = "Checking the model…";
  return (
    <section
      className="sp-sheet"
      aria-label="OpenSCAD source"
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onClose();
        }
      }}
    >
      <header className="sp-sheet__header">
        <h4 className="sp-subtitle">OpenSCAD source</h4>
        <button type="button" onClick={onClose}>
          Close editor
        </button>
      </header>
      <LazyPart
        load={loadSourceEditor}
        what="source editor"
        fallback={<p className="sp-hint">Loading the editor…</p>}
        props={{
          value: source,
          readOnly,
          label: "OpenSCAD source",
          error: error?.line === undefined ? undefined : { line: error.line, message: error.message },
          onChange: (next: string) => {
            const why = sourceRefusal(next);
            setRefused(why);
            if (why === undefined) onSource(next);
          },
        }}
      />
      <p
        role="status"
        className={error !== undefined || refused !== undefined ? "sp-sheet__status sp-error" : "sp-sheet__status"}
      >
        {status}
      </p>
    </section>
  );
}

function Workbench({ nodeId, properties, readOnly, onChange, setPiece }: WorkbenchProps) {
  const { parameters, preview, model } = useSetPiece({
    source: setPiece.source,
    values: setPiece.values,
    parameterSet: setPiece.parameterSet,
  });
  const groups = useMemo(() => customizerForm(parameters ?? []), [parameters]);
  const [editing, setEditing] = useState(false);
  const sheetId = useId();
  const toggle = useRef<HTMLButtonElement>(null);

  const onValue = (name: string, value: unknown) => {
    const values = withValue(parameters ?? [], setPiece.values, name, value);
    onChange(nodeId, withSetPiece(properties, { values }), "set_piece.values");
  };
  const onSource = (source: string) => {
    onChange(nodeId, withSetPiece(properties, { source }), "set_piece.source");
  };

  return (
    <>
      <figure className="sp-preview" aria-busy={preview.busy}>
        {preview.url === undefined ? (
          <div className="sp-preview__empty">{preview.error === undefined ? "Drawing the preview…" : "No preview"}</div>
        ) : (
          <img src={preview.url} alt="Set piece preview" className={preview.busy ? "is-stale" : undefined} />
        )}
        <figcaption className="sp-preview__status" role="status">
          {preview.busy ? "Updating the preview…" : ""}
        </figcaption>
      </figure>
      {preview.error !== undefined && (
        <p className="sp-error" role="alert" data-error-line={preview.error.line}>
          {refusalText(preview.error)}
        </p>
      )}
      <div className="sp-actions">
        <button
          ref={toggle}
          type="button"
          aria-expanded={editing}
          aria-controls={editing ? sheetId : undefined}
          onClick={() => {
            setEditing((open) => !open);
          }}
        >
          {readOnly ? "View source" : "Edit source"}
        </button>
      </div>
      {editing && (
        <div id={sheetId}>
          <SourceSheet
            source={setPiece.source}
            error={preview.error}
            busy={preview.busy}
            readOnly={readOnly}
            onSource={onSource}
            onClose={() => {
              setEditing(false);
              toggle.current?.focus();
            }}
          />
        </div>
      )}
      {parameters === undefined ? (
        preview.error === undefined && <p className="sp-hint">Reading the model’s parameters…</p>
      ) : (
        <CustomizerForm groups={groups} values={setPiece.values} readOnly={readOnly} onValue={onValue} />
      )}
      <ModelPanel
        model={model}
        previewUrl={preview.url}
        pending={preview.busy}
        blocked={preview.error === undefined ? undefined : "fix the model’s error first."}
      />
    </>
  );
}

/** The "Set piece" region of a Scene node. */
export default function SetPieceSection(props: SetPieceSlotProps) {
  const { nodeId, properties, readOnly, onChange } = props;
  const setPiece = setPieceOf(properties);
  return (
    <section className="sp-region" role="region" aria-label="Set piece">
      <h3 className="sp-title">Set piece</h3>
      {setPiece === undefined ? (
        <>
          <p className="sp-hint">This scene has no set piece: a 3D set, as an OpenSCAD model, to stage its shots in.</p>
          {!readOnly && (
            <button
              type="button"
              onClick={() => {
                onChange(nodeId, withSetPiece(properties, { source: DEFAULT_SOURCE, values: {} }), "set_piece");
              }}
            >
              Add set piece
            </button>
          )}
        </>
      ) : (
        <Workbench {...props} setPiece={setPiece} />
      )}
    </section>
  );
}

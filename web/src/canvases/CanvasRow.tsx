import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";
import { Link } from "react-router";

import { deleteCanvas, renameCanvas, type CanvasSummary } from "../api/canvases";
import { ConfirmDialog } from "../app/ConfirmDialog";
import { ErrorAlert } from "../app/ErrorAlert";
import { formatWhen } from "../app/time";
import { canvasKey, removedFromList, renamedInList } from "./canvasQueries";
import { ShareDialog } from "./ShareDialog";

type Mode = "view" | "rename" | "delete" | "share";

const ACCESS_HINT = {
  owner: "You own this canvas",
  write: "Shared with you to edit",
  read: "Shared with you to view",
} as const;

/** One canvas of the list: its link, who may do what, and the owner's rename, share and
 * delete (a writer may rename too). */
export function CanvasRow({ canvas }: { canvas: CanvasSummary }) {
  const [mode, setMode] = useState<Mode>("view");
  const owner = canvas.access === "owner";
  const view = () => {
    setMode("view");
  };

  return (
    <li className="canvas-row">
      {mode === "rename" ? (
        <RenameForm canvas={canvas} onDone={view} />
      ) : (
        <div className="canvas-summary">
          <Link to={`/canvases/${encodeURIComponent(canvas.id)}`} className="canvas-name">
            {canvas.name}
          </Link>
          <span className={`access access-${canvas.access}`} title={ACCESS_HINT[canvas.access]}>
            {canvas.access}
          </span>
          <span className="meta">
            Updated {formatWhen(canvas.updated_at)} · version {canvas.version}
          </span>
        </div>
      )}
      {mode !== "rename" && (
        <div className="row-actions">
          {canvas.access !== "read" && (
            <button
              type="button"
              aria-label={`Rename ${canvas.name}`}
              onClick={() => {
                setMode("rename");
              }}
            >
              Rename
            </button>
          )}
          {owner && (
            <button
              type="button"
              aria-label={`Share ${canvas.name}`}
              onClick={() => {
                setMode("share");
              }}
            >
              Share
            </button>
          )}
          {owner && (
            <button
              type="button"
              className="danger-quiet"
              aria-label={`Delete ${canvas.name}`}
              onClick={() => {
                setMode("delete");
              }}
            >
              Delete
            </button>
          )}
        </div>
      )}
      {mode === "delete" && <DeleteDialog canvas={canvas} onDone={view} />}
      {mode === "share" && <ShareDialog canvas={canvas} onClose={view} />}
    </li>
  );
}

function RenameForm({ canvas, onDone }: { canvas: CanvasSummary; onDone: () => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState(canvas.name);
  const rename = useMutation({
    mutationFn: (newName: string) => renameCanvas(canvas.id, newName),
    onSuccess: (_answer, newName) => {
      renamedInList(queries, canvas.id, newName);
      void queries.invalidateQueries({ queryKey: canvasKey(canvas.id) });
      onDone();
    },
  });

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed === canvas.name) onDone();
    else if (trimmed !== "") rename.mutate(trimmed);
  };

  return (
    <form className="rename" onSubmit={submit}>
      <label>
        New name for {canvas.name}
        <input
          value={name}
          required
          maxLength={200}
          autoFocus
          onFocus={(event) => {
            event.currentTarget.select();
          }}
          onChange={(event) => {
            setName(event.target.value);
          }}
          onKeyDown={(event) => {
            if (event.key === "Escape") onDone();
          }}
        />
      </label>
      <button type="submit" className="primary" disabled={rename.isPending}>
        Save
      </button>
      <button type="button" onClick={onDone}>
        Cancel
      </button>
      <ErrorAlert error={rename.error} />
    </form>
  );
}

function DeleteDialog({ canvas, onDone }: { canvas: CanvasSummary; onDone: () => void }) {
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: () => deleteCanvas(canvas.id),
    onSuccess: () => {
      removedFromList(queries, canvas.id);
      queries.removeQueries({ queryKey: canvasKey(canvas.id) });
      onDone();
    },
  });
  return (
    <ConfirmDialog
      title={`Delete ${canvas.name}?`}
      confirmLabel="Delete"
      onConfirm={() => {
        remove.mutate();
      }}
      onCancel={onDone}
      pending={remove.isPending}
      error={remove.error}
    >
      <p>
        The canvas, every version of it and its results go for everyone it is shared with. This
        cannot be undone.
      </p>
    </ConfirmDialog>
  );
}

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";

import { deleteCanvas, renameCanvas, type CanvasSummary } from "../api/canvases";
import { ConfirmDialog } from "../app/ConfirmDialog";
import { formatWhen } from "../app/time";
import { canvasKey, removedFromList, renamedInList } from "./canvasQueries";
import { NameForm } from "./NameForm";
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
  const rename = useMutation({
    mutationFn: (newName: string) => renameCanvas(canvas.id, newName),
    onSuccess: (_answer, newName) => {
      renamedInList(queries, canvas.id, newName);
      void queries.invalidateQueries({ queryKey: canvasKey(canvas.id) });
      onDone();
    },
  });

  return (
    <NameForm
      label={`New name for ${canvas.name}`}
      initialName={canvas.name}
      submitLabel="Save"
      className="rename"
      pending={rename.isPending}
      error={rename.error}
      onSubmit={(newName) => {
        if (newName === canvas.name) onDone();
        else rename.mutate(newName);
      }}
      onCancel={onDone}
    />
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

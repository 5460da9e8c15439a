import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";
import { useNavigate } from "react-router";

import { createCanvas } from "../api/canvases";
import { ErrorAlert } from "../app/ErrorAlert";
import { CANVASES_KEY } from "./canvasQueries";

/** "New canvas": a name, then the new canvas opens. */
export function NewCanvasForm({ onCancel }: { onCancel: () => void }) {
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => createCanvas(name.trim()),
    onSuccess: (canvas) => {
      void queries.invalidateQueries({ queryKey: CANVASES_KEY });
      void navigate(`/canvases/${encodeURIComponent(canvas.id)}`);
    },
  });

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (name.trim() !== "") create.mutate();
  };

  return (
    <form className="new-canvas" onSubmit={submit}>
      <label>
        Name
        <input
          value={name}
          required
          maxLength={200}
          autoFocus
          onChange={(event) => {
            setName(event.target.value);
          }}
          onKeyDown={(event) => {
            if (event.key === "Escape") onCancel();
          }}
        />
      </label>
      <button type="submit" className="primary" disabled={create.isPending}>
        Create
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <ErrorAlert error={create.error} />
    </form>
  );
}

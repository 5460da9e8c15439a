import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";

import { createCanvas } from "../api/canvases";
import { CANVASES_KEY } from "./canvasQueries";
import { NameForm } from "./NameForm";

/** "New canvas": a name, then the new canvas opens. */
export function NewCanvasForm({ onCancel }: { onCancel: () => void }) {
  const queries = useQueryClient();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: (name: string) => createCanvas(name),
    onSuccess: (canvas) => {
      void queries.invalidateQueries({ queryKey: CANVASES_KEY });
      void navigate(`/canvases/${encodeURIComponent(canvas.id)}`);
    },
  });

  return (
    <NameForm
      label="Name"
      submitLabel="Create"
      className="new-canvas"
      pending={create.isPending}
      error={create.error}
      onSubmit={(name) => {
        create.mutate(name);
      }}
      onCancel={onCancel}
    />
  );
}

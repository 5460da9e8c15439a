import { useQuery } from "@tanstack/react-query";

import { listCanvases } from "../api/canvases";

/** The signed-in placeholder: the first page of the user's canvases. */
export function CanvasList() {
  const canvases = useQuery({ queryKey: ["canvases"], queryFn: () => listCanvases() });

  if (canvases.isPending) return <p className="status">Loading canvases…</p>;
  if (canvases.isError) return <p className="status error">{canvases.error.message}</p>;
  if (canvases.data.canvases.length === 0) return <p className="status">No canvases yet.</p>;
  return (
    <section>
      <h2>Canvases</h2>
      <ul className="canvases">
        {canvases.data.canvases.map((canvas) => (
          <li key={canvas.id}>
            <span className="name">{canvas.name}</span>
            <span className="meta">
              v{canvas.version} · {canvas.access}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

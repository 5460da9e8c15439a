import { useQuery } from "@tanstack/react-query";
import { useParams } from "react-router";

import { openCanvas } from "../api/canvases";
import { ApiError } from "../api/http";
import { describeError } from "../app/errors";
import { usePageTitle } from "../app/pageTitle";
import { canvasKey } from "../canvases/canvasQueries";
import { CanvasGone } from "./CanvasGone";
import { CanvasWorkspace } from "./CanvasWorkspace";
import "./canvas.css";

/** The canvas page at /canvases/:canvasId: opened in one round trip (the canvas, the node
 * types, what its nodes made), then edited until the route changes. */
export function CanvasRoute() {
  const { canvasId = "" } = useParams();
  const opened = useQuery({
    queryKey: canvasKey(canvasId),
    queryFn: ({ signal }) => openCanvas(canvasId, { signal }),
    // The page holds the graph from here on; a refetch (after a reset) only brings results.
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    retry: (failures, error) => !(error instanceof ApiError) && failures < 2,
  });
  usePageTitle(opened.data?.canvas.name ?? "Canvas");

  if (opened.isPending) return <p className="status">Opening the canvas…</p>;
  if (opened.isError) {
    if (opened.error instanceof ApiError && opened.error.status === 404) return <CanvasGone />;
    return (
      <section className="page-message" role="alert">
        <h1>The canvas did not open</h1>
        <p>{describeError(opened.error)}</p>
        <button type="button" onClick={() => void opened.refetch()}>
          Try again
        </button>
      </section>
    );
  }
  return <CanvasWorkspace key={canvasId} opened={opened.data} />;
}

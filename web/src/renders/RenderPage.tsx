import { useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { Link, useParams } from "react-router";

import { ApiError } from "../api/http";
import { ErrorAlert } from "../app/ErrorAlert";
import { sentence } from "../app/errors";
import { usePageTitle } from "../app/pageTitle";
import { useUserEvents } from "../live";
import { getRender, isFinal, outputsOf, type Render, type RenderFormat } from "./api";
import { pollDelay } from "./polling";
import "./renders.css";

// Three.js and the viewer load only when a render has a model to show.
const ModelViewer = lazy(() => import("../viewer/ModelViewer"));

const FORMAT_NAMES: Record<RenderFormat, string> = {
  png: "PNG picture",
  glb: "GLB model (3D viewers, the web)",
  "3mf": "3MF model (slicers, in colour)",
  stl: "STL mesh (one colour)",
};

const STATE_WORDS: Record<Render["state"], string> = {
  pending: "Waiting",
  queued: "Queued",
  running: "Rendering",
  succeeded: "Rendered",
  failed: "Failed",
  cancelled: "Cancelled",
  skipped: "Skipped",
};

function renderKey(renderId: string) {
  return ["render", renderId] as const;
}

/** The render page at /renders/:renderId: its state while it runs (asked again and again,
 * less often as time passes, and at once when the live connection says its batch moved), then
 * its picture, its model in the 3D viewer and a download of each file it made. */
export function RenderPage() {
  const { renderId = "" } = useParams();
  const queries = useQueryClient();
  const render = useQuery({
    queryKey: renderKey(renderId),
    queryFn: ({ signal }) => getRender(renderId, { signal }),
    refetchInterval: (query) => {
      const data = query.state.data;
      return data === undefined || isFinal(data) ? false : pollDelay(query.state.dataUpdateCount);
    },
    retry: (failures, error) => !(error instanceof ApiError) && failures < 2,
  });
  useUserEvents((event) => {
    const data = render.data;
    if (data === undefined || isFinal(data)) return;
    if ("batch_id" in event && event.batch_id === data.batch_id) {
      void queries.invalidateQueries({ queryKey: renderKey(renderId) });
    }
  });
  usePageTitle("Render");

  if (render.isPending) return <p className="status">Opening the render…</p>;
  if (render.isError) {
    const missing = render.error instanceof ApiError && render.error.status === 404;
    return (
      <section className="page-message" role="alert">
        <h1>{missing ? "No such render" : "The render did not open"}</h1>
        <ErrorAlert error={render.error} />
        <p>
          <Link to="/">Go to your canvases</Link>
        </p>
      </section>
    );
  }
  return <RenderView render={render.data} />;
}

function RenderView({ render }: { render: Render }) {
  const outputs = outputsOf(render);
  const png = render.outputs?.png;
  const glb = render.outputs?.glb;
  const running = !isFinal(render);
  return (
    <section className="render-page" aria-labelledby="render-title">
      <h1 id="render-title">Render</h1>
      <p className="render-page__id">
        <code>{render.id}</code>
      </p>
      <div className="render-page__state">
        <p role="status" aria-label="Render state" data-render-state={render.state}>
          {STATE_WORDS[render.state]}
          {running ? ` (${String(render.progress)}%)` : ""}
        </p>
        {running ? (
          <progress max={100} value={render.progress} aria-label="Render progress" />
        ) : null}
      </div>
      {render.error === undefined ? null : (
        <p role="alert" className="error">
          The render failed: {sentence(render.error)}
        </p>
      )}

      {png === undefined && glb === undefined ? null : (
        <div className="render-page__views">
          {png === undefined ? null : (
            <figure className="render-page__picture">
              <img src={png.url} alt="The render's picture" />
              <figcaption>The picture</figcaption>
            </figure>
          )}
          {glb === undefined ? null : (
            <section className="render-page__model" aria-label="3D model">
              <Suspense fallback={<p className="status">Loading the 3D viewer…</p>}>
                <ModelViewer
                  glbUrl={glb.url}
                  fallbackPngUrl={png?.url}
                  label="The render's model in 3D"
                />
              </Suspense>
            </section>
          )}
        </div>
      )}

      <h2>Downloads</h2>
      {outputs.length === 0 ? (
        <p className="status">
          {running ? "The files can be downloaded once the render is done." : "No files."}
        </p>
      ) : (
        <ul className="render-page__downloads">
          {outputs.map(([format, output]) => (
            <li key={format}>
              <a href={output.url} download={`render-${render.id}.${format}`}>
                Download {format.toUpperCase()}
              </a>{" "}
              <span className="render-page__format">{FORMAT_NAMES[format]}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

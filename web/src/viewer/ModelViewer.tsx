/** The 3D viewer of a coloured GLB: three.js with the model's own materials, orbit, zoom and
 * pan by mouse, touch or keyboard, drawn only when the view changes. Loaded on demand
 * (React.lazy) by its users; three.js itself loads later still, once WebGL is known to work.
 *
 * Its root element says where it stands in `data-viewer-state` (see `ViewerState`) and how
 * many frames it has drawn in `data-frames`; without WebGL, or when the GLB cannot be shown,
 * the PNG stands in (with an alert saying why, for a GLB that failed). */
import { useEffect, useId, useRef, useState } from "react";

import { KEY_HINT } from "./keys";
import { startViewer } from "./mount";
import {
  failureMessage,
  LOADING,
  nextStatus,
  showsFallback,
  type ViewerStatus,
} from "./viewerState";
import "./viewer.css";

export type { ViewerState } from "./viewerState";

export interface ModelViewerProps {
  /** The GLB to show (a same-origin URL, e.g. `/v1/renders/<id>/glb`). */
  glbUrl: string;
  /** The PNG shown instead when WebGL is missing or the GLB fails to load. */
  fallbackPngUrl?: string | undefined;
  /** What the model is, for the canvas's accessible name. */
  label: string;
}

export default function ModelViewer(props: ModelViewerProps) {
  // Another GLB is another viewer: a fresh state, canvas and context.
  return <Viewer key={props.glbUrl} {...props} />;
}

function Viewer({ glbUrl, fallbackPngUrl, label }: ModelViewerProps) {
  const root = useRef<HTMLElement>(null);
  const stage = useRef<HTMLDivElement>(null);
  const hintId = useId();
  const [status, setStatus] = useState<ViewerStatus>(LOADING);

  useEffect(() => {
    if (root.current === null || stage.current === null) return;
    return startViewer({
      root: root.current,
      stage: stage.current,
      glbUrl,
      hintId,
      onEvent: (event) => {
        setStatus((current) => nextStatus(current, event));
      },
    });
  }, [glbUrl, hintId]);

  // The canvas is the viewer's own (made outside React), so its name is set on it here.
  useEffect(() => {
    stage.current?.querySelector("canvas")?.setAttribute("aria-label", label);
  }, [label]);

  const fallback = showsFallback(status);
  return (
    <figure className="model-viewer" data-viewer-state={status.state} ref={root}>
      <div className="model-viewer__stage" ref={stage} hidden={fallback} />
      {status.state === "loading" ? (
        <p className="model-viewer__status" role="status">
          Loading the 3D model…
        </p>
      ) : null}
      {status.state === "failed" ? (
        <p className="model-viewer__alert" role="alert">
          {failureMessage(status)}
        </p>
      ) : null}
      {fallback && fallbackPngUrl !== undefined ? (
        <img className="model-viewer__picture" src={fallbackPngUrl} alt={label} />
      ) : null}
      {status.state === "no-webgl" ? (
        <p className="model-viewer__note">
          This browser cannot show 3D here (no WebGL 2), so the picture stands in.
        </p>
      ) : null}
      <p id={hintId} className="model-viewer__hint" hidden={fallback}>
        Drag to turn, scroll or pinch to zoom, right-drag or drag with two fingers to move.{" "}
        {KEY_HINT}
      </p>
    </figure>
  );
}

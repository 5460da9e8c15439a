import { useId, type ComponentProps } from "react";

import type ModelViewer from "../viewer/ModelViewer";
import { LazyPart, type Loader } from "./LazyPart";

import { FORMATS, outputUrl, type Format } from "./renderApi";
import type { ModelState } from "./useSetPiece";

// three.js comes with the viewer, in a chunk of its own, once there is a model to show.
const loadViewer: Loader<ComponentProps<typeof ModelViewer>> = () => import("../viewer/ModelViewer");

const FORMAT_NAMES: Readonly<Record<Format, string>> = { png: "PNG", glb: "GLB", "3mf": "3MF", stl: "STL" };

export interface ModelPanelProps {
  model: ModelState;
  /** The quick preview's object URL: what the viewer shows without WebGL. */
  previewUrl: string | undefined;
  /** Why there can be no render of the values shown (the model's error), if there is one. */
  blocked: string | undefined;
  /** Newer values than the last previewed are waiting for their preview. */
  pending: boolean;
}

const SETTLING = "Rendering the 3D model once the values settle…";

function statusOf({ model, blocked, pending }: ModelPanelProps): { text: string; ready: boolean; failed: boolean } {
  if (blocked !== undefined) return { text: `Not rendered: ${blocked}`, ready: false, failed: false };
  if (pending) return { text: SETTLING, ready: false, failed: false };
  if (model.current !== undefined) return { text: "The 3D model is ready.", ready: true, failed: false };
  if (model.error !== undefined) {
    return { text: `The 3D model could not be rendered: ${model.error}`, ready: false, failed: true };
  }
  if (model.running !== undefined) {
    return { text: `Rendering the 3D model… ${String(model.running.progress)}%`, ready: false, failed: false };
  }
  return { text: SETTLING, ready: false, failed: false };
}

/** The set piece in 3D (the newest finished render) and its files, offered once the render of
 * the values shown has finished. */
export function ModelPanel(props: ModelPanelProps) {
  const { model, previewUrl } = props;
  const reasonId = useId();
  const status = statusOf(props);
  const shown = model.shown;
  const glbUrl = shown === undefined ? undefined : outputUrl(shown.id, "glb");
  const current = status.ready ? model.current : undefined;
  return (
    <section className="sp-model" aria-label="3D model" data-glb-url={glbUrl} data-render-id={current?.id}>
      <h4 className="sp-subtitle">3D model</h4>
      <p
        className={status.failed ? "sp-model__status sp-error" : "sp-model__status"}
        role={status.failed ? "alert" : "status"}
        data-render-state={status.ready ? "ready" : status.failed ? "failed" : "busy"}
      >
        {status.text}
      </p>
      {glbUrl !== undefined && (
        <LazyPart
          key={glbUrl}
          load={loadViewer}
          what="3D viewer"
          fallback={<p className="sp-hint">Loading the 3D viewer…</p>}
          props={{ glbUrl, fallbackPngUrl: previewUrl, label: "The set piece in 3D" }}
        />
      )}
      <ul className="sp-downloads" aria-label="Downloads">
        {FORMATS.map((format) =>
          current === undefined ? (
            <li key={format}>
              <a className="sp-download" role="link" aria-disabled="true" aria-describedby={reasonId}>
                {FORMAT_NAMES[format]}
              </a>
            </li>
          ) : (
            <li key={format}>
              <a className="sp-download" href={outputUrl(current.id, format)} download={`set-piece.${format}`}>
                {FORMAT_NAMES[format]}
              </a>
            </li>
          ),
        )}
      </ul>
      {current === undefined && (
        <p className="sp-hint" id={reasonId}>
          Downloads wait for the render of these values to finish.
        </p>
      )}
    </section>
  );
}

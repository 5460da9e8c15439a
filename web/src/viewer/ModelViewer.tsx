/** The 3D viewer of a coloured GLB. Placeholder with the agreed interface: it shows the PNG
 * fallback until the three.js viewer lands. Loaded on demand (React.lazy) by its users. */
export interface ModelViewerProps {
  /** The GLB to show (a same-origin URL, e.g. `/v1/renders/<id>/glb`). */
  glbUrl: string;
  /** The PNG shown instead when WebGL is missing or the GLB fails to load. */
  fallbackPngUrl?: string | undefined;
  /** What the model is, for the canvas's accessible name. */
  label: string;
}

export type ViewerState = "loading" | "webgl" | "no-webgl" | "failed";

export default function ModelViewer({ fallbackPngUrl, label }: ModelViewerProps) {
  const state: ViewerState = "no-webgl";
  return (
    <figure className="model-viewer" data-viewer-state={state}>
      {fallbackPngUrl ? <img src={fallbackPngUrl} alt={label} /> : null}
    </figure>
  );
}

// A viewer's life outside React: its canvas, the WebGL check, the GLB's fetch, the three.js
// chunk loaded on demand, resizing, and everything freed at the end. Three.js itself is only
// in ./scene, imported here dynamically, so a page without a viewer (or a browser without
// WebGL) never loads it.

import { problemOf } from "../api/http";
import { viewerContext } from "./context";
import { reasonOf, ViewerFailure } from "./failure";
import type { ModelScene } from "./scene";
import type { ViewerEvent } from "./viewerState";

/** The `performance.mark` set when the first frame with the model has been drawn (its
 * `startTime` is milliseconds since the navigation began). */
export const FIRST_FRAME_MARK = "shotgraph:viewer-first-frame";

export interface ViewerMount {
  /** Where the canvas goes; its size is the canvas's. React renders nothing inside it. */
  readonly stage: HTMLElement;
  /** The viewer's root element: it carries `data-frames`. */
  readonly root: HTMLElement;
  readonly glbUrl: string;
  /** The id of the element describing how to move the view (the canvas's description). */
  readonly hintId: string;
  readonly onEvent: (event: ViewerEvent) => void;
}

/** Starts a viewer in `mount.stage`; the function it returns stops it and frees everything
 * (call it once, on unmount). Reports `no-webgl`, `drawn` or `failed` through `onEvent`. */
export function startViewer(mount: ViewerMount): () => void {
  const { stage, root, glbUrl, hintId, onEvent } = mount;
  root.dataset.frames = "0";
  // A canvas of its own each time: a canvas whose context was lost cannot have another.
  const made = viewerContext(() => {
    const canvas = document.createElement("canvas");
    canvas.className = "model-viewer__canvas";
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-describedby", hintId);
    return canvas;
  });
  if (made === null) {
    onEvent({ kind: "no-webgl" });
    return () => undefined;
  }
  const { canvas, context } = made;
  stage.append(canvas);

  const aborted = new AbortController();
  let scene: ModelScene | null = null;
  let resizes: ResizeObserver | null = null;
  let stopped = false;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    aborted.abort();
    resizes?.disconnect();
    canvas.removeEventListener("webglcontextlost", onContextLost);
    if (scene === null) context.getExtension("WEBGL_lose_context")?.loseContext();
    else scene.dispose();
    scene = null;
    canvas.remove();
  };

  const fail = (error: unknown): void => {
    if (stopped) return;
    stop();
    onEvent({ kind: "failed", reason: reasonOf(error) });
  };

  function onContextLost(): void {
    fail(new ViewerFailure("the browser took the graphics context back"));
  }
  canvas.addEventListener("webglcontextlost", onContextLost);

  const load = async (): Promise<void> => {
    const [three, bytes] = await Promise.all([loadScene(), fetchGlb(glbUrl, aborted.signal)]);
    const model = await three.parseGlb(bytes);
    if (stopped) {
      three.disposeObject(model);
      return;
    }
    const shown = new three.ModelScene(canvas, three.createRenderer(canvas, context), {
      onFrame: (frames) => {
        root.dataset.frames = String(frames);
        if (frames === 1) {
          performance.mark(FIRST_FRAME_MARK, { detail: { glbUrl, bytes: bytes.byteLength } });
          onEvent({ kind: "drawn" });
        }
      },
    });
    scene = shown;
    shown.resize(stage.clientWidth, stage.clientHeight);
    try {
      shown.show(model);
    } catch (error) {
      three.disposeObject(model);
      throw error;
    }
    resizes = new ResizeObserver(([entry]) => {
      if (entry !== undefined) shown.resize(entry.contentRect.width, entry.contentRect.height);
    });
    resizes.observe(stage);
  };
  load().catch(fail);
  return stop;
}

async function loadScene(): Promise<typeof import("./scene")> {
  try {
    return await import("./scene");
  } catch (error) {
    throw new ViewerFailure("the 3D viewer's code did not load", { cause: error });
  }
}

/** The GLB's bytes; a ViewerFailure saying what the server answered otherwise. */
async function fetchGlb(url: string, signal: AbortSignal): Promise<ArrayBuffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal, credentials: "same-origin" });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ViewerFailure("the server could not be reached", { cause: error });
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    const detail = problem.detail === undefined ? "" : ` (${problem.detail})`;
    throw new ViewerFailure(`the server answered ${String(response.status)}${detail}`);
  }
  try {
    return await response.arrayBuffer();
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ViewerFailure("the download broke off", { cause: error });
  }
}

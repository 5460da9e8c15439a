// What a node shows of its Execute state and result. A node's result declares the image it
// made in one member, `image`, a blob id (libs/jobs.py IMAGE_FIELD; each kind's `_result` in
// services/canvas/kinds/): a character's first reference thumbnail, a scene's set-piece render,
// a shot's storyboard frame. The browser fetches it from GET /v1/blobs/<sha256>, same origin,
// with the session cookie; the gateway lets whoever can read the canvas read its results' blobs.

import type { NodeResult } from "../api/events";

/** The member of a node's result that names its image (libs.jobs.IMAGE_FIELD). */
export const IMAGE_FIELD = "image";

const BLOB_ID = /^[0-9a-f]{64}$/;

const STATE_LABELS: Readonly<Record<string, string>> = {
  not_run: "Not run",
  idle: "Makes nothing",
  cached: "Cached",
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  skipped: "Skipped",
};

// What each kind's image is, for its alternative text.
const IMAGE_NAMES: Readonly<Record<string, string>> = {
  character: "Reference thumbnail",
  scene: "Set-piece preview",
  shot: "Storyboard frame",
};

export interface ResultImage {
  src: string;
  alt: string;
}

export interface ResultView {
  /** The state as the server names it: the node's `data-node-state`. */
  state: string;
  label: string;
  /** 0 to 100 while running. */
  progress?: number;
  error?: string;
  image?: ResultImage;
}

/** Where the browser reads a blob, or null for anything that is not a blob id (never a URL
 * taken from an event). */
export function blobUrl(id: unknown): string | null {
  return typeof id === "string" && BLOB_ID.test(id) ? `/v1/blobs/${id}` : null;
}

export function stateLabel(state: string): string {
  const known = STATE_LABELS[state];
  if (known !== undefined) return known;
  const words = state.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** How a node of type `typeName` shows `result`; null when no state is known. */
export function resultView(result: NodeResult | undefined, typeName: string): ResultView | null {
  if (result === undefined) return null;
  const view: ResultView = { state: result.state, label: stateLabel(result.state) };
  if (result.state === "running") {
    view.progress = Math.min(100, Math.max(0, Math.round(result.progress ?? 0)));
  }
  if (result.error !== undefined && result.error !== "") view.error = result.error;
  const src = blobUrl(result.output?.[IMAGE_FIELD]);
  if (src !== null) view.image = { src, alt: IMAGE_NAMES[typeName] ?? "Result image" };
  return view;
}

/** Whether two results look the same on a node (events repeat unchanged nodes). */
export function sameResult(a: NodeResult | undefined, b: NodeResult | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return (
    a.state === b.state &&
    a.progress === b.progress &&
    a.error === b.error &&
    a.output?.[IMAGE_FIELD] === b.output?.[IMAGE_FIELD]
  );
}

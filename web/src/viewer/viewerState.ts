// Where a viewer stands, and how it moves on: the one place that decides which of the
// contract's states (`data-viewer-state`) an event leads to. No three.js here.

/** The contract's states: loading the model; drawing it with WebGL; no WebGL here (the PNG
 * instead); the model could not be shown (the PNG and why). */
export type ViewerState = "loading" | "webgl" | "no-webgl" | "failed";

export interface ViewerStatus {
  readonly state: ViewerState;
  /** Why the model is not shown, for `failed`: a clause such as "the server answered 404". */
  readonly reason?: string;
}

/** What happens to a viewer: the browser has no WebGL; the model was drawn for the first time;
 * loading or drawing failed (the GLB's fetch or parse, the three.js chunk, the GPU context). */
export type ViewerEvent =
  | { readonly kind: "no-webgl" }
  | { readonly kind: "drawn" }
  | { readonly kind: "failed"; readonly reason: string };

export const LOADING: ViewerStatus = { state: "loading" };

/** The status after `event`. `no-webgl` and `failed` are final (the PNG shows from then on);
 * a model already drawn can still fail (its GPU context lost), but not lose WebGL. */
export function nextStatus(status: ViewerStatus, event: ViewerEvent): ViewerStatus {
  if (status.state === "no-webgl" || status.state === "failed") return status;
  switch (event.kind) {
    case "no-webgl":
      return status.state === "loading" ? { state: "no-webgl" } : status;
    case "drawn":
      return status.state === "loading" ? { state: "webgl" } : status;
    case "failed":
      return { state: "failed", reason: event.reason };
  }
}

/** Whether the PNG stands in for the model. */
export function showsFallback(status: ViewerStatus): boolean {
  return status.state === "no-webgl" || status.state === "failed";
}

/** The message of a failed viewer, as its alert says it. */
export function failureMessage(status: ViewerStatus): string {
  const why = status.reason === undefined || status.reason === "" ? "" : `: ${status.reason}`;
  return `The 3D model could not be loaded${why}.`;
}

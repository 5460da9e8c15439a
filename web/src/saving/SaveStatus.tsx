import type { SaveState } from "./autosave";
import "./saving.css";

const TEXT: Record<Exclude<SaveState, "error">, string> = {
  saved: "Saved",
  dirty: "Unsaved changes",
  saving: "Saving…",
  offline: "Offline — changes kept",
  conflict: "Conflict",
};

export interface SaveStatusProps {
  state: SaveState;
  /** Why it is not saved, shown in the "error" state. */
  reason?: string | null;
}

/** Where the canvas's saving stands, announced politely as it changes. */
export function SaveStatus({ state, reason }: SaveStatusProps) {
  const text = state === "error" ? `Not saved: ${reason ?? "the server refused it"}` : TEXT[state];
  return (
    <p
      className={`save-status save-status-${state}`}
      role="status"
      aria-label="Save state"
      data-save-state={state}
    >
      {text}
    </p>
  );
}

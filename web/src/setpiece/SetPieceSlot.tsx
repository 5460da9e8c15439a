// Where the Properties panel mounts a Scene node's set piece. Only this stays in the canvas's
// chunk: the workbench (its form, preview and render) is a chunk of its own, and CodeMirror and
// three.js are fetched later still, when they are shown.

import { LazyPart, type Loader } from "./LazyPart";

export interface SetPieceSlotProps {
  nodeId: string;
  properties: Readonly<Record<string, unknown>>;
  readOnly: boolean;
  /** The editor's property path (PropertiesPanel's `onChange`): the node's new properties. */
  onChange: (nodeId: string, properties: Record<string, unknown>, field: string) => void;
}

const loadSection: Loader<SetPieceSlotProps> = () => import("./SetPieceSection");

// Fetched soon after the canvas page opens rather than when a scene is first selected, so a
// scene selected later (offline, even) opens at once. A failure here is only a missed head
// start: selecting a scene fetches it again, and says so if it cannot.
const PRELOAD_AFTER_MS = 1500;
if (typeof window !== "undefined") {
  window.setTimeout(() => {
    loadSection().catch(() => undefined);
  }, PRELOAD_AFTER_MS);
}

export function SetPieceSlot(props: SetPieceSlotProps) {
  return (
    <LazyPart
      load={loadSection}
      props={props}
      what="set piece"
      fallback={<p className="sg-hint">Loading the set piece…</p>}
    />
  );
}

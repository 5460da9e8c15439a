// Where the Properties panel mounts a Scene node's set piece. Only this stays in the canvas's
// chunk: the workbench (its form, preview and render) is fetched when a scene is selected, and
// CodeMirror and three.js later still, when they are shown.

import { lazy, Suspense } from "react";

export interface SetPieceSlotProps {
  nodeId: string;
  properties: Readonly<Record<string, unknown>>;
  readOnly: boolean;
  /** The editor's property path (PropertiesPanel's `onChange`): the node's new properties. */
  onChange: (nodeId: string, properties: Record<string, unknown>, field: string) => void;
}

const SetPieceSection = lazy(() => import("./SetPieceSection"));

export function SetPieceSlot(props: SetPieceSlotProps) {
  return (
    <Suspense fallback={<p className="sg-hint">Loading the set piece…</p>}>
      <SetPieceSection {...props} />
    </Suspense>
  );
}

import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import type { OpenedCanvas } from "../api/canvases";
import { EMPTY_GRAPH, type Graph } from "../api/graph";
import { useIdentity } from "../app/session";
import { GraphEditor } from "../editor/GraphEditor";
import { canvasTopic, useLiveTopic, useUserEvents } from "../live";
import { MergeView } from "../saving/MergeView";
import { SaveStatus } from "../saving/SaveStatus";
import { useAutosave } from "../saving/useAutosave";
import { canvasKey } from "../canvases/canvasQueries";
import { CanvasGone } from "./CanvasGone";
import { ExecuteButton } from "./ExecuteButton";
import { applyNodeStates, NO_STATES, stateCounts, type NodeStates } from "./nodeStates";
import { useValidation } from "./useValidation";

export interface CanvasWorkspaceProps {
  opened: OpenedCanvas;
}

/** One open canvas: the editor, its saving, Execute and the nodes' live states. */
export function CanvasWorkspace({ opened }: CanvasWorkspaceProps) {
  const { canvas, nodeTypes, results } = opened;
  const identity = useIdentity();
  const queries = useQueryClient();
  const loadedGraph = canvas.graph ?? EMPTY_GRAPH;
  const [graph, setGraph] = useState<Graph>(loadedGraph);
  const [states, setStates] = useState<NodeStates>(() =>
    results === null ? NO_STATES : applyNodeStates(NO_STATES, { ...results, batch_id: "" }),
  );
  const [gone, setGone] = useState(false);
  const readOnly = canvas.access === "read";
  const saving = useAutosave({
    canvasId: canvas.id,
    userId: identity.user_id,
    loaded: { version: canvas.version, graph: loadedGraph },
    graph,
    readOnly,
    onReplace: setGraph,
  });
  const [opening] = useState(() => ({ graph: loadedGraph, problems: canvas.problems ?? [] }));
  const problems = useValidation(graph, opening);

  const refetch = () => {
    void queries.invalidateQueries({ queryKey: canvasKey(canvas.id) });
  };
  useLiveTopic(
    canvasTopic(canvas.id),
    (event) => {
      if (event.type === "canvas.nodes") setStates((now) => applyNodeStates(now, event));
    },
    {
      // Events were missed: what the nodes made is read again rather than guessed.
      onReset: refetch,
      onRefused: () => {
        setGone(true);
      },
      onLost: () => {
        setGone(true);
      },
    },
  );
  useUserEvents((event) => {
    if (event.type === "canvas.execution" && event.canvas_id === canvas.id) {
      setStates((now) => applyNodeStates(now, event));
    }
  });

  if (gone || saving.gone) return <CanvasGone name={canvas.name} />;
  const counts = [...stateCounts(states)].map(([state, count]) => `${String(count)} ${state}`);
  return (
    <div className="canvas-page">
      <div className="canvas-toolbar">
        <h1 className="canvas-name">{canvas.name}</h1>
        {readOnly && <span className="access-note">Read only</span>}
        <SaveStatus state={saving.state} reason={saving.reason} />
        {saving.draft !== null && (
          <p className="draft-note" role="note">
            Unsaved work from your last visit was restored.{" "}
            <button type="button" className="link" onClick={saving.discardDraft}>
              Discard it
            </button>
          </p>
        )}
        <span className="execution-summary" aria-live="polite">
          {counts.join(", ")}
        </span>
        {!readOnly && (
          <ExecuteButton
            canvasId={canvas.id}
            flush={saving.flush}
            disabled={saving.state === "conflict"}
            onExecuted={(execution) => {
              setStates((now) => applyNodeStates(now, execution));
            }}
          />
        )}
      </div>
      <GraphEditor
        graph={graph}
        nodeTypes={nodeTypes}
        problems={problems}
        nodeStates={states.nodes}
        readOnly={readOnly}
        onChange={setGraph}
      />
      {saving.conflict !== null && (
        <MergeView
          conflict={saving.conflict}
          nodeTypes={nodeTypes}
          onSaveMerged={saving.resolve}
          onDiscardMine={saving.discardMine}
        />
      )}
    </div>
  );
}

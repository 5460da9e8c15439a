import { useQueryClient } from "@tanstack/react-query";
import { Activity, useState } from "react";

import type { OpenedCanvas } from "../api/canvases";
import { EMPTY_GRAPH, type Graph } from "../api/graph";
import { useIdentity } from "../app/session";
import { GraphEditor } from "../editor/GraphEditor";
import { stateLabel } from "../editor/results";
import { HISTORY_PANEL_ID, HistoryPanel } from "../history/HistoryPanel";
import type { VersionPair } from "../history/historyQueries";
import { useRestore } from "../history/useRestore";
import { VersionDiff } from "../history/VersionDiff";
import { canvasTopic, useLiveStatus, useLiveTopic, useUserEvents } from "../live";
import { othersThan } from "../presence/presence";
import { PresenceList } from "../presence/PresenceList";
import { usePresence } from "../presence/usePresence";
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
  const { presence, onSubscribed, onPresence } = usePresence();
  const live = useLiveStatus() === "live";
  const [historyOpen, setHistoryOpen] = useState(false);
  // Two versions whose diff the page shows instead of the live editor (kept, hidden, meanwhile).
  const [comparing, setComparing] = useState<VersionPair | null>(null);
  const restore = useRestore({
    canvasId: canvas.id,
    flush: saving.flush,
    restored: (version, restoredGraph) => {
      saving.restored(version, restoredGraph);
      setComparing(null);
    },
  });

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
      onSubscribed,
      onPresence,
    },
  );
  useUserEvents((event) => {
    if (event.type === "canvas.execution" && event.canvas_id === canvas.id) {
      setStates((now) => applyNodeStates(now, event));
    }
  });

  if (gone || saving.gone) return <CanvasGone name={canvas.name} />;
  const counts = [...stateCounts(states)].map(
    ([state, count]) => `${String(count)} ${stateLabel(state).toLowerCase()}`,
  );
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
        <PresenceList others={othersThan(presence, identity.user_id)} live={live} />
        <span className="execution-summary" aria-live="polite">
          {counts.join(", ")}
        </span>
        <button
          type="button"
          className="history-toggle"
          aria-expanded={historyOpen}
          aria-controls={HISTORY_PANEL_ID}
          onClick={() => {
            setHistoryOpen((open) => !open);
          }}
        >
          History
        </button>
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
      <div className="canvas-body">
        <Activity mode={comparing === null ? "visible" : "hidden"}>
          <GraphEditor
            graph={graph}
            nodeTypes={nodeTypes}
            problems={problems}
            nodeStates={states.nodes}
            readOnly={readOnly}
            onChange={setGraph}
          />
        </Activity>
        {comparing !== null && (
          <VersionDiff
            canvasId={canvas.id}
            pair={comparing}
            nodeTypes={nodeTypes}
            onLeave={() => {
              setComparing(null);
            }}
          />
        )}
        {historyOpen && (
          <HistoryPanel
            canvasId={canvas.id}
            access={canvas.access}
            currentVersion={saving.version}
            self={identity.user_id}
            seen={presence.known}
            comparing={comparing}
            onCompare={setComparing}
            restore={restore}
            onClose={() => {
              setHistoryOpen(false);
            }}
          />
        )}
      </div>
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

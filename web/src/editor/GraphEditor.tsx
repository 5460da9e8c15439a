// The Production Canvas editor: a controlled React Flow canvas over a Graph. Every edit is
// applied to a new graph and emitted through onChange; a drag moves React Flow's own node
// state on every pointer move and emits once, when it ends.

import "@xyflow/react/dist/style.css";
import "./editor.css";
import "./layout.css";

import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  Panel,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  useStore,
  type Connection,
  type FinalConnectionState,
  type NodeChange,
  type NodeTypes,
  type ReactFlowState,
  type XYPosition,
} from "@xyflow/react";
import { useCallback, useEffect, useId, useMemo, useRef, useState, type DragEvent } from "react";

import type { NodeResult } from "../api/events";
import type { Graph, GraphProblem, NodeType, Position } from "../api/graph";
import { DiffMarksContext } from "../history/diffContext";
import { markEdges, type DiffMarks } from "../history/diffView";
import { hold, copyOf, nextPaste, pasteOf } from "./clipboard";
import { ConnectionHint } from "./ConnectionHint";
import { connectionRefusal, endpointOf, registryOf, type Endpoint } from "./connections";
import { NODE_KIND, finishedMoves, groupProblems, type Decorations, type FlowEdge, type FlowNode } from "./flowNodes";
import { addEdge, addNodes, moveNodes, removeElements, setProperties } from "./graphEdits";
import { SHORTCUTS, type Command } from "./keyboard";
import { NODE_TYPE_MIME, Palette } from "./Palette";
import { PanelToggles } from "./PanelToggles";
import { usePanels } from "./panels";
import { PropertiesPanel } from "./PropertiesPanel";
import { freeSpot } from "./placement";
import { defaultsOf } from "./schemaForm";
import { ShotgraphNode } from "./ShotgraphNode";
import { useEditorKeys } from "./useEditorKeys";
import { useFlowView } from "./useFlowView";
import { useGraphHistory } from "./useGraphHistory";

export interface GraphEditorProps {
  /** What to show (controlled). */
  graph: Graph;
  /** The registry: GET /v1/canvas-node-types. */
  nodeTypes: NodeType[];
  /** Validation problems to mark on nodes, ports, fields and edges. */
  problems: GraphProblem[];
  /** The live Execute state per node id. */
  nodeStates?: ReadonlyMap<string, NodeResult>;
  /** "read" access: view and select, no edits. */
  readOnly?: boolean;
  /** A diff between two versions to mark on the graph (shown read-only). */
  marks?: DiffMarks;
  /** Every user edit, already applied. */
  onChange: (next: Graph) => void;
}

const NODE_TYPES: NodeTypes = { [NODE_KIND]: ShotgraphNode };
const GRID = 16;
const SNAP_GRID: [number, number] = [GRID, GRID];
// About a node's size before it is measured: a new node is centred where it is added.
const NODE_SIZE = { width: 192, height: 112 };
// A canvas opened with nodes is fitted into view, never zoomed in beyond life size.
// A large canvas opens at a readable zoom around its middle rather than shrunk to fit whole:
// fewer nodes to draw (only those in view are rendered), and names that can be read.
const FIT_VIEW = { maxZoom: 1, minZoom: 0.35, padding: 0.15 };
// Below this zoom nodes are drawn plain (no shadows, no port types or problem lists): text too
// small to read still costs the browser a paint on every frame of a drag.
const FAR_ZOOM = 0.55;
const isFar = (state: ReactFlowState) => state.transform[2] < FAR_ZOOM;
// Above this many nodes React Flow renders only those in view.
const LARGE_GRAPH = 200;
const NO_PROBLEMS: readonly GraphProblem[] = [];
const NO_EDGES: ReadonlySet<string> = new Set();
// The minimap's colour of each kind of node; editor.css colours the nodes themselves alike.
const MINIMAP_COLOURS: Readonly<Record<string, string>> = {
  character: "#d9a23b",
  scene: "#3b8ed9",
  shot: "#8b5cd6",
};

function snap(position: XYPosition): Position {
  return { x: Math.round(position.x / GRID) * GRID, y: Math.round(position.y / GRID) * GRID };
}

function minimapColour(node: FlowNode): string {
  return MINIMAP_COLOURS[node.data.typeName] ?? "#9aa1ab";
}

/** The canvas editor, with its own React Flow provider (and a diff's marks for its nodes). */
export function GraphEditor(props: GraphEditorProps): React.JSX.Element {
  return (
    <ReactFlowProvider>
      <DiffMarksContext value={props.marks?.nodes ?? null}>
        <Editor {...props} />
      </DiffMarksContext>
    </ReactFlowProvider>
  );
}

function Editor({ graph, nodeTypes, problems, nodeStates, readOnly = false, marks, onChange }: GraphEditorProps) {
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const far = useStore(isFar);
  const rootRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLDivElement>(null);
  const [fitOnOpen] = useState(() => graph.nodes.length > 0);
  const shownNodes = useRef(fitOnOpen);
  const types = useMemo(() => registryOf(nodeTypes), [nodeTypes]);
  const grouped = useMemo(() => groupProblems(problems), [problems]);
  const decorations = useMemo<Decorations>(
    () => ({ types, problemsByNode: grouped.byNode, nodeStates }),
    [types, grouped, nodeStates],
  );
  const history = useGraphHistory(graph, onChange);
  const { present, commit, latest } = history;
  const panels = usePanels();
  const paletteId = useId();
  const propertiesId = useId();

  const view = useFlowView(present, decorations, grouped.byEdge);
  const { nodes, selectedNodeIds, selectNext } = view;
  const edges = useMemo(
    () => (marks === undefined ? view.edges : markEdges(view.edges, marks.edges)),
    [marks, view.edges],
  );
  // A canvas whose nodes arrive after the editor opened (it was loading) is fitted into view
  // then, once; not one the user started empty and is adding to.
  const loaded = present.nodes.length > 0 && !history.canUndo && !history.canRedo;
  const hasNodes = present.nodes.length > 0;
  useEffect(() => {
    if (shownNodes.current || !hasNodes) return;
    shownNodes.current = true;
    if (loaded) void flow.fitView(FIT_VIEW);
  }, [flow, hasNodes, loaded]);
  const [refused, setRefused] = useState<string | null>(null);
  const clearRefusal = useCallback(() => {
    setRefused(null);
  }, []);

  /** Emit `next`, selecting `select` once it shows. */
  const apply = useCallback(
    (next: Graph, key?: string, select?: ReadonlySet<string>) => {
      if (select !== undefined) selectNext(select);
      setRefused(null);
      commit(next, key);
    },
    [commit, selectNext],
  );

  const { applyNodeChanges } = view;
  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      applyNodeChanges(changes);
      // Each pointer move of a drag stays in React Flow's nodes; the graph changes once, at its end.
      const moved = finishedMoves(changes);
      if (moved.size === 0) return;
      const current = latest();
      const next = moveNodes(current, new Map([...moved].map(([id, position]) => [id, snap(position)])));
      if (next !== current) apply(next, `move:${[...moved.keys()].sort().join(",")}`);
    },
    [apply, applyNodeChanges, latest],
  );

  const refusalOf = useCallback(
    (connection: Connection | FlowEdge) => {
      const from: Endpoint = { node: connection.source, port: connection.sourceHandle ?? "", side: "output" };
      const to: Endpoint = { node: connection.target, port: connection.targetHandle ?? "", side: "input" };
      return connectionRefusal(latest(), types, from, to);
    },
    [latest, types],
  );

  const isValidConnection = useCallback(
    (connection: Connection | FlowEdge) => refusalOf(connection) === null,
    [refusalOf],
  );

  const onConnect = useCallback(
    (connection: Connection) => {
      if (refusalOf(connection) !== null) return;
      const edge = {
        source: connection.source,
        source_port: connection.sourceHandle ?? "",
        target: connection.target,
        target_port: connection.targetHandle ?? "",
      };
      apply(addEdge(latest(), edge));
    },
    [apply, latest, refusalOf],
  );

  const onConnectEnd = useCallback(
    (_event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      // Dropped on a port that refuses it: keep saying why until the next action.
      if (state.fromHandle === null || state.toHandle === null || state.isValid !== false) return;
      const from = endpointOf(state.fromHandle);
      const to = endpointOf(state.toHandle);
      setRefused(connectionRefusal(latest(), types, from, to));
    },
    [latest, types],
  );

  /** Add a node of `typeName` centred on `at` (flow coordinates), with its schema's defaults:
   * there `exact`ly (a drop), else at the nearest spot that hides no other node (a click). */
  const addNodeAt = useCallback(
    (typeName: string, at: XYPosition, exact: boolean) => {
      const type = types.get(typeName);
      if (type === undefined || readOnly) return;
      const current = latest();
      let position = snap({ x: at.x - NODE_SIZE.width / 2, y: at.y - NODE_SIZE.height / 2 });
      if (!exact) {
        const taken = flow.getNodes().map((node) => ({
          ...node.position,
          width: node.measured?.width ?? NODE_SIZE.width,
          height: node.measured?.height ?? NODE_SIZE.height,
        }));
        position = snap(freeSpot(position, NODE_SIZE, taken));
      }
      const node = { id: crypto.randomUUID(), type: typeName, position, properties: defaultsOf(type.properties) };
      apply(addNodes(current, [node]), undefined, new Set([node.id]));
    },
    [apply, flow, latest, readOnly, types],
  );

  const addAtCentre = useCallback(
    (typeName: string) => {
      const bounds = canvasRef.current?.getBoundingClientRect();
      if (bounds === undefined) return;
      const centre = { x: bounds.left + bounds.width / 2, y: bounds.top + bounds.height / 2 };
      addNodeAt(typeName, flow.screenToFlowPosition(centre), false);
    },
    [addNodeAt, flow],
  );

  const onDragOver = useCallback((event: DragEvent) => {
    if (!event.dataTransfer.types.includes(NODE_TYPE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback(
    (event: DragEvent) => {
      const typeName = event.dataTransfer.getData(NODE_TYPE_MIME);
      if (typeName === "") return;
      event.preventDefault();
      addNodeAt(typeName, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }), true);
    },
    [addNodeAt, flow],
  );

  const onPropertiesChange = useCallback(
    (nodeId: string, properties: Record<string, unknown>, field: string) => {
      apply(setProperties(latest(), nodeId, properties), `properties:${nodeId}:${field}`);
    },
    [apply, latest],
  );

  const run = (command: Command): boolean => {
    const selected = new Set(selectedNodeIds);
    switch (command) {
      case "undo":
        return !readOnly && history.undo();
      case "redo":
        return !readOnly && history.redo();
      case "selectAll":
        view.selectAll();
        return true;
      case "deselect":
        view.deselect();
        clearRefusal();
        return true;
      case "copy":
      case "cut": {
        // Text the user selected on the page is theirs to copy.
        if (window.getSelection()?.isCollapsed === false) return false;
        const clip = copyOf(latest(), selected);
        if (clip === null) return false;
        hold(clip);
        if (command === "copy" || readOnly) return true;
        apply(removeElements(latest(), selected, NO_EDGES));
        return true;
      }
      case "paste": {
        const paste = readOnly ? null : nextPaste();
        if (paste === null) return false;
        const added = pasteOf(paste.clip, paste.offset);
        apply(addNodes(latest(), added.nodes, added.edges), undefined, new Set(added.nodes.map((node) => node.id)));
        return true;
      }
      case "delete": {
        if (readOnly) return false;
        const current = latest();
        const next = removeElements(current, selected, view.selectedEdgeIds);
        if (next === current) return false;
        apply(next);
        return true;
      }
    }
  };

  useEditorKeys(rootRef, run);

  const onlyNode = selectedNodeIds.length === 1 ? present.nodes.find((node) => node.id === selectedNodeIds[0]) : undefined;

  return (
    // Focusable, so that a click on the canvas takes focus from a field and keys reach it.
    <div
      className={`sg-editor${readOnly ? " is-read-only" : ""}${marks ? " is-diff" : ""}`}
      tabIndex={-1}
      ref={rootRef}
    >
      {!readOnly && (
        <Palette types={nodeTypes} id={paletteId} open={panels.shown.has("palette")} onAdd={addAtCentre} />
      )}
      <div className={far ? "sg-canvas is-far" : "sg-canvas"} ref={canvasRef}>
        <ReactFlow<FlowNode, FlowEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          onNodesChange={onNodesChange}
          onEdgesChange={view.onEdgesChange}
          onConnect={onConnect}
          onConnectStart={clearRefusal}
          onConnectEnd={onConnectEnd}
          isValidConnection={isValidConnection}
          onDragOver={onDragOver}
          onDrop={onDrop}
          onPaneClick={clearRefusal}
          // Touch: one finger pans, two pinch-zoom (layout.css leaves the gestures to React Flow);
          // a wheel zooms and never scrolls the page behind.
          panOnDrag
          zoomOnPinch
          panOnScroll={false}
          preventScrolling
          nodesDraggable={!readOnly}
          nodesConnectable={!readOnly}
          edgesReconnectable={false}
          deleteKeyCode={null}
          snapToGrid
          snapGrid={SNAP_GRID}
          onlyRenderVisibleElements={present.nodes.length > LARGE_GRAPH}
          minZoom={0.1}
          maxZoom={2}
          fitView={fitOnOpen}
          fitViewOptions={FIT_VIEW}
          colorMode="light"
        >
          <Background variant={BackgroundVariant.Dots} gap={GRID} />
          <MiniMap<FlowNode> pannable zoomable nodeColor={minimapColour} />
          <Controls showInteractive={false} />
          <PanelToggles
            panels={panels}
            ids={readOnly ? { properties: propertiesId } : { palette: paletteId, properties: propertiesId }}
          />
          {!readOnly && (
            <Panel position="top-left" className="sg-toolbar">
              <button type="button" onClick={history.undo} disabled={!history.canUndo} aria-keyshortcuts={SHORTCUTS.undo}>
                Undo
              </button>
              <button type="button" onClick={history.redo} disabled={!history.canRedo} aria-keyshortcuts={SHORTCUTS.redo}>
                Redo
              </button>
            </Panel>
          )}
          {present.nodes.length === 0 && !readOnly && (
            <Panel position="top-center" className="sg-empty">
              An empty canvas: drag a node from the palette, or click one to add it.
            </Panel>
          )}
          <Panel position="bottom-center">
            <ConnectionHint graph={present} types={types} refused={refused} />
          </Panel>
        </ReactFlow>
      </div>
      <PropertiesPanel
        node={onlyNode}
        type={onlyNode === undefined ? undefined : types.get(onlyNode.type)}
        problems={onlyNode === undefined ? NO_PROBLEMS : (grouped.byNode.get(onlyNode.id) ?? NO_PROBLEMS)}
        selectedCount={selectedNodeIds.length}
        readOnly={readOnly}
        id={propertiesId}
        open={panels.shown.has("properties")}
        onChange={onPropertiesChange}
      />
    </div>
  );
}

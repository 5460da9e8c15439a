import { useEffect, useId, useMemo, useRef, useState } from "react";

import type { Graph, GraphEdge, NodeType, Position } from "../api/graph";
import type { Conflict } from "./autosave";
import { changeText, describeChanges, nodeLabel, valueText } from "./changes";
import { mergeGraphs, type MergeConflict, type Side } from "./merge";
import "./saving.css";

/** Changes listed before "and N more": a merge view is read, not scrolled through. */
const SHOWN_CHANGES = 40;

export interface MergeViewProps {
  conflict: Conflict;
  nodeTypes?: readonly NodeType[];
  /** Saves the merged graph on `conflict.version`. */
  onSaveMerged: (graph: Graph) => void;
  /** Takes the newest version as it is. */
  onDiscardMine: () => void;
}

/** The merge of this page's unsaved graph with a newer version someone else saved: what they
 * changed, each conflict with a choice between mine and theirs, and the merged graph to save. */
export function MergeView({
  conflict,
  nodeTypes = [],
  onSaveMerged,
  onDiscardMine,
}: MergeViewProps) {
  const titleId = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  const [resolutions, setResolutions] = useState<Record<string, Side>>({});
  const { base, mine, theirs, version } = conflict;
  const merge = useMemo(
    () => mergeGraphs(base, mine, theirs, { resolutions, nodeTypes }),
    [base, mine, theirs, resolutions, nodeTypes],
  );
  // Without the shared version, the best account of theirs is how it differs from mine.
  const before = base ?? mine;
  const changes = useMemo(() => describeChanges(before, theirs), [before, theirs]);

  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
  }, []);

  const label = (id: string) => {
    const node = [mine, theirs, base]
      .flatMap((graph) => graph?.nodes ?? [])
      .find((n) => n.id === id);
    return node === undefined ? `“${id}”` : nodeLabel(node, nodeTypes);
  };
  const choose = (key: string, side: Side) => {
    setResolutions((chosen) => ({ ...chosen, [key]: side }));
  };

  return (
    <dialog
      ref={dialog}
      className="merge"
      aria-labelledby={titleId}
      // A merge ends by saving it or by discarding mine, never by Escape.
      onCancel={(event) => {
        event.preventDefault();
      }}
    >
      <h2 id={titleId}>Merge changes</h2>
      <section aria-label="Their changes">
        <h3>
          {base === null
            ? `How version ${String(version)} differs from yours`
            : `What changed in version ${String(version)}`}
        </h3>
        {changes.length === 0 ? (
          <p className="status">Nothing that touches your changes.</p>
        ) : (
          <ul className="merge-changes">
            {changes.slice(0, SHOWN_CHANGES).map((change, index) => (
              <li key={index}>{changeText(change, { base: before, other: theirs }, nodeTypes)}</li>
            ))}
            {changes.length > SHOWN_CHANGES && <li>and {changes.length - SHOWN_CHANGES} more</li>}
          </ul>
        )}
      </section>
      {merge.conflicts.length > 0 && (
        <section aria-label="Conflicts">
          <h3>
            {merge.conflicts.length === 1
              ? "1 conflict"
              : `${String(merge.conflicts.length)} conflicts`}
          </h3>
          {merge.conflicts.map((item, index) => (
            <fieldset key={item.key} className="merge-conflict">
              <legend>{conflictTitle(item, label)}</legend>
              {(["mine", "theirs"] as const).map((side) => (
                <label key={side}>
                  <input
                    type="radio"
                    name={`${titleId}-conflict-${String(index)}`}
                    checked={item.resolution === side}
                    onChange={() => {
                      choose(item.key, side);
                    }}
                  />
                  {side === "mine" ? "Mine" : "Theirs"}: {conflictValue(item, side, label)}
                </label>
              ))}
            </fieldset>
          ))}
        </section>
      )}
      <div className="merge-actions">
        <button
          type="button"
          onClick={() => {
            onSaveMerged(merge.graph);
          }}
        >
          Save merged
        </button>
        <button type="button" onClick={onDiscardMine}>
          Discard mine
        </button>
      </div>
    </dialog>
  );
}

function conflictTitle(conflict: MergeConflict, label: (id: string) => string): string {
  const node = label(conflict.node);
  if (conflict.field === "node") return `${node}: deleted on one side, changed on the other`;
  if (conflict.field === "type") return `${node}: its type`;
  if (conflict.field === "position") return `${node}: its place`;
  if (conflict.field.startsWith("inputs.")) {
    return `${node}: what is connected to ${conflict.field.slice("inputs.".length)}`;
  }
  return `${node}: ${conflict.field.slice("properties.".length)}`;
}

function conflictValue(conflict: MergeConflict, side: Side, label: (id: string) => string): string {
  const value = side === "mine" ? conflict.mine : conflict.theirs;
  if (conflict.field === "node") return value === undefined ? "deleted" : "kept, with changes";
  if (conflict.field === "position") {
    const { x, y } = value as Position;
    return `(${String(Math.round(x))}, ${String(Math.round(y))})`;
  }
  if (conflict.field.startsWith("inputs.")) {
    const edges = value as GraphEdge[];
    return edges.length === 0 ? "nothing" : edges.map((edge) => label(edge.source)).join(", ");
  }
  if (conflict.field === "type") return typeof value === "string" ? value : valueText(value);
  return valueText(value);
}

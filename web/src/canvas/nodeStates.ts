// Every node's Execute state on the open canvas, from three sources that may arrive in any
// order: the results read when the canvas opened, Execute's answer, and live events
// (`canvas.nodes` on the canvas topic, the user's `canvas.execution` snapshot). An execution
// is named by its batch; a newer one starts the picture afresh, and within one a later
// message only moves nodes it names.

import type { NodeResult } from "../api/events";

export interface NodeStates {
  /** The execution these states belong to ("" for results read from the cache, or none). */
  readonly batchId: string;
  readonly version: number;
  readonly nodes: ReadonlyMap<string, NodeResult>;
}

export interface NodeStatesUpdate {
  readonly canvas_id: string;
  readonly version: number;
  readonly batch_id?: string | undefined;
  readonly nodes: readonly NodeResult[];
}

export const NO_STATES: NodeStates = { batchId: "", version: 0, nodes: new Map() };

const FINISHED = new Set(["succeeded", "failed", "cached"]);

/** The states after `update`. An update from an older version is ignored; one from another
 * batch of the same or a newer version replaces the picture; one from the same batch moves
 * the nodes it names, except that a finished node is never set back to an unfinished state
 * (Execute's answer can arrive after the events that overtook it). */
export function applyNodeStates(current: NodeStates, update: NodeStatesUpdate): NodeStates {
  if (update.version < current.version) return current;
  const batchId = update.batch_id ?? "";
  const sameRun = update.version === current.version && batchId === current.batchId;
  const nodes = new Map(sameRun ? current.nodes : []);
  for (const result of update.nodes) {
    const before = nodes.get(result.node_id);
    if (sameRun && before !== undefined && isBehind(before, result)) continue;
    nodes.set(result.node_id, result);
  }
  return { batchId, version: update.version, nodes };
}

function isBehind(before: NodeResult, after: NodeResult): boolean {
  if (FINISHED.has(before.state) && !FINISHED.has(after.state)) return true;
  return (
    before.state === "running" &&
    after.state === "running" &&
    (after.progress ?? 0) < (before.progress ?? 0)
  );
}

/** How many nodes are in each state, for the toolbar ("3 running, 2 succeeded"). */
export function stateCounts(states: NodeStates): Map<string, number> {
  const counts = new Map<string, number>();
  for (const result of states.nodes.values()) {
    counts.set(result.state, (counts.get(result.state) ?? 0) + 1);
  }
  return counts;
}

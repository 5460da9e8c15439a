import { useCallback, useLayoutEffect, useRef, useState } from "react";

import type { Graph } from "../api/graph";
import { jsonEqual } from "../api/json";
import { canRedo, canUndo, createHistory, record, redo, undo, type History } from "./history";

export interface GraphHistory {
  /** The newest graph: the last one emitted, or the one given from outside since. */
  present: Graph;
  canUndo: boolean;
  canRedo: boolean;
  /** Emit `next` as a user's edit; edits with the same `key` in quick succession are one
   * undo step. */
  commit: (next: Graph, key?: string) => void;
  undo: () => boolean;
  redo: () => boolean;
  /** `present` as of now, for event handlers that run before the next render. */
  latest: () => Graph;
}

/**
 * The editor's undo history over a controlled `graph`.
 *
 * A graph given from outside that is not the last one emitted (a merge after a conflict, a
 * reload, another person's change) starts a new history rather than being pushed onto it:
 * undo then only ever takes back the user's own edits, never silently reverting what someone
 * else saved, and the saving layer never sees an undo emit a graph built on a base that is no
 * longer the newest.
 */
export function useGraphHistory(graph: Graph, onChange: (next: Graph) => void): GraphHistory {
  const [state, setState] = useState(() => ({ history: createHistory(graph), seen: graph }));
  let { history } = state;
  if (graph !== state.seen) {
    // The parent may hand back an equal copy of what was emitted (read back from the server).
    const ours = graph === history.present || jsonEqual(graph, history.present);
    if (!ours) history = createHistory(graph);
    setState({ history, seen: graph });
  }

  const current = useRef(history);
  const emit = useRef(onChange);
  useLayoutEffect(() => {
    current.current = history;
    emit.current = onChange;
  });

  const replace = useCallback((next: History) => {
    current.current = next;
    setState((old) => ({ ...old, history: next }));
    emit.current(next.present);
  }, []);

  const commit = useCallback(
    (next: Graph, key?: string) => {
      const options = key === undefined ? {} : { key, at: performance.now() };
      const recorded = record(current.current, next, options);
      if (recorded !== current.current) replace(recorded);
    },
    [replace],
  );

  const step = useCallback(
    (move: (history: History) => History) => {
      const moved = move(current.current);
      if (moved === current.current) return false;
      replace(moved);
      return true;
    },
    [replace],
  );

  return {
    present: history.present,
    canUndo: canUndo(history),
    canRedo: canRedo(history),
    commit,
    undo: useCallback(() => step(undo), [step]),
    redo: useCallback(() => step(redo), [step]),
    latest: useCallback(() => current.current.present, []),
  };
}

// Undo and redo over the graphs the editor emitted. Pure: the editor keeps one History in
// state and replaces it on every step.

import type { Graph } from "../api/graph";

/** How many steps back undo reaches; older ones are forgotten first. */
export const HISTORY_CAP = 100;

/** Edits with the same key this close together are one step (one drag, one field typed). */
export const COALESCE_MS = 1500;

export interface History {
  /** Oldest first; the last is what undo returns to. */
  readonly past: readonly Graph[];
  readonly present: Graph;
  /** Nearest first: what redo brings back. */
  readonly future: readonly Graph[];
  /** The coalescing key and time of the step that made `present`, if it may be extended. */
  readonly last?: { readonly key: string; readonly at: number };
}

export interface RecordOptions {
  /** Steps that share a key and follow within COALESCE_MS of each other merge into one. */
  key?: string;
  /** Milliseconds on any monotonic clock; needed for coalescing. */
  at?: number;
  cap?: number;
}

/** A history whose only state is `base`: nothing to undo or redo. */
export function createHistory(base: Graph): History {
  return { past: [], present: base, future: [] };
}

/** `next` as the new present; the redo branch is dropped, as in every editor. */
export function record(history: History, next: Graph, options: RecordOptions = {}): History {
  if (next === history.present) return history;
  const { key, at, cap = HISTORY_CAP } = options;
  const last = key !== undefined && at !== undefined ? { key, at } : undefined;
  const coalesces =
    last !== undefined &&
    history.last !== undefined &&
    history.last.key === last.key &&
    last.at - history.last.at <= COALESCE_MS &&
    history.past.length > 0;
  const past = coalesces ? history.past : [...history.past, history.present];
  const kept = past.length > cap ? past.slice(past.length - cap) : past;
  return last === undefined
    ? { past: kept, present: next, future: [] }
    : { past: kept, present: next, future: [], last };
}

/** One step back, or the same history when there is none. */
export function undo(history: History): History {
  const previous = history.past.at(-1);
  if (previous === undefined) return history;
  return {
    past: history.past.slice(0, -1),
    present: previous,
    future: [history.present, ...history.future],
  };
}

/** One step forward again, or the same history when nothing was undone. */
export function redo(history: History): History {
  const [next, ...rest] = history.future;
  if (next === undefined) return history;
  return { past: [...history.past, history.present], present: next, future: rest };
}

export function canUndo(history: History): boolean {
  return history.past.length > 0;
}

export function canRedo(history: History): boolean {
  return history.future.length > 0;
}

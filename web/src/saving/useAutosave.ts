// The canvas page's hold on autosave: one Autosave per user and canvas, fed the editor's graph,
// told when the browser comes back online or the page goes away, and read as React state.

import {
  useCallback,
  useEffect,
  useEffectEvent,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";

import type { Graph } from "../api/graph";
import { saveVersion } from "../api/canvases";
import { newestGraph, versionGraph } from "./api";
import { Autosave, type SavedVersion, type SaveSnapshot } from "./autosave";
import { DraftStore, draftKey } from "./drafts";

export interface AutosaveInput {
  canvasId: string;
  /** Whose draft this is: a shared computer keeps each user's apart. */
  userId: string;
  /** The canvas as the page loaded it: its newest version and that version's graph. Read once
   * per canvas; after that, each save's answer is the new base. */
  loaded: { version: number; graph: Graph };
  /** The graph as the editor has it now. */
  graph: Graph;
  /** Read access only: nothing is saved. */
  readOnly?: boolean;
  /** Shows a graph saving decided on: a restored draft, the merged graph, or theirs. */
  onReplace: (graph: Graph) => void;
}

export interface Autosaving extends SaveSnapshot {
  /** Saves now (a Save button, Ctrl+S, or before Execute): the version holding the graph. */
  flush: () => Promise<SavedVersion>;
  /** Saves the merged graph on the conflict's newest version. */
  resolve: (merged: Graph) => void;
  /** Ends a conflict by taking the newest version as it is. */
  discardMine: () => void;
  /** This page restored an earlier version as `version`: show `graph` and save on from it. */
  restored: (version: number, graph: Graph) => void;
  /** Hides the notice of a restored draft; `discardDraft` drops the draft instead. */
  dismissDraft: () => void;
  discardDraft: () => void;
}

function localDrafts(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked by the browser's settings: saving works, drafts do not
  }
}

function pageId(): string {
  return typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : Math.random().toString(36).slice(2);
}

// Browsers refuse a keepalive request whose body passes 64 KiB: a larger graph is sent as a
// plain request, which may be cut off as the page goes (its draft is kept either way).
const KEEPALIVE_BYTES = 60_000;

function fitsKeepalive(request: unknown): boolean {
  return new Blob([JSON.stringify(request)]).size <= KEEPALIVE_BYTES;
}

function autosaveFor(input: AutosaveInput): Autosave {
  const { canvasId } = input;
  return new Autosave({
    canvasId,
    loaded: input.loaded,
    readOnly: input.readOnly ?? false,
    save: (request, leaving) =>
      saveVersion(canvasId, request, { keepalive: leaving && fitsKeepalive(request) }),
    newest: () => newestGraph(canvasId),
    versionGraph: (number) => versionGraph(canvasId, number),
    drafts: new DraftStore(localDrafts(), draftKey(input.userId, canvasId), pageId()),
    isOnline: () => navigator.onLine,
  });
}

export function useAutosave(input: AutosaveInput): Autosaving {
  const key = `${input.userId}\n${input.canvasId}`;
  const [held, setHeld] = useState(() => ({ key, autosave: autosaveFor(input) }));
  let autosave = held.autosave;
  if (held.key !== key) {
    // Another canvas in the same page: a fresh start (the old one saved as it was left).
    const next = { key, autosave: autosaveFor(input) };
    setHeld(next);
    autosave = next.autosave;
  }
  const subscribe = useCallback((listener: () => void) => autosave.subscribe(listener), [autosave]);
  const snapshot = useSyncExternalStore(subscribe, () => autosave.snapshot);

  // Only a graph the editor has not passed before is an edit: an effect run again (Strict
  // Mode, or a render for another reason) must not hand back a graph a draft replaced.
  const passed = useRef(input.graph);
  const { graph } = input;
  useEffect(() => {
    if (graph === passed.current) return;
    passed.current = graph;
    autosave.edit(graph);
  }, [autosave, graph]);

  const replace = useEffectEvent((next: Graph) => {
    input.onReplace(next);
  });
  useEffect(() => {
    const stopReplacing = autosave.onReplace(replace);
    autosave.start();
    const online = () => {
      autosave.online();
    };
    const hidden = () => {
      if (document.visibilityState === "hidden") autosave.leave();
    };
    const leave = () => {
      autosave.leave();
    };
    window.addEventListener("online", online);
    window.addEventListener("pagehide", leave);
    document.addEventListener("visibilitychange", hidden);
    return () => {
      window.removeEventListener("online", online);
      window.removeEventListener("pagehide", leave);
      document.removeEventListener("visibilitychange", hidden);
      stopReplacing();
      autosave.leave();
    };
  }, [autosave]);

  const actions = useMemo(
    () => ({
      flush: () => autosave.flush(),
      resolve: (merged: Graph) => {
        autosave.resolve(merged);
      },
      discardMine: () => {
        autosave.discardMine();
      },
      restored: (version: number, graph: Graph) => {
        autosave.restored(version, graph);
      },
      dismissDraft: () => {
        autosave.dismissDraft();
      },
      discardDraft: () => {
        autosave.discardDraft();
      },
    }),
    [autosave],
  );
  return { ...snapshot, ...actions };
}

// The unsaved graph of a canvas, kept in localStorage (one key per user and canvas) from the
// moment it differs from what the server holds until a save confirms it, so that a closed tab,
// a crash or a long time offline loses nothing.

import type { Graph } from "../api/graph";

export interface Draft {
  /** The version the graph was edited from. */
  base: number;
  /** That version's graph when known: the base of a three-way merge if the server moved on. */
  baseGraph: Graph | null;
  graph: Graph;
  /** When it was written, in milliseconds since the epoch. */
  savedAt: number;
  /** The page that wrote it: a page clears only its own draft, never another tab's. */
  writer: string;
}

const PREFIX = "shotgraph.draft.v1";

export function draftKey(userId: string, canvasId: string): string {
  return `${PREFIX}:${userId}:${canvasId}`;
}

export class DraftStore {
  constructor(
    private readonly storage: Storage | null,
    private readonly key: string,
    readonly writer: string,
  ) {}

  /** The draft kept for this canvas, or null (none, or not one this studio wrote). */
  read(): Draft | null {
    let text: string | null;
    try {
      text = this.storage?.getItem(this.key) ?? null;
    } catch {
      return null; // storage disabled by the browser's settings
    }
    if (text === null) return null;
    try {
      const value: unknown = JSON.parse(text);
      return isDraft(value) ? value : null;
    } catch {
      return null;
    }
  }

  /** Keeps `draft`; when storage is full, without its base graph; false if even that fails. */
  write(draft: Omit<Draft, "writer">): boolean {
    const full: Draft = { ...draft, writer: this.writer };
    return this.put(full) || (full.baseGraph !== null && this.put({ ...full, baseGraph: null }));
  }

  /** Forgets the draft once it is saved, unless another page has written one since. */
  clear(): void {
    if (this.read()?.writer !== this.writer) return;
    this.discard();
  }

  /** Forgets the draft, whoever wrote it. */
  discard(): void {
    try {
      this.storage?.removeItem(this.key);
    } catch {
      // storage disabled: there is nothing to forget
    }
  }

  private put(draft: Draft): boolean {
    try {
      this.storage?.setItem(this.key, JSON.stringify(draft));
      return this.storage !== null;
    } catch {
      return false; // QuotaExceededError, or storage disabled
    }
  }
}

function isGraph(value: unknown): value is Graph {
  if (typeof value !== "object" || value === null) return false;
  const graph = value as Record<string, unknown>;
  return Array.isArray(graph.nodes) && Array.isArray(graph.edges);
}

function isDraft(value: unknown): value is Draft {
  if (typeof value !== "object" || value === null) return false;
  const draft = value as Record<string, unknown>;
  return (
    typeof draft.base === "number" &&
    typeof draft.savedAt === "number" &&
    typeof draft.writer === "string" &&
    isGraph(draft.graph) &&
    (draft.baseGraph === null || isGraph(draft.baseGraph))
  );
}

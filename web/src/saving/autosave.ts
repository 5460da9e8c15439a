// Autosave for the canvas page, with no framework: it saves the graph once edits settle (a quiet
// spell, or at the latest a few seconds into continuous editing), one save at a time, and keeps
// the unsaved graph as a draft until a save confirms it. A network failure makes it "offline"
// and retried with backoff (at once when the browser is back online); a 409 stops it on a
// conflict until the user merges, unless the newer version is this page's own save whose answer
// the network lost; a refusal such as 403 or 404 stops it with the reason.

import type { Version } from "../api/canvases";
import type { Graph } from "../api/graph";
import { ApiError, NetworkError } from "../api/http";
import { jsonEqual } from "../api/json";
import type { SaveRequest } from "../api/canvases";
import type { Draft, DraftStore } from "./drafts";

export type SaveState = "saved" | "dirty" | "saving" | "offline" | "conflict" | "error";

/** Both sides of a conflict once the newest version is fetched: merge `mine` and `theirs`
 * from `base` (null when that version is gone) and save the result on `version`. */
export interface Conflict {
  version: number;
  base: Graph | null;
  mine: Graph;
  theirs: Graph;
}

/** A draft from an earlier visit that the page was given back: when it was written, and the
 * version it was edited from. */
export interface RestoredDraft {
  savedAt: number;
  base: number;
}

export interface SaveSnapshot {
  state: SaveState;
  /** Why it is not saved, in a few words: set when the state is "error" (or a conflict could
   * not be fetched). */
  reason: string | null;
  /** The version the graph is based on. */
  version: number;
  conflict: Conflict | null;
  draft: RestoredDraft | null;
  /** The canvas is gone for this person (deleted, or no longer shared): a 404 or 410. */
  gone: boolean;
}

/** The version that holds the graph: the save's answer, or the number alone when the graph
 * needed no save. */
export type SavedVersion = Pick<Version, "canvas_id" | "number"> & Partial<Version>;

export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const browserClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => globalThis.setTimeout(run, ms),
  clearTimeout: (handle) => {
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  },
};

export interface AutosaveOptions {
  canvasId: string;
  /** The newest version when the page loaded the canvas, and its graph. */
  loaded: { version: number; graph: Graph };
  /** Read access only: nothing is saved, and a kept draft is left for later. */
  readOnly?: boolean;
  /** Saves a version; `leaving` when the page is going away (a keepalive request fits). */
  save: (request: SaveRequest, leaving: boolean) => Promise<Version>;
  newest: () => Promise<{ version: number; graph: Graph }>;
  /** One version's graph, null when it is gone. */
  versionGraph: (number: number) => Promise<Graph | null>;
  drafts: DraftStore;
  clock?: Clock;
  isOnline?: () => boolean;
  random?: () => number;
  /** Quiet time after the last edit before a save. */
  debounceMs?: number;
  /** The longest continuous editing goes unsaved. */
  maxWaitMs?: number;
}

/** Why `flush` could not save: the state it stopped in and the reason. */
export class NotSaved extends Error {
  constructor(
    readonly state: SaveState,
    message: string,
  ) {
    super(message);
    this.name = "NotSaved";
  }
}

const DRAFT_DELAY_MS = 250;
/** Unanswered saves remembered: each retry on a flaky network adds one. */
const UNANSWERED = 8;
const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 30_000;
/** Refusals worth asking again after a while: the server or a proxy was busy or restarting. */
const TRANSIENT = new Set([408, 425, 429, 502, 503, 504]);
/** The canvas is gone or closed to this user: asking again cannot help. */
const FINAL = new Set([403, 404, 410]);

type TimerName = "debounce" | "maxWait" | "retry" | "draft";

interface Waiter {
  resolve(version: SavedVersion): void;
  reject(error: Error): void;
}

export class Autosave {
  private base: number;
  /** The graph of version `base`, when known. */
  private confirmed: Graph | null;
  private latest: Graph;
  /** The graph of the save in flight. */
  private sending: Graph | null = null;
  /** Save again as soon as the save in flight answers. */
  private again = false;
  /** Graphs sent on `base` whose answer never came (the network dropped): the server may hold
   * one of them, so a newer version equal to one is this page's own save, not someone else's. */
  private unanswered: Graph[] = [];
  private state: SaveState = "saved";
  private reason: string | null = null;
  private conflict: Conflict | null = null;
  private draft: RestoredDraft | null = null;
  /** A draft to give back when the page starts. */
  private restore: Draft | null = null;
  private started = false;
  /** Autosave stopped: on a conflict until it is resolved, or for good on a final refusal. */
  private halted: "conflict" | "final" | null = null;
  private gone = false;
  private failures = 0;
  private saved: SavedVersion;
  private waiters: Waiter[] = [];
  private readonly timers = new Map<TimerName, unknown>();
  private readonly listeners = new Set<() => void>();
  private readonly replaceListeners = new Set<(graph: Graph) => void>();
  private snap: SaveSnapshot;
  private readonly clock: Clock;
  private readonly isOnline: () => boolean;
  private readonly random: () => number;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;

  constructor(private readonly options: AutosaveOptions) {
    this.clock = options.clock ?? browserClock;
    this.isOnline = options.isOnline ?? (() => true);
    this.random = options.random ?? Math.random;
    this.debounceMs = options.debounceMs ?? 800;
    this.maxWaitMs = options.maxWaitMs ?? 5_000;
    const { loaded } = options;
    this.base = loaded.version;
    this.confirmed = loaded.graph;
    this.latest = loaded.graph;
    this.saved = { canvas_id: options.canvasId, number: loaded.version };
    this.snap = this.snapshotNow();
    if (options.readOnly) return;
    const kept = options.drafts.read();
    if (kept === null) return;
    // A draft the server already holds was saved after all (its answer came too late).
    if (jsonEqual(kept.graph, loaded.graph)) options.drafts.discard();
    else this.restore = kept;
  }

  // -- what the page reads --------------------------------------------------------------

  get snapshot(): SaveSnapshot {
    return this.snap;
  }

  /** Calls `listener` after every change of the snapshot; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` with the graph the page should show when saving replaces it: a restored
   * draft, a merged graph, or theirs when mine is discarded. */
  onReplace(listener: (graph: Graph) => void): () => void {
    this.replaceListeners.add(listener);
    return () => this.replaceListeners.delete(listener);
  }

  // -- what the page tells it -----------------------------------------------------------

  /** Once the page listens: gives back a draft kept from an earlier visit, and saves it. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const kept = this.restore;
    if (kept === null) return;
    this.restore = null;
    this.draft = { savedAt: kept.savedAt, base: kept.base };
    if (kept.base !== this.base) {
      // Edited from an older version: saving it conflicts, and the merge shows both sides.
      this.base = kept.base;
      this.confirmed = kept.baseGraph;
    }
    this.latest = kept.graph;
    this.replace(kept.graph);
    this.set("dirty");
    this.saveSoon(0);
  }

  /** The graph changed. */
  edit(graph: Graph): void {
    if (jsonEqual(graph, this.latest)) return;
    this.latest = graph;
    if (this.options.readOnly) return;
    // At most one write per DRAFT_DELAY_MS while dragging: each writes the newest graph.
    if (!this.timers.has("draft")) {
      this.arm("draft", DRAFT_DELAY_MS, () => {
        this.writeDraft();
      });
    }
    if (this.halted === "conflict") {
      if (this.conflict !== null) this.conflict = { ...this.conflict, mine: graph };
      this.emit();
      return;
    }
    if (this.halted === "final" || this.state === "offline") return; // kept as a draft
    if (this.sending === null) this.set("dirty");
    this.arm("debounce", this.debounceMs, () => {
      this.due();
    });
    if (!this.timers.has("maxWait")) {
      this.arm("maxWait", this.maxWaitMs, () => {
        this.due();
      });
    }
  }

  /** Saves now (an explicit save, or before Execute); resolves with the version that holds
   * the graph as it is, or rejects with NotSaved. */
  flush(): Promise<SavedVersion> {
    if (this.options.readOnly) {
      return Promise.reject(new NotSaved("error", "this canvas is read-only"));
    }
    if (this.halted === "conflict") {
      return Promise.reject(new NotSaved("conflict", "merge the other changes first"));
    }
    if (this.halted === "final") {
      return Promise.reject(new NotSaved("error", this.reason ?? "not saved"));
    }
    const done = new Promise<SavedVersion>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
    this.due();
    return done;
  }

  /** The browser is back online: retry at once. */
  online(): void {
    if (this.state === "offline" && this.halted === null) {
      this.due();
    } else if (this.halted === "conflict" && this.conflict === null && this.sending === null) {
      this.disarm("retry");
      void this.fetchConflict();
    }
  }

  /** The page is going away (hidden, closed, or left for another page of the studio): keeps
   * the draft and sends what is unsaved now. */
  leave(): void {
    if (this.options.readOnly) return;
    this.disarm("draft");
    this.writeDraft();
    const unsaved = this.state === "dirty" || this.state === "offline";
    if (this.halted === null && unsaved && this.sending === null) {
      this.disarm("debounce");
      this.disarm("maxWait");
      void this.send(true);
    }
  }

  /** Saves the merged graph on the newest version (and merges again if that is stale too). */
  resolve(merged: Graph): void {
    const conflict = this.conflict;
    if (conflict === null) return;
    this.adopt(conflict);
    this.latest = merged;
    this.replace(merged);
    this.set("dirty");
    void this.send(false, `Merged with version ${String(conflict.version)}`);
  }

  /** Drops mine and takes the newest version as it is. */
  discardMine(): void {
    const conflict = this.conflict;
    if (conflict === null) return;
    this.adopt(conflict);
    this.latest = conflict.theirs;
    this.options.drafts.discard();
    this.replace(conflict.theirs);
    this.set("saved");
  }

  /** This page made `graph` the newest version, `version`, itself (a restore of an earlier
   * version): the page shows it, and autosave goes on from it, not taking it for someone
   * else's save. Call it once nothing is being saved (after `flush`). */
  restored(version: number, graph: Graph): void {
    this.disarm("debounce");
    this.disarm("maxWait");
    this.disarm("draft");
    this.adopt({ version, base: null, mine: graph, theirs: graph });
    this.latest = graph;
    this.draft = null;
    this.options.drafts.clear();
    this.replace(graph);
    this.set("saved");
  }

  /** Hides the notice of a restored draft, keeping its graph. */
  dismissDraft(): void {
    this.draft = null;
    this.emit();
  }

  /** Drops a restored draft: back to the graph the page loaded (or, when the draft led to a
   * conflict, to the newest version). */
  discardDraft(): void {
    if (this.draft === null) return;
    this.draft = null;
    if (this.conflict !== null) {
      this.discardMine();
      return;
    }
    const { graph } = this.options.loaded;
    this.replace(graph);
    this.edit(graph);
    this.emit();
  }

  // -- saving ---------------------------------------------------------------------------

  /** A timer fired, or the page asked: save now, or right after the save in flight. */
  private due(): void {
    this.disarm("debounce");
    this.disarm("maxWait");
    this.disarm("retry");
    if (this.sending !== null) this.again = true;
    else void this.send(false);
  }

  /** Whether a save was asked for while one was in flight; forgets it. */
  private takeAgain(): boolean {
    const again = this.again;
    this.again = false;
    return again;
  }

  private saveSoon(ms: number): void {
    this.arm("debounce", ms, () => {
      this.due();
    });
  }

  private async send(leaving: boolean, message?: string): Promise<void> {
    this.takeAgain();
    if (this.confirmed !== null && jsonEqual(this.latest, this.confirmed)) {
      this.options.drafts.clear();
      this.disarm("draft");
      this.set("saved");
      this.settle(this.saved);
      return;
    }
    if (!this.isOnline()) {
      this.offline();
      return;
    }
    const graph = this.latest;
    const base = this.base;
    this.sending = graph;
    this.writeDraft();
    this.set("saving");
    let version: Version;
    try {
      const request: SaveRequest = { base_version: base, graph, autosave: message === undefined };
      if (message !== undefined) request.message = message;
      version = await this.options.save(request, leaving);
    } catch (error) {
      this.sending = null;
      if (isNetworkError(error)) this.unanswered = [...this.unanswered, graph].slice(-UNANSWERED);
      this.failed(error);
      return;
    }
    this.sending = null;
    this.unanswered = [];
    this.failures = 0;
    this.reason = null;
    this.base = version.number;
    this.confirmed = graph;
    this.saved = version;
    const again = this.takeAgain();
    if (jsonEqual(this.latest, graph)) {
      this.options.drafts.clear();
      this.disarm("draft");
      this.set("saved");
      this.settle(version);
      return;
    }
    this.writeDraft(); // the newer edits, now on the new base
    this.set("dirty");
    if (again || this.waiters.length > 0) void this.send(false);
    else if (!this.timers.has("debounce")) this.saveSoon(this.debounceMs);
  }

  private failed(error: unknown): void {
    if (!(error instanceof ApiError)) {
      if (isNetworkError(error)) {
        this.offline();
      } else {
        this.refused(error instanceof Error ? error.message : String(error), false);
      }
      return;
    }
    const { status } = error;
    if (status === 409) {
      this.halt("conflict");
      this.set("conflict");
      this.settle(new NotSaved("conflict", "someone else saved a newer version"));
      void this.fetchConflict();
    } else if (FINAL.has(status)) {
      this.halt("final");
      this.gone = status !== 403;
      this.refused(finalReason(status), false);
    } else if (TRANSIENT.has(status)) {
      this.refused(`${refusal(error)}; trying again`, true, retryAfter(error));
    } else {
      this.refused(refusal(error), false);
    }
  }

  /** Not saved for `reason`; tried again after a backoff when `retry`, else at the next edit. */
  private refused(reason: string, retry: boolean, afterMs?: number): void {
    this.reason = reason;
    this.set("error");
    this.settle(new NotSaved("error", reason));
    if (retry) this.retryLater(afterMs);
  }

  /** Not saved for want of a network: tried again after a backoff (a try costs nothing while
   * the browser knows it is offline), and at once on the browser's `online` event. */
  private offline(): void {
    this.reason = null;
    this.set("offline");
    this.settle(new NotSaved("offline", "offline: the changes are kept and saved when it is back"));
    this.retryLater();
  }

  private retryLater(afterMs?: number): void {
    const backoff = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
    this.failures += 1;
    // Jitter spreads the retries of many pages that lost the same server at once.
    const delay = afterMs ?? backoff * (0.5 + this.random() / 2);
    this.arm("retry", delay, () => {
      if (this.halted === "conflict") void this.fetchConflict();
      else this.due();
    });
  }

  // -- conflicts ------------------------------------------------------------------------

  private async fetchConflict(): Promise<void> {
    const base = this.base;
    try {
      const newest = await this.options.newest();
      const baseGraph = this.confirmed ?? (await this.options.versionGraph(base));
      if (this.halted !== "conflict") return;
      this.failures = 0;
      this.reason = null;
      if (jsonEqual(newest.graph, this.latest)) {
        // The newest version already holds this graph: a save whose answer was lost.
        this.adopt({
          version: newest.version,
          base: baseGraph,
          mine: this.latest,
          theirs: newest.graph,
        });
        this.options.drafts.clear();
        this.set("saved");
        return;
      }
      if (this.unanswered.some((sent) => jsonEqual(sent, newest.graph))) {
        // The newest version is a save of this page's whose answer was lost: nothing to
        // merge, and the edits made since are saved on top of it.
        this.adopt({
          version: newest.version,
          base: baseGraph,
          mine: this.latest,
          theirs: newest.graph,
        });
        this.set("dirty");
        void this.send(false);
        return;
      }
      this.conflict = {
        version: newest.version,
        base: baseGraph,
        mine: this.latest,
        theirs: newest.graph,
      };
      this.emit();
    } catch (error) {
      if (this.halted !== "conflict") return;
      this.reason = isNetworkError(error)
        ? "offline: the newer version could not be fetched"
        : `the newer version could not be fetched: ${error instanceof Error ? error.message : String(error)}`;
      this.emit();
      this.retryLater();
    }
  }

  /** Takes the conflict's newest version as the base, and autosaves again. */
  private adopt(conflict: Conflict): void {
    this.base = conflict.version;
    this.confirmed = conflict.theirs;
    this.saved = { canvas_id: this.options.canvasId, number: conflict.version };
    this.conflict = null;
    this.unanswered = [];
    this.halted = null;
    this.reason = null;
    this.failures = 0;
    this.disarm("retry");
  }

  private halt(why: "conflict" | "final"): void {
    this.halted = why;
    this.disarm("debounce");
    this.disarm("maxWait");
    this.disarm("retry");
  }

  // -- the parts ------------------------------------------------------------------------

  private writeDraft(): void {
    if (this.confirmed !== null && jsonEqual(this.latest, this.confirmed)) return;
    this.options.drafts.write({
      base: this.base,
      baseGraph: this.confirmed,
      graph: this.latest,
      savedAt: this.clock.now(),
    });
  }

  private settle(outcome: SavedVersion | Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (outcome instanceof Error) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  }

  private arm(name: TimerName, ms: number, run: () => void): void {
    this.disarm(name);
    this.timers.set(
      name,
      this.clock.setTimeout(() => {
        this.timers.delete(name);
        run();
      }, ms),
    );
  }

  private disarm(name: TimerName): void {
    if (!this.timers.has(name)) return;
    this.clock.clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  private replace(graph: Graph): void {
    for (const listener of this.replaceListeners) listener(graph);
  }

  private set(state: SaveState): void {
    this.state = state;
    if (state !== "error" && state !== "conflict") this.reason = null;
    this.emit();
  }

  private emit(): void {
    this.snap = this.snapshotNow();
    for (const listener of this.listeners) listener();
  }

  private snapshotNow(): SaveSnapshot {
    return {
      state: this.state,
      reason: this.reason,
      version: this.base,
      conflict: this.conflict,
      draft: this.draft,
      gone: this.gone,
    };
  }
}

/** Whether fetch failed to reach the server at all (its TypeError), or was cut off. */
function isNetworkError(error: unknown): boolean {
  if (error instanceof NetworkError || error instanceof TypeError) return true;
  return (
    error instanceof DOMException &&
    (error.name === "NetworkError" || error.name === "TimeoutError")
  );
}

function finalReason(status: number): string {
  return status === 403
    ? "you may no longer edit this canvas"
    : "this canvas was deleted, or is no longer shared with you";
}

function refusal(error: ApiError): string {
  if (error.status === 401) return "you are signed out";
  if (error.status === 413) return "the canvas is too large to save";
  return error.problem.detail ?? error.problem.title;
}

/** The wait a 429 or 503 asked for (the problem's `retry_after`, in seconds). */
function retryAfter(error: ApiError): number | undefined {
  const seconds = (error.problem as unknown as Record<string, unknown>).retry_after;
  return typeof seconds === "number" && seconds > 0 ? seconds * 1000 : undefined;
}

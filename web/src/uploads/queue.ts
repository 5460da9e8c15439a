// The uploads of a page: one row per file, sent a few at a time in the order they came, each
// row with its own progress and outcome. A refused file ends its own row only; the others go
// on. Holds no React: the page reads it through `subscribe` and `snapshot`.

import { ApiError, NetworkError } from "../api/http";
import { describeError } from "../app/errors";
import type { SendOptions, UploadedBlob } from "./blobUpload";
import { refusalOf, type FileFacts } from "./limits";

/** How many files are sent at once: enough to keep the connection busy while the server
 * processes one, few enough that each row moves and the browser's six connections to the
 * origin leave room for the page's other calls. */
export const CONCURRENCY = 4;

export type RowState = "waiting" | "sending" | "done" | "refused" | "failed" | "cancelled";

/** A file being uploaded. A new object whenever anything about it changes. */
export interface UploadRow {
  readonly id: number;
  readonly file: UploadFile;
  readonly state: RowState;
  /** Bytes sent, of `total` (the file's size until the request says otherwise). */
  readonly sent: number;
  readonly total: number;
  /** What the server stored ("done"). */
  readonly blob?: UploadedBlob;
  /** Why not ("refused": the file will not do; "failed": it may on a retry). */
  readonly reason?: string;
}

export type UploadFile = Blob & FileFacts;

export type Send = (file: UploadFile, options: SendOptions) => Promise<UploadedBlob>;

export interface QueueOptions {
  send: Send;
  concurrency?: number;
  /** Why a file is refused before it is sent, or null (limits.ts `refusalOf`). */
  check?: (file: FileFacts) => string | null;
  /** Told of each upload that finished, as it finishes. */
  onUploaded?: (file: FileFacts, blob: UploadedBlob) => void;
}

/** Whether a row may be sent again (the same file, from the start). */
export function canRetry(row: UploadRow): boolean {
  return row.state === "failed" || row.state === "cancelled";
}

/** Whether a row may be cancelled. */
export function canCancel(row: UploadRow): boolean {
  return row.state === "waiting" || row.state === "sending";
}

export function isFinished(row: UploadRow): boolean {
  return row.state === "done" || row.state === "refused";
}

export class UploadQueue {
  private rows: readonly UploadRow[] = [];
  private readonly sending = new Map<number, AbortController>();
  private readonly listeners = new Set<() => void>();
  private nextId = 1;
  private readonly send: Send;
  private readonly concurrency: number;
  private readonly check: (file: FileFacts) => string | null;
  private readonly onUploaded: ((file: FileFacts, blob: UploadedBlob) => void) | undefined;

  constructor(options: QueueOptions) {
    this.send = options.send;
    this.concurrency = Math.max(1, options.concurrency ?? CONCURRENCY);
    this.check = options.check ?? refusalOf;
    this.onUploaded = options.onUploaded;
  }

  /** The rows, in the order their files came; a new array whenever a row changes. */
  readonly snapshot = (): readonly UploadRow[] => this.rows;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Adds a row for each file: refused at once when the browser can tell it will not do,
   * else waiting its turn. */
  add(files: Iterable<UploadFile>): void {
    const added: UploadRow[] = [];
    for (const file of files) {
      const reason = this.check(file);
      const row: UploadRow = { id: this.nextId++, file, state: "waiting", sent: 0, total: file.size };
      added.push(reason === null ? row : { ...row, state: "refused", reason });
    }
    if (added.length === 0) return;
    this.rows = [...this.rows, ...added];
    this.pump();
    this.changed();
  }

  /** Stops a waiting or sending row (the request is aborted); it may be retried. */
  cancel(id: number): void {
    const row = this.find(id);
    if (row === undefined || !canCancel(row)) return;
    const controller = this.sending.get(id);
    if (controller !== undefined) {
      controller.abort(new DOMException("cancelled", "AbortError"));
      return; // the row becomes "cancelled" when its request ends
    }
    this.update(id, { state: "cancelled" });
  }

  /** Sends a failed or cancelled row's file again, after the rows already waiting. */
  retry(id: number): void {
    const row = this.find(id);
    if (row === undefined || !canRetry(row)) return;
    // To the end of the line: the rows that waited all along go first.
    this.rows = [
      ...this.rows.filter((other) => other.id !== id),
      { id: row.id, file: row.file, state: "waiting", sent: 0, total: row.file.size },
    ];
    this.pump();
    this.changed();
  }

  /** Forgets the rows that are done or refused (uploaded images stay in the session's list). */
  clearFinished(): void {
    const kept = this.rows.filter((row) => !isFinished(row));
    if (kept.length === this.rows.length) return;
    this.rows = kept;
    this.changed();
  }

  private find(id: number): UploadRow | undefined {
    return this.rows.find((row) => row.id === id);
  }

  /** Starts waiting rows, first come first served, while fewer than `concurrency` are sending. */
  private pump(): void {
    for (const row of this.rows) {
      if (this.sending.size >= this.concurrency) return;
      if (row.state === "waiting") this.start(row);
    }
  }

  private start(row: UploadRow): void {
    const controller = new AbortController();
    this.sending.set(row.id, controller);
    this.replace(row.id, { state: "sending", sent: 0 });
    const onProgress = (sent: number, total: number) => {
      if (this.sending.get(row.id) !== controller) return;
      this.update(row.id, { sent, total });
    };
    this.send(row.file, { onProgress, signal: controller.signal }).then(
      (blob) => {
        this.finish(row.id, { state: "done", blob, sent: row.file.size, total: row.file.size });
        this.onUploaded?.(row.file, blob);
      },
      (error: unknown) => {
        this.finish(row.id, controller.signal.aborted ? { state: "cancelled" } : outcomeOf(error));
      },
    );
  }

  private finish(id: number, change: Partial<UploadRow>): void {
    this.sending.delete(id);
    this.replace(id, change);
    this.pump();
    this.changed();
  }

  private update(id: number, change: Partial<UploadRow>): void {
    this.replace(id, change);
    this.changed();
  }

  private replace(id: number, change: Partial<UploadRow>): void {
    this.rows = this.rows.map((row) => (row.id === id ? { ...row, ...change } : row));
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

// Refusals that are about the file: sending it again would be refused again.
const FILE_REFUSALS = new Set([400, 413, 415, 422]);

/** A row's end when its upload threw `error`: refused for good, or failed and retryable. */
export function outcomeOf(error: unknown): Pick<UploadRow, "state" | "reason"> {
  if (error instanceof ApiError) {
    const status = error.status;
    if (FILE_REFUSALS.has(status)) return { state: "refused", reason: refusalReason(error) };
    if (status === 401 || status === 403) {
      return { state: "failed", reason: `Not uploaded: ${lower(describeError(error))} Sign in, then retry.` };
    }
    if (status === 429) return { state: "failed", reason: "The server is busy (too many uploads at once). Retry in a moment." };
    return { state: "failed", reason: `The server could not take it: ${lower(describeError(error))}` };
  }
  if (error instanceof NetworkError) {
    return { state: "failed", reason: "The connection failed before the upload finished." };
  }
  return { state: "failed", reason: describeError(error) };
}

/** The server's own words when it gave them, else what its status means for a file. */
function refusalReason(error: ApiError): string {
  if (error.problem.detail !== undefined && error.problem.detail !== "") return describeError(error);
  switch (error.status) {
    case 413:
      return "The file is larger than the server accepts.";
    case 415:
      return "The server does not accept this type of file.";
    default:
      return "The server cannot read this file as an image.";
  }
}

function lower(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

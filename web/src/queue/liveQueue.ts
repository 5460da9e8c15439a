// The queue view's lists as the server read them, brought up to date by live events.
//
// A read and an event may cross: a page read before an event arrived may be older than it,
// and one read after it holds its effect already (the batch service writes, then tells).
// So every read and every event is stamped with this tab's clock (`tick`), and an event is
// laid over a fetched row only when it arrived after that row's page was asked for. Events
// themselves come in stream order, so a newer one simply replaces an older one.

import type {
  Batch,
  BatchPage,
  BatchState,
  Job,
  JobCounts,
  JobPage,
  JobState,
} from "../api/batches";
import type { JobProgress, UserEvent } from "../api/events";

let clock = 0;

/** The next moment in this tab's order of reads and events. */
export function tick(): number {
  clock += 1;
  return clock;
}

/** A page as read, with the moment its read was asked for. */
export type Read<Page> = Page & { readonly readAt: number };

/** A batch as its newest event (or a command's answer) tells it. */
export interface LiveBatch {
  readonly batch_id: string;
  readonly state: BatchState;
  readonly total: number;
  readonly counts: JobCounts;
  readonly canvas_id: string;
  /** When it arrived, on the tab's clock. */
  readonly at: number;
  /** First heard of as submitted: a batch newer than any list read before it. */
  readonly submitted: boolean;
  /** When the server sent its first event (epoch seconds): a new batch's creation time. */
  readonly time: number;
}

/** A job as the newest progress event tells it. */
export interface LiveJob extends JobProgress {
  readonly at: number;
}

const ACTIVE_BATCH_STATES: ReadonlySet<BatchState> = new Set(["queued", "running"]);

const FINAL_JOB_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled", "skipped"];

function isFinishedJob(state: JobState): boolean {
  return FINAL_JOB_STATES.includes(state);
}

/** Whether a batch still has work to do (it can be cancelled). */
export function isActive(state: BatchState): boolean {
  return ACTIVE_BATCH_STATES.has(state);
}

/** What a batch event says of its batch (`at` still to be stamped), or null for an event
 * about something else. */
function batchOf(event: UserEvent): LiveBatch | null {
  switch (event.type) {
    case "batch.submitted":
    case "batch.progress":
    case "batch.completed":
    case "batch.cancelled":
    case "batch.retried":
      return {
        batch_id: event.batch_id,
        state: event.state,
        total: event.total,
        counts: event.counts,
        canvas_id: event.canvas_id ?? "",
        at: 0,
        submitted: event.type === "batch.submitted",
        time: event.time,
      };
    default:
      return null;
  }
}

/** The batch an event is about, or null when it is not a batch event. */
export function batchIdOf(event: UserEvent): string | null {
  return batchOf(event)?.batch_id ?? null;
}

/** The live batches after `event`, which arrived at `at`. */
export function applyBatchEvent(
  live: ReadonlyMap<string, LiveBatch>,
  event: UserEvent,
  at: number,
): ReadonlyMap<string, LiveBatch> {
  const told = batchOf(event);
  if (told === null) return live;
  const before = live.get(told.batch_id);
  const next = new Map(live);
  next.set(told.batch_id, {
    ...told,
    at,
    submitted: told.submitted || (before?.submitted ?? false),
    time: before?.time ?? told.time,
  });
  return next;
}

/** The live batches after a command's answer (the batch as the server holds it now). */
export function applyBatchAnswer(
  live: ReadonlyMap<string, LiveBatch>,
  batch: Batch,
  at: number,
): ReadonlyMap<string, LiveBatch> {
  const before = live.get(batch.id);
  const next = new Map(live);
  next.set(batch.id, {
    batch_id: batch.id,
    state: batch.state,
    total: batch.total,
    counts: batch.counts,
    canvas_id: batch.canvas_id,
    at,
    submitted: before?.submitted ?? false,
    time: before?.time ?? 0,
  });
  return next;
}

/** Without what every page read since holds already. */
export function pruneBatches(
  live: ReadonlyMap<string, LiveBatch>,
  pages: readonly Read<BatchPage>[],
): ReadonlyMap<string, LiveBatch> {
  if (pages.length === 0) return live;
  const oldestRead = Math.min(...pages.map((page) => page.readAt));
  const kept = [...live].filter(([, batch]) => batch.at > oldestRead);
  return kept.length === live.size ? live : new Map(kept);
}

/** The batches to show: those read, each as its newest news tells it, below the batches
 * submitted since the first page was read (newest first). */
export function mergeBatches(
  pages: readonly Read<BatchPage>[],
  live: ReadonlyMap<string, LiveBatch>,
): Batch[] {
  const seen = new Set<string>();
  const merged: Batch[] = [];
  for (const page of pages) {
    for (const batch of page.batches) {
      if (seen.has(batch.id)) continue;
      seen.add(batch.id);
      const told = live.get(batch.id);
      merged.push(told !== undefined && told.at > page.readAt ? overlaid(batch, told) : batch);
    }
  }
  const firstRead = pages[0]?.readAt;
  if (firstRead === undefined) return merged;
  const added = [...live.values()]
    .filter((told) => told.submitted && told.at > firstRead && !seen.has(told.batch_id))
    .sort((a, b) => b.time - a.time || b.at - a.at)
    .map(fromEvent);
  return [...added, ...merged];
}

function overlaid(batch: Batch, told: LiveBatch): Batch {
  return {
    ...batch,
    state: told.state,
    total: told.total,
    counts: told.counts,
    canvas_id: told.canvas_id === "" ? batch.canvas_id : told.canvas_id,
  };
}

/** A batch known only from its events: what a list would say of it, as far as they tell. */
function fromEvent(told: LiveBatch): Batch {
  return {
    id: told.batch_id,
    owner_id: "",
    canvas_id: told.canvas_id,
    state: told.state,
    priority: "",
    total: told.total,
    counts: told.counts,
    created_at: new Date(told.time * 1000).toISOString(),
  };
}

/** The live jobs of batch `batchId` after `event`, which arrived at `at`: the jobs a progress
 * event names, each replacing what an earlier event said of it. */
export function applyJobEvent(
  live: ReadonlyMap<string, LiveJob>,
  batchId: string,
  event: UserEvent,
  at: number,
): ReadonlyMap<string, LiveJob> {
  if (event.type !== "batch.progress" || event.batch_id !== batchId) return live;
  if (event.jobs.length === 0) return live;
  const next = new Map(live);
  for (const job of event.jobs) next.set(job.job_id, { ...job, at });
  return next;
}

/** Whether a batch event means the jobs shown must be read again: it changed jobs it does not
 * name (a cancel, a retry, more changes than one event carries). */
export function jobsNeedReading(event: UserEvent, batchId: string): boolean {
  if (batchIdOf(event) !== batchId) return false;
  switch (event.type) {
    case "batch.cancelled":
    case "batch.retried":
    case "batch.completed":
      return true;
    case "batch.progress":
      return (event.more_jobs_changed ?? 0) > 0;
    default:
      return false;
  }
}

/** The jobs to show: those read, each as its newest event tells it. An event never sets a
 * job of the same run back from finished to unfinished, nor a newer run back to an older one
 * (a read may hold a state whose event is still on its way). */
export function mergeJobs(
  pages: readonly Read<JobPage>[],
  live: ReadonlyMap<string, LiveJob>,
): Job[] {
  return pages.flatMap((page) =>
    page.jobs.map((job) => {
      const told = live.get(job.id);
      if (told === undefined || told.at <= page.readAt || isBehind(job, told)) return job;
      return {
        ...job,
        state: told.state,
        progress: told.progress,
        error: told.error ?? "",
        retry: told.retry ?? job.retry,
        ...(told.output === undefined ? {} : { output: told.output }),
      };
    }),
  );
}

function isBehind(read: Job, told: JobProgress): boolean {
  const toldRetry = told.retry ?? 0;
  if (toldRetry !== read.retry) return toldRetry < read.retry;
  return isFinishedJob(read.state) && !isFinishedJob(told.state);
}

/** How many of a batch's jobs are finished, whichever way. */
export function finishedJobs(counts: JobCounts): number {
  return FINAL_JOB_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
}

/* Made by `make contracts` from the bus contract (libs/bus/events.py): do not edit.
 * An event as the user's live connection delivers it: the envelope's type, id, time and
 * schema_version beside the payload's fields. Events of a newer release may carry fields
 * and types not listed here: ignore what you do not know. */

/**
 * An event on a user's live connection.
 */
export type UserEvent =
  | BatchSubmittedEvent
  | BatchProgressEvent
  | BatchCompletedEvent
  | BatchCancelledEvent
  | BatchRetriedEvent
  | CanvasExecutionEvent
  | CanvasNodesEvent;
/**
 * A batch was accepted; its jobs are queued.
 */
export type BatchSubmittedEvent = {
  type: "batch.submitted";
  id: string;
  time: number;
  schema_version: number;
} & BatchSubmitted;
/**
 * A batch's state, rolled up from its jobs'.
 */
export type BatchState = "cancelled" | "failed" | "queued" | "running" | "succeeded";
/**
 * Jobs of a batch moved. Coalesced: at most a few a second per batch, with the newest state of up to ``MAX_JOBS_PER_EVENT`` changed jobs and how many more changed.
 */
export type BatchProgressEvent = {
  type: "batch.progress";
  id: string;
  time: number;
  schema_version: number;
} & BatchProgress;
/**
 * Where a job of a batch stands.
 */
export type JobState =
  "cancelled" | "failed" | "pending" | "queued" | "running" | "skipped" | "succeeded";
/**
 * Every job of the batch is final; ``state`` says how it went.
 */
export type BatchCompletedEvent = {
  type: "batch.completed";
  id: string;
  time: number;
  schema_version: number;
} & BatchCompleted;
/**
 * The owner cancelled the batch; running jobs stop at their next step.
 */
export type BatchCancelledEvent = {
  type: "batch.cancelled";
  id: string;
  time: number;
  schema_version: number;
} & BatchCancelled;
/**
 * The owner retried the batch: its failed and skipped jobs run again, each with its ``retry`` one higher.
 */
export type BatchRetriedEvent = {
  type: "batch.retried";
  id: string;
  time: number;
  schema_version: number;
} & BatchRetried;
/**
 * Execute was pressed: every node's state at that moment (cached ones are done).
 */
export type CanvasExecutionEvent = {
  type: "canvas.execution";
  id: string;
  time: number;
  schema_version: number;
} & CanvasExecution;
/**
 * Where a canvas node stands after Execute.
 */
export type NodeState =
  "cached" | "failed" | "idle" | "not_run" | "queued" | "running" | "succeeded";
/**
 * Nodes of a canvas changed state in one execution: on Execute every node, then each node whose state, progress or result moved. Sent on the canvas's subject, for everyone viewing it.
 */
export type CanvasNodesEvent = {
  type: "canvas.nodes";
  id: string;
  time: number;
  schema_version: number;
} & CanvasNodes;

/**
 * A batch was accepted; its jobs are queued.
 */
export interface BatchSubmitted {
  /**
   * A UUID in its canonical lower-case form.
   */
  batch_id: string;
  state: BatchState;
  total: number;
  counts: Partial<Record<JobState, number>>;
  canvas_id?: string;
}
/**
 * Jobs of a batch moved. Coalesced: at most a few a second per batch, with the newest
 * state of up to ``MAX_JOBS_PER_EVENT`` changed jobs and how many more changed.
 */
export interface BatchProgress {
  /**
   * A UUID in its canonical lower-case form.
   */
  batch_id: string;
  state: BatchState;
  total: number;
  counts: Partial<Record<JobState, number>>;
  canvas_id?: string;
  jobs: JobProgress[];
  more_jobs_changed?: number;
}
/**
 * One job's latest state, as a progress event carries it.
 */
export interface JobProgress {
  /**
   * A UUID in its canonical lower-case form.
   */
  job_id: string;
  key: string;
  function: string;
  state: JobState;
  progress: number;
  output?: {
    [k: string]: unknown | undefined;
  } | null;
  error?: string;
  retry?: number;
}
/**
 * Every job of the batch is final; ``state`` says how it went.
 */
export interface BatchCompleted {
  /**
   * A UUID in its canonical lower-case form.
   */
  batch_id: string;
  state: BatchState;
  total: number;
  counts: Partial<Record<JobState, number>>;
  canvas_id?: string;
}
/**
 * The owner cancelled the batch; running jobs stop at their next step.
 */
export interface BatchCancelled {
  /**
   * A UUID in its canonical lower-case form.
   */
  batch_id: string;
  state: BatchState;
  total: number;
  counts: Partial<Record<JobState, number>>;
  canvas_id?: string;
}
/**
 * The owner retried the batch: its failed and skipped jobs run again, each with its
 * ``retry`` one higher.
 */
export interface BatchRetried {
  /**
   * A UUID in its canonical lower-case form.
   */
  batch_id: string;
  state: BatchState;
  total: number;
  counts: Partial<Record<JobState, number>>;
  canvas_id?: string;
}
/**
 * Execute was pressed: every node's state at that moment (cached ones are done).
 */
export interface CanvasExecution {
  /**
   * A UUID in its canonical lower-case form.
   */
  canvas_id: string;
  version: number;
  batch_id?: string;
  nodes: NodeResult[];
}
/**
 * One canvas node's state after Execute, and what it made once it has.
 */
export interface NodeResult {
  node_id: string;
  key: string;
  state: NodeState;
  progress?: number;
  output?: {
    [k: string]: unknown | undefined;
  } | null;
  error?: string;
}
/**
 * Nodes of a canvas changed state in one execution: on Execute every node, then each
 * node whose state, progress or result moved. Sent on the canvas's subject, for everyone
 * viewing it.
 */
export interface CanvasNodes {
  /**
   * A UUID in its canonical lower-case form.
   */
  canvas_id: string;
  version: number;
  batch_id?: string;
  nodes: NodeResult[];
}

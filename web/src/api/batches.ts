// Batches of jobs (the function runner) and the queues they wait in: the caller's batches,
// each batch's jobs, cancel and retry, and the queue depth per function. Every path is
// spelled once, here.

import type { BatchState, JobState } from "./events";
import { request } from "./http";

export type { BatchState, JobState } from "./events";

export type JobCounts = Partial<Record<JobState, number>>;

export interface Batch {
  id: string;
  owner_id: string;
  /** The canvas whose Execute submitted it; "" when a program did. */
  canvas_id: string;
  state: BatchState;
  priority: string;
  total: number;
  /** Jobs per state; a state with no job may be missing. */
  counts: JobCounts;
  created_at?: string;
  updated_at?: string;
  finished_at?: string;
}

export interface BatchPage {
  batches: Batch[];
  next_page_token: string;
}

export interface Job {
  id: string;
  batch_id: string;
  /** Unique within its batch. */
  key: string;
  function: string;
  state: JobState;
  /** 0 to 100, as the worker last said. */
  progress: number;
  attempts: number;
  /** 0 on the first run; one more each time a retry of the batch put the job back. */
  retry: number;
  error: string;
  worker: string;
  depends_on: string[];
  output?: Record<string, unknown> | null;
  created_at?: string;
  started_at?: string;
  finished_at?: string;
}

export interface JobPage {
  jobs: Job[];
  next_page_token: string;
}

/** One function's jobs that are not finished, by where they wait. */
export interface FunctionQueue {
  function: string;
  /** Pending: waiting for the jobs they depend on. */
  waiting_on_dependencies: number;
  /** Ready, not yet handed to the workers. */
  queued: number;
  /** Handed to the workers (on the work subject), not yet picked up. */
  on_subject: number;
  running: number;
}

export interface WorkerLoad {
  function: string;
  worker: string;
  running: number;
}

/** Every user's unfinished jobs: the depth per function and the running jobs per worker. */
export interface Queues {
  functions: FunctionQueue[];
  workers: WorkerLoad[];
}

const BATCHES = "/v1/batches";
const QUEUES = "/v1/queues";

function batchPath(id: string): string {
  return `${BATCHES}/${encodeURIComponent(id)}`;
}

function page(cursor: string, limit: number): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor !== "") query.set("cursor", cursor);
  return `?${query.toString()}`;
}

/** The caller's batches, newest first. */
export function listBatches(cursor = "", limit = 20): Promise<BatchPage> {
  return request<BatchPage>("GET", `${BATCHES}${page(cursor, limit)}`);
}

export function getBatch(id: string): Promise<Batch> {
  return request<Batch>("GET", batchPath(id));
}

/** A batch's jobs in submission order. */
export function listJobs(batchId: string, cursor = "", limit = 50): Promise<JobPage> {
  return request<JobPage>("GET", `${batchPath(batchId)}/jobs${page(cursor, limit)}`);
}

/** Queued jobs stop at once, running ones at their next step: the batch as it is after. */
export function cancelBatch(id: string): Promise<Batch> {
  return request<Batch>("POST", `${batchPath(id)}/cancel`);
}

/** Failed and skipped jobs run again: the batch as it is after. */
export function retryBatch(id: string): Promise<Batch> {
  return request<Batch>("POST", `${batchPath(id)}/retry`);
}

export function getQueues(): Promise<Queues> {
  return request<Queues>("GET", QUEUES);
}

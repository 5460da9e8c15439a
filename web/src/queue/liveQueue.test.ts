import { describe, expect, it } from "vitest";

import type { Batch, BatchPage, Job, JobPage } from "../api/batches";
import type { JobProgress, UserEvent } from "../api/events";
import {
  applyBatchAnswer,
  applyBatchEvent,
  applyJobEvent,
  finishedJobs,
  jobsNeedReading,
  mergeBatches,
  mergeJobs,
  pruneBatches,
  type LiveBatch,
  type LiveJob,
  type Read,
} from "./liveQueue";

const NONE: ReadonlyMap<string, LiveBatch> = new Map();
const NO_JOBS: ReadonlyMap<string, LiveJob> = new Map();

function batch(id: string, fields: Partial<Batch> = {}): Batch {
  return {
    id,
    owner_id: "user-ada",
    canvas_id: "",
    state: "running",
    priority: "normal",
    total: 2,
    counts: { running: 1, queued: 1 },
    created_at: "2025-03-01T09:00:00Z",
    ...fields,
  };
}

function page(readAt: number, ...batches: Batch[]): Read<BatchPage> {
  return { batches, next_page_token: "", readAt };
}

type BatchEventType =
  | "batch.submitted"
  | "batch.progress"
  | "batch.completed"
  | "batch.cancelled"
  | "batch.retried";

function told(
  type: BatchEventType,
  batchId: string,
  fields: Partial<{
    state: Batch["state"];
    counts: Batch["counts"];
    jobs: JobProgress[];
    more_jobs_changed: number;
    time: number;
  }> = {},
): UserEvent {
  const summary = {
    id: `e-${type}`,
    time: fields.time ?? 1_740_819_600,
    schema_version: 2,
    batch_id: batchId,
    state: fields.state ?? "running",
    total: 2,
    counts: fields.counts ?? { running: 2 },
  };
  if (type === "batch.progress") {
    return {
      ...summary,
      type,
      jobs: fields.jobs ?? [],
      ...(fields.more_jobs_changed === undefined
        ? {}
        : { more_jobs_changed: fields.more_jobs_changed }),
    };
  }
  return { ...summary, type };
}

describe("batches: what was read, brought up to date by events", () => {
  it("lays an event over a batch whose page was read before it arrived", () => {
    const live = applyBatchEvent(NONE, told("batch.completed", "b1", { state: "succeeded" }), 5);
    expect(mergeBatches([page(4, batch("b1"))], live)[0]?.state).toBe("succeeded");
  });

  it("keeps what a page read after the event holds: the server wrote before it told", () => {
    const live = applyBatchEvent(NONE, told("batch.progress", "b1", { state: "running" }), 5);
    const read = batch("b1", { state: "succeeded", counts: { succeeded: 2 } });
    expect(mergeBatches([page(6, read)], live)).toEqual([read]);
  });

  it("judges each page by its own read", () => {
    let live = applyBatchEvent(NONE, told("batch.cancelled", "b1", { state: "cancelled" }), 5);
    live = applyBatchEvent(live, told("batch.cancelled", "b2", { state: "cancelled" }), 5);
    const merged = mergeBatches([page(6, batch("b1")), page(4, batch("b2"))], live);
    expect(merged.map((b) => [b.id, b.state])).toEqual([
      ["b1", "running"],
      ["b2", "cancelled"],
    ]);
  });

  it("puts a batch submitted since the first read on top, newest first, and once only", () => {
    let live = applyBatchEvent(NONE, told("batch.submitted", "new1", { time: 100 }), 5);
    live = applyBatchEvent(live, told("batch.submitted", "new2", { time: 200 }), 6);
    live = applyBatchEvent(live, told("batch.progress", "new1", { time: 300 }), 7);
    const merged = mergeBatches([page(4, batch("old"))], live);
    expect(merged.map((b) => b.id)).toEqual(["new2", "new1", "old"]);
    // Known from its events only: its first event's time is when it was made.
    expect(merged[1]).toMatchObject({
      state: "running",
      counts: { running: 2 },
      created_at: new Date(100_000).toISOString(),
    });
    // A read since holds it: it shows where the read puts it, once.
    const reread = mergeBatches([page(8, batch("new2"), batch("new1"), batch("old"))], live);
    expect(reread.map((b) => b.id)).toEqual(["new2", "new1", "old"]);
  });

  it("does not add a batch heard of before the read, nor an unknown one that only moved", () => {
    let live = applyBatchEvent(NONE, told("batch.submitted", "gone", { time: 100 }), 3);
    live = applyBatchEvent(live, told("batch.progress", "older", { time: 100 }), 5);
    expect(mergeBatches([page(4, batch("b1"))], live).map((b) => b.id)).toEqual(["b1"]);
  });

  it("ignores events that are not about batches", () => {
    const execution: UserEvent = {
      type: "canvas.execution",
      id: "e",
      time: 0,
      schema_version: 1,
      canvas_id: "c1",
      version: 1,
      nodes: [],
    };
    expect(applyBatchEvent(NONE, execution, 5)).toBe(NONE);
  });

  it("lays a command's answer over the list like an event", () => {
    const answer = batch("b1", { state: "failed", counts: { failed: 1, skipped: 1 } });
    const live = applyBatchAnswer(NONE, answer, 9);
    expect(mergeBatches([page(4, batch("b1"))], live)[0]).toMatchObject({
      state: "failed",
      counts: { failed: 1, skipped: 1 },
    });
  });

  it("keeps the canvas a batch was read with when its events name none", () => {
    const live = applyBatchEvent(NONE, told("batch.progress", "b1"), 5);
    const read = batch("b1", { canvas_id: "c1" });
    expect(mergeBatches([page(4, read)], live)[0]?.canvas_id).toBe("c1");
  });

  it("forgets what every page read since holds", () => {
    let live = applyBatchEvent(NONE, told("batch.progress", "b1"), 3);
    live = applyBatchEvent(live, told("batch.progress", "b2"), 7);
    const pruned = pruneBatches(live, [page(5, batch("b1")), page(6, batch("b2"))]);
    expect([...pruned.keys()]).toEqual(["b2"]);
    expect(pruneBatches(pruned, [page(5)])).toBe(pruned);
  });

  it("counts the finished jobs whichever way they finished", () => {
    expect(finishedJobs({ succeeded: 2, failed: 1, skipped: 1, cancelled: 3, running: 4 })).toBe(
      7,
    );
    expect(finishedJobs({})).toBe(0);
  });
});

function job(id: string, fields: Partial<Job> = {}): Job {
  return {
    id,
    batch_id: "b1",
    key: id,
    function: "test.sleep",
    state: "running",
    progress: 20,
    attempts: 1,
    retry: 0,
    error: "",
    worker: "w1",
    depends_on: [],
    ...fields,
  };
}

function jobPage(readAt: number, ...jobs: Job[]): Read<JobPage> {
  return { jobs, next_page_token: "", readAt };
}

function progressed(id: string, fields: Partial<JobProgress> = {}): JobProgress {
  return { job_id: id, key: id, function: "test.sleep", state: "running", progress: 50, ...fields };
}

describe("jobs: what was read, brought up to date by progress events", () => {
  it("moves the jobs a progress event of their batch names, and no other", () => {
    let live = applyJobEvent(
      NO_JOBS,
      "b1",
      told("batch.progress", "b1", { jobs: [progressed("j1", { progress: 70 })] }),
      5,
    );
    live = applyJobEvent(
      live,
      "b1",
      told("batch.progress", "b2", { jobs: [progressed("j2", { progress: 90 })] }),
      6,
    );
    const merged = mergeJobs([jobPage(4, job("j1"), job("j2"))], live);
    expect(merged.map((j) => [j.id, j.progress])).toEqual([
      ["j1", 70],
      ["j2", 20],
    ]);
  });

  it("takes a job's error and output from its event", () => {
    const failed = progressed("j1", { state: "failed", error: "boom", output: null, retry: 0 });
    const live = applyJobEvent(NO_JOBS, "b1", told("batch.progress", "b1", { jobs: [failed] }), 5);
    expect(mergeJobs([jobPage(4, job("j1"))], live)[0]).toMatchObject({
      state: "failed",
      error: "boom",
      output: null,
    });
  });

  it("never sets a finished job of the same run back to unfinished", () => {
    const late = progressed("j1", { state: "running", progress: 90 });
    const live = applyJobEvent(NO_JOBS, "b1", told("batch.progress", "b1", { jobs: [late] }), 5);
    const done = job("j1", { state: "succeeded", progress: 100 });
    expect(mergeJobs([jobPage(4, done)], live)[0]).toEqual(done);
  });

  it("follows a retried job into its new run, and ignores news of an older run", () => {
    const again = progressed("j1", { state: "queued", progress: 0, retry: 1 });
    let live = applyJobEvent(NO_JOBS, "b1", told("batch.progress", "b1", { jobs: [again] }), 5);
    const failed = job("j1", { state: "failed", error: "boom", retry: 0 });
    expect(mergeJobs([jobPage(4, failed)], live)[0]).toMatchObject({
      state: "queued",
      error: "",
      retry: 1,
    });

    const old = progressed("j1", { state: "failed", retry: 0 });
    live = applyJobEvent(NO_JOBS, "b1", told("batch.progress", "b1", { jobs: [old] }), 5);
    const rerun = job("j1", { state: "running", retry: 1 });
    expect(mergeJobs([jobPage(4, rerun)], live)[0]).toEqual(rerun);
  });

  it("keeps what a read after the event holds", () => {
    const live = applyJobEvent(
      NO_JOBS,
      "b1",
      told("batch.progress", "b1", { jobs: [progressed("j1", { progress: 30 })] }),
      5,
    );
    expect(mergeJobs([jobPage(6, job("j1", { progress: 60 }))], live)[0]?.progress).toBe(60);
  });

  it("reads the jobs again after news that moved jobs it does not name", () => {
    expect(jobsNeedReading(told("batch.cancelled", "b1"), "b1")).toBe(true);
    expect(jobsNeedReading(told("batch.retried", "b1"), "b1")).toBe(true);
    expect(jobsNeedReading(told("batch.completed", "b1"), "b1")).toBe(true);
    expect(jobsNeedReading(told("batch.progress", "b1", { more_jobs_changed: 3 }), "b1")).toBe(
      true,
    );
    expect(jobsNeedReading(told("batch.progress", "b1"), "b1")).toBe(false);
    expect(jobsNeedReading(told("batch.cancelled", "b2"), "b1")).toBe(false);
  });
});

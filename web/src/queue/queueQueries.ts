// The queue view's reads: the caller's batches and each batch's jobs a page at a time (each
// page stamped with the moment it was asked for, see liveQueue.ts), and the queue depth.

import { getQueues, listBatches, listJobs, type BatchPage, type JobPage } from "../api/batches";
import { cursorPages } from "../app/queries";
import { tick, type Read } from "./liveQueue";

export const BATCHES_KEY = ["batches"] as const;
export const QUEUES_KEY = ["queues"] as const;

export function jobsKey(batchId: string) {
  return ["batch-jobs", batchId] as const;
}

/** While the live connection is down, lists are read again this often instead. */
export const OFFLINE_REFRESH_MS = 10_000;
/** The queue depth counts everyone's jobs, which no event of ours tells: read this often. */
export const QUEUES_REFRESH_MS = 5_000;

async function stamped<Page>(read: () => Promise<Page>): Promise<Read<Page>> {
  const readAt = tick();
  return { ...(await read()), readAt };
}

export const batchListQuery = {
  ...cursorPages(BATCHES_KEY, (cursor) =>
    stamped<BatchPage>(() => listBatches(cursor)),
  ),
  // Events keep the list current while it is shown; coming back to it reads it afresh.
  staleTime: 0,
};

export function jobListQuery(batchId: string) {
  return {
    ...cursorPages(jobsKey(batchId), (cursor) =>
      stamped<JobPage>(() => listJobs(batchId, cursor)),
    ),
    staleTime: 0,
  };
}

export const queuesQuery = { queryKey: QUEUES_KEY, queryFn: getQueues };

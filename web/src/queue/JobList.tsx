import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import type { Job } from "../api/batches";
import { PagedList } from "../app/PagedList";
import { useUserEvents } from "../live";
import { applyJobEvent, jobsNeedReading, mergeJobs, tick, type LiveJob } from "./liveQueue";
import { jobListQuery, jobsKey, OFFLINE_REFRESH_MS } from "./queueQueries";
import { ScrollingTable } from "./ScrollingTable";
import { StateLabel } from "./StateLabel";
import { useLiveRefresh } from "./useLiveRefresh";

interface JobListProps {
  /** The element's id, for the button that shows it. */
  id: string;
  batchId: string;
  /** The batch's name, for the labels. */
  batchName: string;
}

/** A batch's jobs, a page at a time, each with its progress as it comes live. */
export function JobList({ id, batchId, batchName }: JobListProps) {
  const queries = useQueryClient();
  const [liveJobs, setLiveJobs] = useState<ReadonlyMap<string, LiveJob>>(() => new Map());
  const readAgain = () => {
    void queries.invalidateQueries({ queryKey: jobsKey(batchId) });
  };
  const live = useLiveRefresh(readAgain);
  const list = useInfiniteQuery({
    ...jobListQuery(batchId),
    refetchInterval: live ? false : OFFLINE_REFRESH_MS,
  });
  useUserEvents((event) => {
    const at = tick();
    setLiveJobs((now) => applyJobEvent(now, batchId, event, at));
    if (jobsNeedReading(event, batchId)) readAgain();
  }, readAgain);
  const jobs = mergeJobs(list.data?.pages ?? [], liveJobs);

  return (
    <div id={id} className="batch-jobs">
      <PagedList
        list={list}
        count={jobs.length}
        loading="Loading jobs…"
        empty={<p className="status">This batch has no jobs.</p>}
      >
        <ScrollingTable label={`Jobs of ${batchName}`}>
          <table className="job-table">
            <caption>Jobs of {batchName}</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Function</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col" className="number">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <JobRow key={job.id} job={job} />
              ))}
            </tbody>
          </table>
        </ScrollingTable>
      </PagedList>
    </div>
  );
}

function JobRow({ job }: { job: Job }) {
  const name = job.key === "" ? job.id.slice(0, 8) : job.key;
  const progress = job.state === "succeeded" ? 100 : job.progress;
  return (
    <tr data-job-key={job.key} data-state={job.state}>
      <th scope="row" className="job-name">
        {name}
      </th>
      <td>
        <code>{job.function}</code>
      </td>
      <td>
        <StateLabel state={job.state} />
        {job.retry > 0 && <span className="meta"> · retry {job.retry}</span>}
        {job.error !== "" && <p className="job-error">{job.error}</p>}
      </td>
      <td>
        <span className="job-progress">
          <progress value={progress} max={100} aria-label={`Progress of job ${name}`} />
          <span className="meta">{progress} %</span>
        </span>
      </td>
      <td className="number">{job.attempts}</td>
    </tr>
  );
}

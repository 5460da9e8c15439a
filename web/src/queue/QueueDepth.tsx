import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef } from "react";

import { ErrorAlert } from "../app/ErrorAlert";
import { useUserEvents } from "../live";
import { batchIdOf } from "./liveQueue";
import { ScrollingTable } from "./ScrollingTable";
import { QUEUES_KEY, QUEUES_REFRESH_MS, queuesQuery } from "./queueQueries";

/** Batch events say the queues moved: read them again, at most this often. */
const EVENT_REFRESH_MS = 1_000;

const TIME = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

/** Every user's unfinished jobs per function, and the running jobs per worker: read every few
 * seconds, and soon after any of the person's own batches moves. */
export function QueueDepth() {
  const headingId = useId();
  const queues = useQuery({ ...queuesQuery, refetchInterval: QUEUES_REFRESH_MS });
  const readSoon = useThrottledRead();
  useUserEvents((event) => {
    if (batchIdOf(event) !== null) readSoon();
  });
  const functions = queues.data?.functions ?? [];
  const workers = queues.data?.workers ?? [];

  return (
    <section className="queue-depth" aria-labelledby={headingId}>
      <h2 id={headingId}>Queue depth</h2>
      <p className="meta">
        Everyone’s unfinished jobs, per function
        {queues.isSuccess && ` · as of ${TIME.format(queues.dataUpdatedAt)}`}
      </p>
      {queues.isPending && <p className="status">Reading the queues…</p>}
      <ErrorAlert error={queues.error} prefix="The queues could not be read: " />
      {queues.isSuccess && functions.length === 0 && (
        <p className="status">No job is waiting or running.</p>
      )}
      {functions.length > 0 && (
        <ScrollingTable label="Jobs per function">
          <table className="depth-table">
            <caption>Jobs per function</caption>
            <thead>
              <tr>
                <th scope="col">Function</th>
                <th scope="col" className="number">Waiting on others</th>
                <th scope="col" className="number">Queued</th>
                <th scope="col" className="number">With the workers</th>
                <th scope="col" className="number">Running</th>
              </tr>
            </thead>
            <tbody>
              {functions.map((queue) => (
                <tr key={queue.function}>
                  <th scope="row">
                    <code>{queue.function}</code>
                  </th>
                  <td className="number">{queue.waiting_on_dependencies}</td>
                  <td className="number">{queue.queued}</td>
                  <td className="number">{queue.on_subject}</td>
                  <td className="number">{queue.running}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollingTable>
      )}
      {workers.length > 0 && (
        <ScrollingTable label="Running jobs per worker">
          <table className="depth-table">
            <caption>Running jobs per worker</caption>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Function</th>
                <th scope="col" className="number">Running</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((load) => (
                <tr key={`${load.function} ${load.worker}`}>
                  <th scope="row">{load.worker}</th>
                  <td>
                    <code>{load.function}</code>
                  </td>
                  <td className="number">{load.running}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollingTable>
      )}
    </section>
  );
}

/** A read of the queues that waits until EVENT_REFRESH_MS after the last one, so a burst of
 * events costs one read. */
function useThrottledRead(): () => void {
  const queries = useQueryClient();
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(
    () => () => {
      clearTimeout(timer.current);
    },
    [],
  );
  return () => {
    if (timer.current !== undefined) return;
    const wait = Math.max(0, last.current + EVENT_REFRESH_MS - Date.now());
    timer.current = setTimeout(() => {
      timer.current = undefined;
      last.current = Date.now();
      void queries.invalidateQueries({ queryKey: QUEUES_KEY });
    }, wait);
  };
}

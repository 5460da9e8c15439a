import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type ReactNode } from "react";

import type { Batch } from "../api/batches";
import { usePageTitle } from "../app/pageTitle";
import { PagedList } from "../app/PagedList";
import { useUserEvents } from "../live";
import { BatchCard } from "./BatchCard";
import type { Said } from "./commands";
import {
  applyBatchAnswer,
  applyBatchEvent,
  isActive,
  mergeBatches,
  pruneBatches,
  tick,
  type LiveBatch,
} from "./liveQueue";
import { QueueDepth } from "./QueueDepth";
import { BATCHES_KEY, batchListQuery, OFFLINE_REFRESH_MS } from "./queueQueries";
import { useLiveRefresh } from "./useLiveRefresh";
import "./queue.css";

/** `/queue`: the person's batches as they run (and those that ended, apart), each with its
 * jobs, Cancel and Retry; and the depth of the queues. Live events keep it current; it is read
 * again when the connection comes back, and every few seconds while it is down. */
export function QueuePage() {
  usePageTitle("Queue");
  const queries = useQueryClient();
  const [liveBatches, setLiveBatches] = useState<ReadonlyMap<string, LiveBatch>>(
    () => new Map(),
  );
  const readAgain = () => {
    void queries.invalidateQueries({ queryKey: BATCHES_KEY });
  };
  const live = useLiveRefresh(readAgain);
  const list = useInfiniteQuery({
    ...batchListQuery,
    refetchInterval: live ? false : OFFLINE_REFRESH_MS,
  });
  const pages = list.data?.pages ?? [];
  useUserEvents((event) => {
    const at = tick();
    // What every page read since holds already need not be kept.
    setLiveBatches((now) => applyBatchEvent(pruneBatches(now, pages), event, at));
  }, readAgain);
  const answered = (batch: Batch) => {
    const at = tick();
    setLiveBatches((now) => applyBatchAnswer(now, batch, at));
  };

  // Kept here, not in each batch's card: a batch moves from one list to the other as it ends.
  const [open, setOpen] = useState<ReadonlySet<string>>(() => new Set());
  const [said, setSaid] = useState<ReadonlyMap<string, Said>>(() => new Map());
  const cardOf = (batch: Batch) => (
    <BatchCard
      key={batch.id}
      batch={batch}
      onAnswer={answered}
      open={open.has(batch.id)}
      onToggle={() => {
        setOpen((now) => toggled(now, batch.id));
      }}
      said={said.get(batch.id) ?? null}
      onSaid={(next) => {
        setSaid((now) => withSaid(now, batch.id, next));
      }}
    />
  );

  const batches = mergeBatches(pages, liveBatches);
  const running = batches.filter((batch) => isActive(batch.state));
  const ended = batches.filter((batch) => !isActive(batch.state));

  return (
    <section className="queue-page">
      <div className="page-head">
        <h1>Queue</h1>
        {!live && (
          <p className="meta live-note">Not live: the lists are read again every 10 seconds.</p>
        )}
      </div>
      <QueueDepth />
      <PagedList
        list={list}
        count={batches.length}
        loading="Loading batches…"
        empty={<p className="status empty">No batches yet. Execute a canvas to start one.</p>}
      >
        <BatchSection title="Running" empty="Nothing of yours is running.">
          {running.map(cardOf)}
        </BatchSection>
        <BatchSection title="Recently ended" empty="No batch has ended yet.">
          {ended.map(cardOf)}
        </BatchSection>
      </PagedList>
    </section>
  );
}

function BatchSection({
  title,
  empty,
  children,
}: {
  title: string;
  empty: string;
  children: ReactNode[];
}) {
  const headingId = useId();
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {children.length === 0 ? (
        <p className="status">{empty}</p>
      ) : (
        <ul className="batch-list" aria-labelledby={headingId}>
          {children}
        </ul>
      )}
    </section>
  );
}

function toggled(set: ReadonlySet<string>, id: string): ReadonlySet<string> {
  const next = new Set(set);
  if (!next.delete(id)) next.add(id);
  return next;
}

function withSaid(
  map: ReadonlyMap<string, Said>,
  id: string,
  said: Said | null,
): ReadonlyMap<string, Said> {
  const next = new Map(map);
  if (said === null) next.delete(id);
  else next.set(id, said);
  return next;
}

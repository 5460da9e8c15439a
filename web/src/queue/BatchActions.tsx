import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { cancelBatch, retryBatch, type Batch, type JobCounts } from "../api/batches";
import { ConfirmDialog } from "../app/ConfirmDialog";
import { batchName, jobCount } from "./batchWords";
import { cancelOutcome, commandError, retryOutcome, type Command, type Said } from "./commands";
import { isActive } from "./liveQueue";
import { BATCHES_KEY, jobsKey } from "./queueQueries";

interface BatchActionsProps {
  batch: Batch;
  /** The batch as a command's answer tells it. */
  onAnswer: (batch: Batch) => void;
  /** Tells what a command did, or why it did not (null: nothing to tell any more). */
  onSaid: (said: Said | null) => void;
}

/** Cancel (after a confirmation) while the batch runs, Retry once it failed. */
export function BatchActions({ batch, onAnswer, onSaid: setSaid }: BatchActionsProps) {
  const queries = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const name = batchName(batch.id);

  const settled = (command: Command) => ({
    onSuccess: (answer: Batch, before: JobCounts) => {
      onAnswer(answer);
      const text =
        command === "cancel" ? cancelOutcome(before, answer) : retryOutcome(before, answer);
      setSaid({ ok: true, text });
    },
    onError: (error: Error) => {
      setSaid({ ok: false, text: commandError(command, error) });
      // Whatever the failure, show the batch as the server has it now.
      void queries.invalidateQueries({ queryKey: BATCHES_KEY });
    },
    onSettled: () => {
      setConfirming(false);
      // Cancel and retry move jobs that no event names one by one.
      void queries.invalidateQueries({ queryKey: jobsKey(batch.id) });
    },
  });
  // Each is given the counts before it, to tell what it changed.
  const cancel = useMutation<Batch, Error, JobCounts>({
    mutationFn: () => cancelBatch(batch.id),
    ...settled("cancel"),
  });
  const retry = useMutation<Batch, Error, JobCounts>({
    mutationFn: () => retryBatch(batch.id),
    ...settled("retry"),
  });
  const busy = cancel.isPending || retry.isPending;
  const waiting = (batch.counts.queued ?? 0) + (batch.counts.pending ?? 0);
  const running = batch.counts.running ?? 0;

  return (
    <>
      {isActive(batch.state) && (
        <button
          type="button"
          className="danger-quiet"
          aria-label={`Cancel ${name}`}
          disabled={busy}
          onClick={() => {
            setSaid(null);
            setConfirming(true);
          }}
        >
          {cancel.isPending ? "Cancelling…" : "Cancel"}
        </button>
      )}
      {batch.state === "failed" && (
        <button
          type="button"
          aria-label={`Retry ${name}`}
          disabled={busy}
          onClick={() => {
            setSaid(null);
            retry.mutate(batch.counts);
          }}
        >
          {retry.isPending ? "Retrying…" : "Retry"}
        </button>
      )}
      {batch.state === "cancelled" && (
        <span className="meta">Cancelled jobs do not run again.</span>
      )}
      {confirming && (
        <ConfirmDialog
          title={`Cancel ${name}?`}
          confirmLabel="Cancel batch"
          dismissLabel="Keep it running"
          onConfirm={() => {
            cancel.mutate(batch.counts);
          }}
          onCancel={() => {
            setConfirming(false);
          }}
          pending={cancel.isPending}
          error={null}
        >
          <p>
            {jobCount(waiting)} waiting will not run, and {jobCount(running)} running{" "}
            {running === 1 ? "stops" : "stop"} at the next step. Cancelled jobs cannot be run
            again.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

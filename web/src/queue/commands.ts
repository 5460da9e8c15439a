// What Cancel and Retry did, and why one failed, as sentences a person can act on.

import type { Batch, JobCounts } from "../api/batches";
import { ApiError, NetworkError } from "../api/http";
import { describeError } from "../app/errors";
import { jobCount } from "./batchWords";
import { isActive } from "./liveQueue";

export type Command = "cancel" | "retry";

/** What a command did (ok) or why it did not, as shown beside the batch. */
export interface Said {
  readonly ok: boolean;
  readonly text: string;
}

const DONE: Record<Command, string> = { cancel: "cancelled", retry: "retried" };

/** What a cancel did, from the counts before it and the server's answer. */
export function cancelOutcome(before: JobCounts, after: Batch): string {
  const stopped = Math.max(0, (after.counts.cancelled ?? 0) - (before.cancelled ?? 0));
  const running = after.counts.running ?? 0;
  if (isActive(after.state) && running > 0) {
    const waiting = stopped > 0 ? `${jobCount(stopped)} cancelled; ` : "";
    const stops = running === 1 ? "stops at its" : "stop at their";
    return `${waiting}${jobCount(running)} still running ${stops} next step.`;
  }
  if (after.state === "cancelled") {
    return stopped > 0 ? `Cancelled: ${jobCount(stopped)} stopped.` : "Cancelled.";
  }
  return `Nothing to cancel: the batch had already ${after.state}.`;
}

/** What a retry did: how many failed or skipped jobs were put back. */
export function retryOutcome(before: JobCounts, after: Batch): string {
  const broken = (counts: JobCounts) => (counts.failed ?? 0) + (counts.skipped ?? 0);
  const putBack = Math.max(0, broken(before) - broken(after.counts));
  if (putBack === 0) return "Nothing ran again: no job had failed or been skipped.";
  return `${jobCount(putBack)} run${putBack === 1 ? "s" : ""} again.`;
}

/** Why `command` failed, and what that means for the batch. */
export function commandError(command: Command, error: unknown): string {
  const done = DONE[command];
  if (error instanceof NetworkError) {
    return (
      `The studio cannot reach the server, so the batch may or may not have been ${done}. ` +
      "Its state is read again when the connection is back."
    );
  }
  if (!(error instanceof ApiError)) return describeError(error);
  // The server's own words, inside a sentence of ours.
  const why = (error.problem.detail ?? error.problem.title).trim().replace(/\.$/, "");
  switch (error.status) {
    case 404:
      return `Not ${done}: this batch no longer exists, or it is not yours.`;
    case 409:
      return `Not ${done}: the batch changed meanwhile (${why}). It shows as it is now.`;
    case 429:
      return `Not ${done}: too many requests just now. Wait a moment, then try again.`;
    default:
      if (error.status >= 500) {
        return `Not ${done}: the batch service did not answer (${why}). Try again.`;
      }
      return `Not ${done}: ${describeError(error)}`;
  }
}

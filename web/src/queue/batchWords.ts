// How batches, jobs and their states are named on screen.

import type { BatchState, JobCounts, JobState } from "../api/batches";

interface Shown {
  readonly label: string;
  readonly mark: string;
}

// Each state has its word and a mark beside its colour, so no state is told by colour alone.
const SHOWN: ReadonlyMap<string, Shown> = new Map<BatchState | JobState, Shown>([
  ["pending", { label: "Waiting", mark: "◌" }],
  ["queued", { label: "Queued", mark: "○" }],
  ["running", { label: "Running", mark: "▶" }],
  ["succeeded", { label: "Succeeded", mark: "✓" }],
  ["failed", { label: "Failed", mark: "✕" }],
  ["cancelled", { label: "Cancelled", mark: "⊘" }],
  ["skipped", { label: "Skipped", mark: "↷" }],
]);

/** A state as a person reads it; one a newer server knows and this studio does not is shown
 * as the server names it. */
export function stateShown(state: string): Shown {
  return SHOWN.get(state) ?? { label: state, mark: "•" };
}

// The order a batch's counts are told in: what is moving first.
const COUNTED: readonly JobState[] = [
  "running",
  "queued",
  "pending",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
];

/** "2 running · 3 queued · 5 succeeded". */
export function countsSummary(counts: JobCounts): string {
  return COUNTED.filter((state) => (counts[state] ?? 0) > 0)
    .map((state) => `${String(counts[state] ?? 0)} ${stateShown(state).label.toLowerCase()}`)
    .join(" · ");
}

export function jobCount(count: number): string {
  return `${String(count)} ${count === 1 ? "job" : "jobs"}`;
}

/** A batch's short name: batches have no name of their own, so their id's first characters. */
export function batchName(batchId: string): string {
  return `Batch ${batchId.slice(0, 8)}`;
}

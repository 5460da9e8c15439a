import { describe, expect, it } from "vitest";

import type { Batch } from "../api/batches";
import { ApiError, NetworkError } from "../api/http";
import { countsSummary } from "./batchWords";
import { cancelOutcome, commandError, retryOutcome } from "./commands";

function answer(state: Batch["state"], counts: Batch["counts"]): Batch {
  return { id: "b1", owner_id: "u", canvas_id: "", state, priority: "normal", total: 4, counts };
}

function refused(status: number, detail: string): ApiError {
  return new ApiError({ type: "about:blank", title: "Refused", status, detail });
}

describe("what a command did", () => {
  it("tells a cancel that waits for running jobs to stop", () => {
    const after = answer("running", { cancelled: 3, running: 1 });
    expect(cancelOutcome({ queued: 3, running: 1 }, after)).toBe(
      "3 jobs cancelled; 1 job still running stops at its next step.",
    );
    expect(cancelOutcome({ running: 2 }, answer("running", { running: 2 }))).toBe(
      "2 jobs still running stop at their next step.",
    );
  });

  it("tells a cancel that stopped everything, and one that came too late", () => {
    expect(cancelOutcome({ queued: 1 }, answer("cancelled", { cancelled: 1 }))).toBe(
      "Cancelled: 1 job stopped.",
    );
    expect(cancelOutcome({ running: 1 }, answer("succeeded", { succeeded: 4 }))).toBe(
      "Nothing to cancel: the batch had already succeeded.",
    );
  });

  it("tells how many jobs a retry put back, or that there were none", () => {
    const before = { failed: 1, skipped: 2, succeeded: 1 };
    expect(retryOutcome(before, answer("queued", { queued: 1, pending: 2, succeeded: 1 }))).toBe(
      "3 jobs run again.",
    );
    expect(retryOutcome({ failed: 1 }, answer("queued", { queued: 1 }))).toBe("1 job runs again.");
    expect(retryOutcome({ succeeded: 4 }, answer("succeeded", { succeeded: 4 }))).toBe(
      "Nothing ran again: no job had failed or been skipped.",
    );
  });

  it("sums a batch's counts up, what moves first", () => {
    expect(countsSummary({ succeeded: 5, queued: 3, running: 2, failed: 0 })).toBe(
      "2 running · 3 queued · 5 succeeded",
    );
  });
});

describe("why a command failed", () => {
  it("explains each refusal by what it means for the batch", () => {
    expect(commandError("cancel", refused(404, "no batch b1"))).toBe(
      "Not cancelled: this batch no longer exists, or it is not yours.",
    );
    expect(commandError("retry", refused(409, "the batch is running"))).toBe(
      "Not retried: the batch changed meanwhile (the batch is running). It shows as it is now.",
    );
    expect(commandError("retry", refused(429, "slow down"))).toBe(
      "Not retried: too many requests just now. Wait a moment, then try again.",
    );
    expect(commandError("cancel", refused(503, "batch is unavailable"))).toBe(
      "Not cancelled: the batch service did not answer (batch is unavailable). Try again.",
    );
    expect(commandError("cancel", refused(400, "this request takes no fields"))).toBe(
      "Not cancelled: This request takes no fields.",
    );
  });

  it("says a command lost on the way may or may not have happened", () => {
    expect(commandError("cancel", new NetworkError(new TypeError("offline")))).toMatch(
      /may or may not have been cancelled/,
    );
  });
});

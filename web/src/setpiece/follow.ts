// Following a render to its end: read it again whenever the live connection says its batch
// moved, and on a backoff timer as well (the connection may be down, or an event missed).

import { isFinal, type Render } from "./renderApi";

export const FIRST_POLL_MS = 500;
export const MAX_POLL_MS = 4000;

/** Wakes whoever waits on a batch when an event of that batch arrives. */
export class BatchPings {
  private readonly waiting = new Map<string, Set<() => void>>();

  ping(batchId: string): void {
    for (const wake of this.waiting.get(batchId) ?? []) wake();
  }

  /** Resolves on the next ping of `batchId` or after `ms`; rejects as `signal` aborts. */
  wait(batchId: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const wakers = this.waiting.get(batchId) ?? new Set();
      this.waiting.set(batchId, wakers);
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", abort);
        wakers.delete(wake);
        if (wakers.size === 0) this.waiting.delete(batchId);
      };
      const wake = () => {
        finish();
        resolve();
      };
      const abort = () => {
        finish();
        reject(signal.reason as Error);
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
      signal.addEventListener("abort", abort, { once: true });
    });
  }
}

export interface FollowDeps {
  get: (id: string, signal: AbortSignal) => Promise<Render>;
  wait: (batchId: string, ms: number, signal: AbortSignal) => Promise<void>;
}

/** `render` read again until it is final (each new reading told to `onProgress`); the last
 * reading. The wait between readings grows from FIRST_POLL_MS to MAX_POLL_MS, cut short by
 * any event of its batch. */
export async function followRender(
  render: Render,
  deps: FollowDeps,
  onProgress: (render: Render) => void,
  signal: AbortSignal,
): Promise<Render> {
  let current = render;
  let delay = FIRST_POLL_MS;
  while (!isFinal(current)) {
    await deps.wait(current.batch_id, delay, signal);
    delay = Math.min(delay * 2, MAX_POLL_MS);
    current = await deps.get(current.id, signal);
    onProgress(current);
  }
  return current;
}

// The latest of a stream of requests, and only it: each new one waits for a quiet moment
// (debounce), the one before it is aborted, and an answer that is no longer the latest's is
// dropped. So at most one request is on its way, and an older answer never replaces a newer.

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A request: whatever it awaits it should stop when `signal` aborts (a superseded one). */
export type Task<T> = (signal: AbortSignal) => Promise<T>;

export interface Timers {
  set: (run: () => void, ms: number) => unknown;
  clear: (timer: unknown) => void;
}

const REAL_TIMERS: Timers = {
  set: (run, ms) => setTimeout(run, ms),
  clear: (timer) => {
    clearTimeout(timer as ReturnType<typeof setTimeout>);
  },
};

export class Latest {
  private generation = 0;
  private timer: unknown;
  private controller: AbortController | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly timers: Timers = REAL_TIMERS,
  ) {}

  /** Run `task` once `delayMs` pass without another `schedule`; `done` hears how it went,
   * unless a later `schedule` (or `cancel`) superseded it first. */
  schedule<T>(task: Task<T>, done: (outcome: Outcome<T>) => void, delayMs = this.delayMs): void {
    const mine = this.supersede();
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      const controller = new AbortController();
      this.controller = controller;
      const current = () => mine === this.generation && !controller.signal.aborted;
      let running: Promise<T>;
      try {
        running = task(controller.signal);
      } catch (error) {
        running = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      void running.then(
        (value) => {
          if (current()) done({ ok: true, value });
        },
        (error: unknown) => {
          if (current()) done({ ok: false, error });
        },
      ).finally(() => {
        if (this.controller === controller) this.controller = undefined;
      });
    }, delayMs);
  }

  /** Drop whatever is waiting or on its way (on unmount, or when there is nothing to ask). */
  cancel(): void {
    this.supersede();
  }

  /** Whether a request is waiting for its moment or on its way. */
  get pending(): boolean {
    return this.timer !== undefined || this.controller !== undefined;
  }

  private supersede(): number {
    this.generation += 1;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    this.controller = undefined;
    return this.generation;
  }
}

/** Resolves after `ms`, or rejects with the abort reason as soon as `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { Latest, pause, type Outcome } from "./latest";

/** A request that answers when the test says so, and remembers whether it was aborted. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const seen: { signal?: AbortSignal } = {};
  const task = (signal: AbortSignal) => {
    seen.signal = signal;
    return promise;
  };
  return { task, resolve, reject, seen };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Latest", () => {
  it("waits for a quiet moment, then asks once, for the newest", async () => {
    const latest = new Latest(250);
    const asked: string[] = [];
    const heard: Outcome<string>[] = [];
    for (const value of ["a", "ab", "abc"]) {
      latest.schedule(
        (signal) => {
          asked.push(value);
          expect(signal.aborted).toBe(false);
          return Promise.resolve(value);
        },
        (outcome) => heard.push(outcome),
      );
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(asked).toEqual([]);
    expect(latest.pending).toBe(true);
    await vi.advanceTimersByTimeAsync(150);
    expect(asked).toEqual(["abc"]);
    expect(heard).toEqual([{ ok: true, value: "abc" }]);
    expect(latest.pending).toBe(false);
  });

  it("aborts the request on its way when a newer one comes, and drops its answer", async () => {
    const latest = new Latest(250);
    const older = deferred<string>();
    const newer = deferred<string>();
    const heard: Outcome<string>[] = [];
    latest.schedule(older.task, (outcome) => heard.push(outcome));
    await vi.advanceTimersByTimeAsync(250);
    expect(older.seen.signal?.aborted).toBe(false);

    latest.schedule(newer.task, (outcome) => heard.push(outcome));
    expect(older.seen.signal?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(250);
    // The newer answers first; the older's late answer never replaces it.
    newer.resolve("newer");
    await vi.advanceTimersByTimeAsync(0);
    older.resolve("older");
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toEqual([{ ok: true, value: "newer" }]);
  });

  it("keeps at most one request on its way", async () => {
    const latest = new Latest(10);
    let running = 0;
    let most = 0;
    const task = (signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        running += 1;
        most = Math.max(most, running);
        const timer = setTimeout(() => {
          signal.removeEventListener("abort", end);
          end();
        }, 100);
        const end = () => {
          clearTimeout(timer);
          running -= 1;
          resolve();
        };
        signal.addEventListener("abort", end, { once: true });
      });
    for (let i = 0; i < 5; i += 1) {
      latest.schedule(task, () => undefined);
      await vi.advanceTimersByTimeAsync(40);
    }
    await vi.advanceTimersByTimeAsync(200);
    expect(most).toBe(1);
    expect(running).toBe(0);
  });

  it("tells a failure, unless it was superseded", async () => {
    const latest = new Latest(0);
    const failing = deferred<string>();
    const heard: Outcome<string>[] = [];
    latest.schedule(failing.task, (outcome) => heard.push(outcome));
    await vi.advanceTimersByTimeAsync(0);
    failing.reject(new Error("422"));
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toEqual([{ ok: false, error: new Error("422") }]);

    const dropped = deferred<string>();
    latest.schedule(dropped.task, (outcome) => heard.push(outcome));
    await vi.advanceTimersByTimeAsync(0);
    latest.cancel();
    dropped.reject(new Error("aborted"));
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toHaveLength(1);
    expect(latest.pending).toBe(false);
  });

  it("turns a task that throws at once into a failure", async () => {
    const latest = new Latest(0);
    const heard: Outcome<number>[] = [];
    latest.schedule<number>(
      () => {
        throw new Error("no");
      },
      (outcome) => heard.push(outcome),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toEqual([{ ok: false, error: new Error("no") }]);
  });

  it("cancel drops a request still waiting for its moment", async () => {
    const latest = new Latest(250);
    const task = vi.fn(() => Promise.resolve(1));
    latest.schedule(task, () => undefined);
    latest.cancel();
    await vi.advanceTimersByTimeAsync(1000);
    expect(task).not.toHaveBeenCalled();
  });

  it("takes a delay of the call's own", async () => {
    const latest = new Latest(250);
    const task = vi.fn(() => Promise.resolve(1));
    latest.schedule(task, () => undefined, 1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(task).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(task).toHaveBeenCalledOnce();
  });
});

describe("pause", () => {
  it("resolves after its time, or rejects as soon as it is aborted", async () => {
    const done = vi.fn();
    void pause(100, new AbortController().signal).then(done);
    await vi.advanceTimersByTimeAsync(99);
    expect(done).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toHaveBeenCalledOnce();

    const controller = new AbortController();
    const stopped = pause(100, controller.signal);
    controller.abort(new Error("superseded"));
    await expect(stopped).rejects.toThrow("superseded");
  });
});

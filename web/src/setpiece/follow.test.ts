import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { BatchPings, FIRST_POLL_MS, followRender, MAX_POLL_MS } from "./follow";
import type { JobState } from "../api/events";
import type { Render } from "./renderApi";

function render(state: JobState, progress = 0): Render {
  return { id: "r1", batch_id: "b1", state, progress, formats: ["png", "glb"], parameters: {} };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("followRender", () => {
  it("reads the render again, waiting longer each time, until it is final", async () => {
    const readings = [render("running", 20), render("running", 60), render("running", 90), render("succeeded", 100)];
    const get = vi.fn(() => Promise.resolve(readings.shift() ?? render("failed")));
    const pings = new BatchPings();
    const progress: number[] = [];
    const followed = followRender(render("queued"), { get, wait: pings.wait.bind(pings) }, (r) => progress.push(r.progress), new AbortController().signal);

    await vi.advanceTimersByTimeAsync(FIRST_POLL_MS);
    expect(get).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(FIRST_POLL_MS * 2);
    expect(get).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(FIRST_POLL_MS * 4);
    expect(get).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(MAX_POLL_MS);
    expect(await followed).toEqual(render("succeeded", 100));
    expect(progress).toEqual([20, 60, 90, 100]);
  });

  it("reads it at once when an event of its batch arrives", async () => {
    const get = vi.fn(() => Promise.resolve(render("succeeded", 100)));
    const pings = new BatchPings();
    const followed = followRender(render("running"), { get, wait: pings.wait.bind(pings) }, () => undefined, new AbortController().signal);
    await vi.advanceTimersByTimeAsync(10);
    pings.ping("another batch");
    await vi.advanceTimersByTimeAsync(0);
    expect(get).not.toHaveBeenCalled();
    pings.ping("b1");
    expect((await followed).state).toBe("succeeded");
    expect(get).toHaveBeenCalledWith("r1", expect.any(AbortSignal));
  });

  it("does not read a render that is final already", async () => {
    const get = vi.fn();
    const pings = new BatchPings();
    const done = await followRender(render("failed"), { get, wait: pings.wait.bind(pings) }, () => undefined, new AbortController().signal);
    expect(done.state).toBe("failed");
    expect(get).not.toHaveBeenCalled();
  });

  it("stops when aborted", async () => {
    const get = vi.fn(() => Promise.resolve(render("running")));
    const pings = new BatchPings();
    const controller = new AbortController();
    const followed = followRender(render("running"), { get, wait: pings.wait.bind(pings) }, () => undefined, controller.signal);
    controller.abort(new Error("superseded"));
    await expect(followed).rejects.toThrow("superseded");
    await vi.advanceTimersByTimeAsync(MAX_POLL_MS * 4);
    expect(get).not.toHaveBeenCalled();
  });
});

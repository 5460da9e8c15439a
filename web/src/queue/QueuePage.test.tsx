// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Batch, Job, Queues } from "../api/batches";
import { fakeGateway, identity, problem, renderAt, type Route } from "../app/testing";
import { LiveProvider } from "../live";
import { FakeNetwork, hello, soloTab } from "../live/fakes";
import { QueuePage } from "./QueuePage";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const RUNNING_ID = "a1000000-0000-4000-8000-000000000001";
const FAILED_ID = "f2000000-0000-4000-8000-000000000002";
const NEW_ID = "c3000000-0000-4000-8000-000000000003";

function batch(id: string, fields: Partial<Batch> = {}): Batch {
  return {
    id,
    owner_id: "user-ada",
    canvas_id: "",
    state: "running",
    priority: "normal",
    total: 2,
    counts: { running: 1, queued: 1 },
    created_at: "2025-03-01T09:00:00Z",
    updated_at: "2025-03-01T09:00:01Z",
    ...fields,
  };
}

const running = batch(RUNNING_ID, { canvas_id: "canvas-7" });
const failed = batch(FAILED_ID, { state: "failed", total: 1, counts: { failed: 1 } });

function job(key: string, fields: Partial<Job> = {}): Job {
  return {
    id: `job-${key}`,
    batch_id: RUNNING_ID,
    key,
    function: "test.sleep",
    state: "running",
    progress: 10,
    attempts: 1,
    retry: 0,
    error: "",
    worker: "w1",
    depends_on: [],
    ...fields,
  };
}

const queues: Queues = {
  functions: [
    { function: "test.sleep", waiting_on_dependencies: 0, queued: 1, on_subject: 2, running: 1 },
  ],
  workers: [{ function: "test.sleep", worker: "host-1:42", running: 1 }],
};

/** The queue page with `routes` behind fetch and a live connection the test plays the
 * server of. */
function openQueue(routes: Record<string, Route | Route[]>) {
  const calls = fakeGateway({ "GET /v1/queues": () => [200, queues], ...routes });
  const net = new FakeNetwork();
  const tab = soloTab(net, "queue");
  renderAt(
    "/queue",
    <LiveProvider userId="user-ada" create={() => tab}>
      <QueuePage />
    </LiveProvider>,
    identity("ada"),
  );
  let seq = 0;
  const live = {
    net,
    async connect() {
      await waitFor(() => {
        expect(net.sockets.length).toBeGreaterThan(0);
      });
      act(() => {
        net.socket.accept();
        net.socket.frame(hello({ last_seq: seq }));
      });
    },
    /** Batch events on the user's feed, as the server sends them. */
    send(...events: object[]) {
      act(() => {
        net.socket.frame(
          ...events.map((event) => {
            seq += 1;
            return {
              type: "event",
              seq,
              topic: "user",
              event: { id: `e${String(seq)}`, time: 1_740_819_600, schema_version: 2, ...event },
            };
          }),
        );
      });
    },
  };
  return { calls, live };
}

const reads = (calls: { method: string; path: string }[], path: string) =>
  calls.filter((call) => call.method === "GET" && call.path === path).length;

function card(name: string): HTMLElement {
  return screen.getByRole("listitem", { name });
}

describe("the queue page", () => {
  it("shows running batches apart from ended ones, and the queue depth", async () => {
    openQueue({
      "GET /v1/batches": () => [200, { batches: [running, failed], next_page_token: "" }],
    });
    const runningList = await screen.findByRole("list", { name: "Running" });
    const endedList = screen.getByRole("list", { name: "Recently ended" });
    expect(within(runningList).getByRole("heading", { name: "Batch a1000000" })).toBeDefined();
    expect(within(endedList).getByRole("heading", { name: "Batch f2000000" })).toBeDefined();

    // A state is a word, not only a colour; progress has a name and says how far.
    expect(within(card("Batch a1000000")).getByText("Running")).toBeDefined();
    expect(within(card("Batch f2000000")).getByText("Failed")).toBeDefined();
    const bar = screen.getByRole("progressbar", { name: "Progress of Batch f2000000" });
    expect(bar.getAttribute("aria-valuetext")).toBe("1 of 1 jobs finished");
    expect(
      screen.getByRole("link", { name: "Open canvas of Batch a1000000" }).getAttribute("href"),
    ).toBe("/canvases/canvas-7");
    expect(screen.getByRole("button", { name: "Cancel Batch a1000000" })).toBeDefined();
    expect(screen.getByRole("button", { name: "Retry Batch f2000000" })).toBeDefined();
    expect(screen.queryByRole("button", { name: "Cancel Batch f2000000" })).toBeNull();

    const depth = await screen.findByRole("table", { name: "Jobs per function" });
    const row = within(depth).getByRole("row", { name: /test\.sleep/ });
    expect(within(row).getAllByRole("cell").map((cell) => cell.textContent)).toEqual([
      "0",
      "1",
      "2",
      "1",
    ]);
    expect(screen.getByRole("table", { name: "Running jobs per worker" })).toBeDefined();
  });

  it("says when there is nothing, and why a list could not be read", async () => {
    fakeGateway({
      "GET /v1/batches": () => [200, { batches: [], next_page_token: "" }],
      "GET /v1/queues": () => [200, { functions: [], workers: [] }],
    });
    renderAt("/queue", <QueuePage />, identity("ada"));
    expect(await screen.findByText(/No batches yet/)).toBeDefined();
    expect(await screen.findByText("No job is waiting or running.")).toBeDefined();
    cleanup();

    fakeGateway({
      "GET /v1/batches": () => problem(400, "page size must be between 1 and 100"),
      "GET /v1/queues": () => problem(403, "the key lacks the read scope"),
    });
    renderAt("/queue", <QueuePage />, identity("ada"));
    expect(
      (await screen.findByText("Page size must be between 1 and 100.")).getAttribute("role"),
    ).toBe("alert");
    expect(
      await screen.findByText("The queues could not be read: The key lacks the read scope."),
    ).toBeDefined();
  });

  it("follows batches and their jobs live, without reading them again", async () => {
    const { calls, live } = openQueue({
      "GET /v1/batches": () => [200, { batches: [running], next_page_token: "" }],
      [`GET /v1/batches/${RUNNING_ID}/jobs`]: () => [
        200,
        {
          jobs: [job("first"), job("second", { state: "queued", progress: 0 })],
          next_page_token: "",
        },
      ],
    });
    await screen.findByRole("heading", { name: "Batch a1000000" });
    await live.connect();
    fireEvent.click(screen.getByRole("button", { name: "Show jobs of Batch a1000000" }));
    const first = await screen.findByRole("progressbar", { name: "Progress of job first" });
    expect((first as HTMLProgressElement).value).toBe(10);
    const readsBefore = calls.length;

    live.send({
      type: "batch.progress",
      batch_id: RUNNING_ID,
      state: "running",
      total: 2,
      counts: { running: 2 },
      jobs: [
        {
          job_id: "job-first",
          key: "first",
          function: "test.sleep",
          state: "running",
          progress: 60,
        },
        {
          job_id: "job-second",
          key: "second",
          function: "test.sleep",
          state: "running",
          progress: 20,
        },
      ],
    });
    expect((first as HTMLProgressElement).value).toBe(60);
    const jobs = screen.getByRole("table", { name: "Jobs of Batch a1000000" });
    const second = within(jobs).getByRole("row", { name: /second/ });
    expect(within(second).getByText("Running")).toBeDefined();
    expect(within(card("Batch a1000000")).getByText(/^2 running/)).toBeDefined();

    // A batch submitted meanwhile shows on top of the running ones.
    live.send({
      type: "batch.submitted",
      batch_id: NEW_ID,
      state: "queued",
      total: 3,
      counts: { queued: 3 },
    });
    const runningList = screen.getByRole("list", { name: "Running" });
    expect(
      within(runningList)
        .getAllByRole("heading")
        .map((heading) => heading.textContent),
    ).toEqual(["Batch c3000000", "Batch a1000000"]);
    expect(within(card("Batch c3000000")).getByText("Queued")).toBeDefined();
    // None of that was read from the server: the events told it.
    expect(calls.slice(readsBefore).filter((call) => call.path !== "/v1/queues")).toEqual([]);

    // A batch that ends moves to the ended ones, its jobs read once more (the completion
    // names none of them).
    live.send({
      type: "batch.completed",
      batch_id: NEW_ID,
      state: "succeeded",
      total: 3,
      counts: { succeeded: 3 },
    });
    const endedList = screen.getByRole("list", { name: "Recently ended" });
    expect(within(endedList).getByRole("heading", { name: "Batch c3000000" })).toBeDefined();
    expect(within(card("Batch c3000000")).getByText("Succeeded")).toBeDefined();
  });

  it("reads everything again when the connection comes back", async () => {
    const { calls, live } = openQueue({
      "GET /v1/batches": () => [200, { batches: [running], next_page_token: "" }],
      [`GET /v1/batches/${RUNNING_ID}/jobs`]: () => [
        200,
        { jobs: [job("first")], next_page_token: "" },
      ],
    });
    await screen.findByRole("heading", { name: "Batch a1000000" });
    await live.connect();
    fireEvent.click(screen.getByRole("button", { name: "Show jobs of Batch a1000000" }));
    await screen.findByRole("progressbar", { name: "Progress of job first" });
    await waitFor(() => {
      expect(screen.queryByText(/Not live/)).toBeNull();
    });
    const batchReads = reads(calls, "/v1/batches");
    const jobReads = reads(calls, `/v1/batches/${RUNNING_ID}/jobs`);

    act(() => {
      live.net.socket.closeFromServer(1012, "draining");
    });
    expect(await screen.findByText(/Not live/)).toBeDefined();
    await waitFor(() => {
      expect(live.net.sockets).toHaveLength(2);
    });
    await live.connect();
    await waitFor(() => {
      expect(reads(calls, "/v1/batches")).toBe(batchReads + 1);
      expect(reads(calls, `/v1/batches/${RUNNING_ID}/jobs`)).toBe(jobReads + 1);
    });
  });

  it("cancels a batch after asking, and says what that did", async () => {
    let listed = running;
    const calls = fakeGateway({
      "GET /v1/queues": () => [200, queues],
      "GET /v1/batches": () => [200, { batches: [listed], next_page_token: "" }],
      [`POST /v1/batches/${RUNNING_ID}/cancel`]: () => {
        listed = batch(RUNNING_ID, { state: "cancelled", counts: { cancelled: 2 } });
        return [200, listed];
      },
    });
    renderAt("/queue", <QueuePage />, identity("ada"));
    fireEvent.click(await screen.findByRole("button", { name: "Cancel Batch a1000000" }));
    const dialog = screen.getByRole("dialog", { name: "Cancel Batch a1000000?" });
    expect(within(dialog).getByText(/1 job waiting will not run/)).toBeDefined();
    // Keeping it running sends nothing.
    fireEvent.click(within(dialog).getByRole("button", { name: "Keep it running" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(calls.filter((call) => call.method === "POST")).toEqual([]);

    fireEvent.click(screen.getByRole("button", { name: "Cancel Batch a1000000" }));
    fireEvent.click(
      within(screen.getByRole("dialog")).getByRole("button", { name: "Cancel batch" }),
    );
    const endedList = await screen.findByRole("list", { name: "Recently ended" });
    await waitFor(() => {
      expect(within(endedList).getByText("Cancelled")).toBeDefined();
    });
    expect(screen.getByRole("status").textContent).toBe("Cancelled: 2 jobs stopped.");
    expect(screen.queryByRole("button", { name: "Cancel Batch a1000000" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Retry Batch a1000000" })).toBeNull();
    expect(screen.getByText("Cancelled jobs do not run again.")).toBeDefined();
    expect(calls.filter((call) => call.method === "POST")).toHaveLength(1);
  });

  it("explains a refused cancel", async () => {
    fakeGateway({
      "GET /v1/queues": () => [200, queues],
      "GET /v1/batches": () => [200, { batches: [running], next_page_token: "" }],
      [`POST /v1/batches/${RUNNING_ID}/cancel`]: () => problem(404, `no batch ${RUNNING_ID}`),
    });
    renderAt("/queue", <QueuePage />, identity("ada"));
    fireEvent.click(await screen.findByRole("button", { name: "Cancel Batch a1000000" }));
    fireEvent.click(
      within(screen.getByRole("dialog")).getByRole("button", { name: "Cancel batch" }),
    );
    expect((await screen.findByRole("alert")).textContent).toBe(
      "Not cancelled: this batch no longer exists, or it is not yours.",
    );
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("retries a failed batch and says how many jobs run again", async () => {
    fakeGateway({
      "GET /v1/queues": () => [200, queues],
      "GET /v1/batches": () => [200, { batches: [failed], next_page_token: "" }],
      [`POST /v1/batches/${FAILED_ID}/retry`]: () => [
        200,
        batch(FAILED_ID, { state: "queued", total: 1, counts: { queued: 1 } }),
      ],
    });
    renderAt("/queue", <QueuePage />, identity("ada"));
    fireEvent.click(await screen.findByRole("button", { name: "Retry Batch f2000000" }));
    const runningList = await screen.findByRole("list", { name: "Running" });
    expect(within(runningList).getByText("Queued")).toBeDefined();
    expect(screen.getByRole("status").textContent).toBe("1 job runs again.");
  });

  it("pages through the batches", async () => {
    const older = batch("d4000000-0000-4000-8000-000000000004", { state: "succeeded" });
    const calls = fakeGateway({
      "GET /v1/queues": () => [200, queues],
      "GET /v1/batches": (call) =>
        call.query.get("cursor") === "next"
          ? [200, { batches: [older], next_page_token: "" }]
          : [200, { batches: [running], next_page_token: "next" }],
    });
    renderAt("/queue", <QueuePage />, identity("ada"));
    fireEvent.click(await screen.findByRole("button", { name: "Load more" }));
    expect(await screen.findByRole("heading", { name: "Batch d4000000" })).toBeDefined();
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    const listed = calls.filter((call) => call.path === "/v1/batches");
    expect(listed.map((call) => call.query.get("limit"))).toEqual(["20", "20"]);
  });
});

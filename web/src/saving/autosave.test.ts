import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Graph } from "../api/graph";
import { ApiError } from "../api/http";
import { Autosave, NotSaved, type AutosaveOptions } from "./autosave";
import { DraftStore, type Draft } from "./drafts";
import { fakeSave, graphOf, MemoryStorage, settled, shot, version } from "./testing";

const loaded = { version: 5, graph: graphOf(shot("s1", "Open")) };
const named = (name: string): Graph => graphOf(shot("s1", name));

function problem(status: number, detail?: string, extra: Record<string, unknown> = {}) {
  return new ApiError({
    type: "about:blank",
    title: `HTTP ${String(status)}`,
    status,
    ...(detail ? { detail } : {}),
    ...extra,
  });
}

function setUp(options: Partial<AutosaveOptions> = {}, storage = new MemoryStorage()) {
  const { calls, save } = fakeSave();
  const drafts = new DraftStore(storage, "draft", "tab-1");
  let online = true;
  const newest = vi.fn(() =>
    Promise.resolve({ version: 7, graph: graphOf(shot("s1", "Open"), shot("s2", "Theirs")) }),
  );
  const versionGraph = vi.fn((number: number) =>
    Promise.resolve<Graph | null>(number === 5 ? loaded.graph : null),
  );
  const machine = new Autosave({
    canvasId: "cv1",
    loaded,
    save,
    newest,
    versionGraph,
    drafts,
    isOnline: () => online,
    random: () => 1,
    ...options,
  });
  const replaced: Graph[] = [];
  machine.onReplace((graph) => replaced.push(graph));
  machine.start();
  const draft = () => drafts.read();
  const goOffline = (value: boolean) => {
    online = !value;
  };
  return { machine, calls, storage, drafts, draft, newest, versionGraph, replaced, goOffline };
}

const state = (machine: Autosave) => machine.snapshot.state;

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("autosave timing", () => {
  it("saves once, 800 ms after the last of a burst of edits, as an autosave on the loaded base", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(500);
    machine.edit(named("AB"));
    await vi.advanceTimersByTimeAsync(500);
    machine.edit(named("ABC"));
    expect(state(machine)).toBe("dirty");
    await vi.advanceTimersByTimeAsync(799);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.request)).toEqual([
      { base_version: 5, graph: named("ABC"), autosave: true },
    ]);
    expect(state(machine)).toBe("saving");
    await calls[0]?.answer(version(6));
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 6, reason: null });
  });

  it("does not save a graph equal to the saved one", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("Open"));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(0);
    expect(state(machine)).toBe("saved");

    machine.edit(named("B"));
    machine.edit(named("Open")); // and back before the save
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(0);
    expect(state(machine)).toBe("saved");
  });

  it("saves at the latest 5 s into continuous editing", async () => {
    const { machine, calls } = setUp();
    for (let i = 0; i < 12; i += 1) {
      machine.edit(named(`edit ${String(i)}`));
      await vi.advanceTimersByTimeAsync(500);
    }
    // Edits at 0, 500, ... 5500 ms: the debounce never settles; the max wait fires at 5000 ms.
    expect(calls).toHaveLength(1);
    expect(calls[0]?.request.graph).toEqual(named("edit 9"));
  });

  it("keeps one save in flight, and saves the edits made meanwhile on its answer's version", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    expect(calls).toHaveLength(1);
    machine.edit(named("B"));
    machine.edit(named("C"));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveLength(1); // the first has not answered: nothing else is sent
    expect(state(machine)).toBe("saving");

    await calls[0]?.answer(version(6));
    expect(calls).toHaveLength(2);
    expect(calls[1]?.request).toEqual({ base_version: 6, graph: named("C"), autosave: true });
    await calls[1]?.answer(version(7));
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 7 });
  });

  it("shows the edits made during a save as unsaved once it answers, and saves them after the quiet time", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    machine.edit(named("B"));
    await calls[0]?.answer(version(6));
    expect(state(machine)).toBe("dirty");
    await vi.advanceTimersByTimeAsync(800);
    expect(calls[1]?.request).toMatchObject({ base_version: 6, graph: named("B") });
  });

  it("shows saving for as long as the save takes (as while the user signs in again)", async () => {
    const { machine, calls, draft } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(state(machine)).toBe("saving");
    expect(draft()?.graph).toEqual(named("A"));
    await calls[0]?.answer(version(6));
    expect(state(machine)).toBe("saved");
    expect(calls).toHaveLength(1);
  });
});

describe("offline", () => {
  it("keeps the graph while the network is down, and saves it once, whole, when it is back", async () => {
    const { machine, calls, draft } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(new TypeError("Failed to fetch"));
    expect(state(machine)).toBe("offline");
    machine.edit(named("AB"));
    machine.edit(named("ABC"));
    await vi.advanceTimersByTimeAsync(300);
    expect(draft()).toMatchObject({ base: 5, graph: named("ABC") });
    expect(calls).toHaveLength(1); // edits while offline send nothing

    machine.online();
    expect(calls).toHaveLength(2);
    expect(calls[1]?.request).toEqual({ base_version: 5, graph: named("ABC"), autosave: true });
    await calls[1]?.answer(version(6));
    expect(state(machine)).toBe("saved");
    expect(draft()).toBeNull();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(2); // the pending retry was dropped: saved once
  });

  it("retries with a growing backoff while the network stays down", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(new TypeError("Failed to fetch"));
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await calls[1]?.fail(new TypeError("Failed to fetch"));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(3);
    await calls[2]?.answer(version(6));
    expect(state(machine)).toBe("saved");
  });

  it("sends nothing while the browser says it is offline, and saves when it is back online", async () => {
    const { machine, calls, goOffline } = setUp();
    goOffline(true);
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(0);
    expect(state(machine)).toBe("offline");
    goOffline(false);
    machine.online();
    expect(calls.map((c) => c.request.graph)).toEqual([named("A")]);
  });
});

describe("conflicts", () => {
  it("stops autosave on a 409 and offers both sides, merged from the graph it last saved", async () => {
    const { machine, calls, newest, versionGraph } = setUp();
    machine.edit(named("Mine"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(409, "version 5 is not the newest: 7 is"));
    expect(state(machine)).toBe("conflict");
    expect(newest).toHaveBeenCalledTimes(1);
    expect(versionGraph).not.toHaveBeenCalled(); // the base is the graph it loaded
    expect(machine.snapshot.conflict).toEqual({
      version: 7,
      base: loaded.graph,
      mine: named("Mine"),
      theirs: graphOf(shot("s1", "Open"), shot("s2", "Theirs")),
    });

    machine.edit(named("Mine, later"));
    expect(machine.snapshot.conflict?.mine).toEqual(named("Mine, later"));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    await expect(machine.flush()).rejects.toBeInstanceOf(NotSaved);
  });

  it("saves the merged graph on the newest version, and merges again if that is stale too", async () => {
    const { machine, calls, replaced, newest, draft } = setUp();
    machine.edit(named("Mine"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(409));
    const merged = graphOf(shot("s1", "Mine"), shot("s2", "Theirs"));
    machine.resolve(merged);
    expect(replaced).toEqual([merged]);
    expect(machine.snapshot.conflict).toBeNull();
    expect(calls[1]?.request).toEqual({
      base_version: 7,
      graph: merged,
      autosave: false,
      message: "Merged with version 7",
    });

    newest.mockResolvedValueOnce({ version: 8, graph: named("Third") });
    await calls[1]?.fail(problem(409));
    expect(machine.snapshot.conflict).toEqual({
      version: 8,
      base: graphOf(shot("s1", "Open"), shot("s2", "Theirs")), // the version it merged onto
      mine: merged,
      theirs: named("Third"),
    });
    machine.resolve(named("Mine + Third"));
    await calls[2]?.answer(version(9));
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 9, conflict: null });
    expect(draft()).toBeNull();

    machine.edit(named("Later"));
    await vi.advanceTimersByTimeAsync(800);
    expect(calls[3]?.request).toMatchObject({ base_version: 9, autosave: true }); // autosave again
  });

  it("takes theirs and forgets mine on discard", async () => {
    const { machine, calls, replaced, draft } = setUp();
    machine.edit(named("Mine"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(409));
    machine.discardMine();
    const theirs = graphOf(shot("s1", "Open"), shot("s2", "Theirs"));
    expect(replaced).toEqual([theirs]);
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 7, conflict: null });
    expect(draft()).toBeNull();
    machine.edit(theirs); // the page shows theirs: nothing to save
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveLength(1);
  });

  it("settles without a merge when the newest version already holds this graph (an answer lost)", async () => {
    const { machine, calls, newest } = setUp();
    newest.mockResolvedValueOnce({ version: 6, graph: named("Mine") });
    machine.edit(named("Mine"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(409));
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 6, conflict: null });
  });

  it("saves on top of its own save whose answer was lost, without a merge", async () => {
    const { machine, calls, newest, draft } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    // The server saved "A" as version 6, but the network dropped before its answer came.
    await calls[0]?.fail(new TypeError("Failed to fetch"));
    expect(state(machine)).toBe("offline");
    machine.edit(named("AB"));
    newest.mockResolvedValueOnce({ version: 6, graph: named("A") });
    machine.online();
    await calls[1]?.fail(problem(409));
    expect(machine.snapshot).toMatchObject({ state: "saving", conflict: null, version: 6 });
    expect(calls[2]?.request).toEqual({ base_version: 6, graph: named("AB"), autosave: true });
    await calls[2]?.answer(version(7));
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 7, conflict: null });
    expect(draft()).toBeNull();
  });

  it("still merges when the newest version is not a save of its own, though one went unanswered", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(new TypeError("Failed to fetch"));
    machine.online();
    await calls[1]?.fail(problem(409));
    expect(machine.snapshot).toMatchObject({ state: "conflict", version: 5 });
    expect(machine.snapshot.conflict).toMatchObject({ version: 7, mine: named("A") });
    expect(calls).toHaveLength(2);
  });

  it("fetches the base version when it does not hold its graph, and merges two-way when it is gone", async () => {
    const storage = new MemoryStorage();
    const kept: Draft = {
      base: 3,
      baseGraph: null,
      graph: named("Draft"),
      savedAt: 1,
      writer: "old-tab",
    };
    storage.setItem("draft", JSON.stringify(kept));
    const versionGraph = vi.fn(() => Promise.resolve(null));
    const { machine, calls } = setUp({ versionGraph }, storage);
    await vi.advanceTimersByTimeAsync(0);
    await calls[0]?.fail(problem(409));
    expect(versionGraph).toHaveBeenCalledWith(3);
    expect(machine.snapshot.conflict).toMatchObject({
      version: 7,
      base: null,
      mine: named("Draft"),
    });
  });

  it("tries to fetch the newest version again when that failed", async () => {
    const { machine, calls, newest } = setUp();
    newest.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    machine.edit(named("Mine"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(409));
    expect(machine.snapshot).toMatchObject({ state: "conflict", conflict: null });
    expect(machine.snapshot.reason).toMatch(/could not be fetched/);
    machine.online();
    await settled();
    expect(newest).toHaveBeenCalledTimes(2);
    expect(machine.snapshot.conflict?.version).toBe(7);
  });
});

describe("refusals", () => {
  it.each([
    [404, "this canvas was deleted, or is no longer shared with you"],
    [403, "you may no longer edit this canvas"],
  ])("stops on a %i and says why, keeping the graph", async (status, reason) => {
    const { machine, calls, draft } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(status));
    expect(machine.snapshot).toMatchObject({ state: "error", reason });
    machine.edit(named("AB"));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    expect(state(machine)).toBe("error");
    expect(draft()?.graph).toEqual(named("AB"));
    await expect(machine.flush()).rejects.toThrow(reason);
  });

  it("says what a 422 refused, and tries again at the next edit", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(422, "the graph has 1 problem"));
    expect(machine.snapshot).toMatchObject({ state: "error", reason: "the graph has 1 problem" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    machine.edit(named("AB"));
    expect(state(machine)).toBe("dirty");
    await vi.advanceTimersByTimeAsync(800);
    expect(calls).toHaveLength(2);
  });

  it("retries a busy server after the wait it asked for", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    await calls[0]?.fail(problem(503, "the canvas service is unavailable", { retry_after: 3 }));
    expect(machine.snapshot).toMatchObject({
      state: "error",
      reason: "the canvas service is unavailable; trying again",
    });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
  });
});

describe("drafts", () => {
  it("keeps the unsaved graph until a save confirms it", async () => {
    const { machine, calls, draft } = setUp();
    machine.edit(named("A"));
    expect(draft()).toBeNull();
    await vi.advanceTimersByTimeAsync(250);
    expect(draft()).toMatchObject({
      base: 5,
      baseGraph: loaded.graph,
      graph: named("A"),
      writer: "tab-1",
    });
    await vi.advanceTimersByTimeAsync(550);
    expect(calls).toHaveLength(1);
    machine.edit(named("AB"));
    await calls[0]?.answer(version(6));
    // The save confirmed "A"; "AB" is kept, now on version 6.
    expect(draft()).toMatchObject({ base: 6, baseGraph: named("A"), graph: named("AB") });
    await vi.advanceTimersByTimeAsync(800);
    await calls[1]?.answer(version(7));
    expect(draft()).toBeNull();
  });

  it("writes the draft while edits go on, not only once they stop", async () => {
    const { machine, draft } = setUp();
    for (let i = 0; i < 3; i += 1) {
      machine.edit(named(`drag ${String(i)}`));
      await vi.advanceTimersByTimeAsync(100);
    }
    // 300 ms of edits 100 ms apart: no quiet spell yet, but the draft holds the newest graph.
    expect(draft()?.graph).toEqual(named("drag 2"));
  });

  it("leaves a draft another tab wrote since", async () => {
    const { machine, calls, storage, draft } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    new DraftStore(storage, "draft", "tab-2").write({
      base: 5,
      baseGraph: null,
      graph: named("B"),
      savedAt: 2,
    });
    await calls[0]?.answer(version(6));
    expect(draft()?.writer).toBe("tab-2");
  });

  it("gives back a draft of the loaded version, and saves it", async () => {
    const storage = new MemoryStorage();
    const kept: Draft = {
      base: 5,
      baseGraph: loaded.graph,
      graph: named("Unsaved"),
      savedAt: 1234,
      writer: "old-tab",
    };
    storage.setItem("draft", JSON.stringify(kept));
    const { machine, calls, replaced, draft } = setUp({}, storage);
    expect(replaced).toEqual([named("Unsaved")]);
    expect(machine.snapshot).toMatchObject({ state: "dirty", draft: { savedAt: 1234, base: 5 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls[0]?.request).toEqual({ base_version: 5, graph: named("Unsaved"), autosave: true });
    await calls[0]?.answer(version(6));
    expect(state(machine)).toBe("saved");
    expect(draft()).toBeNull();
    machine.dismissDraft();
    expect(machine.snapshot.draft).toBeNull();
  });

  it("gives back a draft of an older version, which goes through the merge", async () => {
    const storage = new MemoryStorage();
    const older = named("Older");
    storage.setItem(
      "draft",
      JSON.stringify({ base: 3, baseGraph: older, graph: named("Draft"), savedAt: 1, writer: "x" }),
    );
    const { machine, calls, versionGraph } = setUp({}, storage);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls[0]?.request.base_version).toBe(3);
    await calls[0]?.fail(problem(409));
    expect(versionGraph).not.toHaveBeenCalled();
    expect(machine.snapshot.conflict).toMatchObject({
      version: 7,
      base: older,
      mine: named("Draft"),
    });
  });

  it("goes back to the loaded graph when the restored draft is discarded", async () => {
    const storage = new MemoryStorage();
    storage.setItem(
      "draft",
      JSON.stringify({ base: 5, baseGraph: null, graph: named("Draft"), savedAt: 1, writer: "x" }),
    );
    const { machine, calls, replaced } = setUp({}, storage);
    machine.discardDraft();
    expect(replaced).toEqual([named("Draft"), loaded.graph]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveLength(0);
    expect(machine.snapshot).toMatchObject({ state: "saved", draft: null });
  });

  it("forgets a draft the server already holds, and leaves a read-only canvas's draft alone", () => {
    const storage = new MemoryStorage();
    storage.setItem(
      "draft",
      JSON.stringify({ base: 4, baseGraph: null, graph: loaded.graph, savedAt: 1, writer: "x" }),
    );
    setUp({}, storage);
    expect(storage.getItem("draft")).toBeNull();

    const kept = JSON.stringify({
      base: 5,
      baseGraph: null,
      graph: named("Mine"),
      savedAt: 1,
      writer: "x",
    });
    storage.setItem("draft", kept);
    const { machine, replaced } = setUp({ readOnly: true }, storage);
    expect(replaced).toEqual([]);
    expect(machine.snapshot.draft).toBeNull();
    expect(storage.getItem("draft")).toBe(kept);
  });
});

describe("flush", () => {
  it("answers at once with the loaded version when nothing changed", async () => {
    const { machine, calls } = setUp();
    await expect(machine.flush()).resolves.toEqual({ canvas_id: "cv1", number: 5 });
    expect(calls).toHaveLength(0);
  });

  it("saves without waiting for the quiet time, after the save in flight", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    await vi.advanceTimersByTimeAsync(800);
    machine.edit(named("AB"));
    const flushed = machine.flush();
    await calls[0]?.answer(version(6));
    expect(calls[1]?.request).toMatchObject({ base_version: 6, graph: named("AB") });
    await calls[1]?.answer(version(7));
    await expect(flushed).resolves.toMatchObject({ number: 7 });
  });

  it("rejects when offline", async () => {
    const { machine, calls } = setUp();
    machine.edit(named("A"));
    const flushed = machine.flush();
    await calls[0]?.fail(new TypeError("Failed to fetch"));
    await expect(flushed).rejects.toMatchObject({ state: "offline" });
  });
});

describe("leaving the page", () => {
  it("keeps the draft and sends the unsaved graph at once, marked as leaving", () => {
    const { machine, calls, draft } = setUp();
    machine.edit(named("A"));
    machine.leave();
    expect(draft()?.graph).toEqual(named("A"));
    expect(calls.map((c) => [c.request.graph, c.leaving])).toEqual([[named("A"), true]]);
  });

  it("sends nothing when everything is saved", () => {
    const { machine, calls } = setUp();
    machine.leave();
    expect(calls).toHaveLength(0);
  });
});

describe("a restore made by this page", () => {
  it("shows the restored graph and saves the next edit on the restored version, with no conflict", async () => {
    const { machine, calls, replaced, draft, newest } = setUp();
    machine.edit(named("A"));
    const flushed = machine.flush();
    await calls[0]?.answer(version(6));
    await expect(flushed).resolves.toMatchObject({ number: 6 });

    // Version 7 is version 2's graph again, made by a restore on version 6.
    machine.restored(7, named("Restored"));
    expect(replaced.at(-1)).toEqual(named("Restored"));
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 7, conflict: null });
    expect(draft()).toBeNull();
    machine.edit(named("Restored")); // the page hands the shown graph back: no edit
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(1);

    machine.edit(named("Restored, then edited"));
    await vi.advanceTimersByTimeAsync(800);
    expect(calls[1]?.request).toMatchObject({ base_version: 7, graph: named("Restored, then edited") });
    await calls[1]?.answer(version(8));
    expect(machine.snapshot).toMatchObject({ state: "saved", version: 8 });
    expect(newest).not.toHaveBeenCalled();
  });
});

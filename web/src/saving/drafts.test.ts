import { describe, expect, it } from "vitest";

import { DraftStore, draftKey } from "./drafts";
import { graphOf, MemoryStorage, shot } from "./testing";

const graph = graphOf(shot("s1", "Mine"));
const baseGraph = graphOf(shot("s1", "Base"));

describe("DraftStore", () => {
  it("keeps one draft per user and canvas", () => {
    expect(draftKey("u1", "cv1")).not.toBe(draftKey("u2", "cv1"));
    expect(draftKey("u1", "cv1")).not.toBe(draftKey("u1", "cv2"));
  });

  it("reads back what it wrote, with the writer", () => {
    const store = new DraftStore(new MemoryStorage(), "k", "tab-1");
    expect(store.write({ base: 4, baseGraph, graph, savedAt: 10 })).toBe(true);
    expect(store.read()).toEqual({ base: 4, baseGraph, graph, savedAt: 10, writer: "tab-1" });
  });

  it("drops the base graph when storage is too full for both", () => {
    const storage = new MemoryStorage();
    const store = new DraftStore(storage, "k", "tab-1");
    const setItem = storage.setItem.bind(storage);
    storage.setItem = (key, value) => {
      if (value.includes("Base")) throw new DOMException("quota", "QuotaExceededError");
      setItem(key, value);
    };
    expect(store.write({ base: 4, baseGraph, graph, savedAt: 10 })).toBe(true);
    expect(store.read()).toMatchObject({ baseGraph: null, graph });
    storage.full = true;
    expect(store.write({ base: 4, baseGraph: null, graph, savedAt: 11 })).toBe(false);
  });

  it("ignores what it cannot read as a draft", () => {
    const storage = new MemoryStorage();
    const store = new DraftStore(storage, "k", "tab-1");
    for (const text of ["{not json", "null", JSON.stringify({ base: "4", graph })]) {
      storage.setItem("k", text);
      expect(store.read()).toBeNull();
    }
  });

  it("clears only its own draft, and discards any", () => {
    const storage = new MemoryStorage();
    const mine = new DraftStore(storage, "k", "tab-1");
    const other = new DraftStore(storage, "k", "tab-2");
    other.write({ base: 4, baseGraph: null, graph, savedAt: 10 });
    mine.clear();
    expect(mine.read()?.writer).toBe("tab-2");
    mine.discard();
    expect(mine.read()).toBeNull();
  });

  it("works, keeping nothing, without storage", () => {
    const store = new DraftStore(null, "k", "tab-1");
    expect(store.write({ base: 4, baseGraph: null, graph, savedAt: 10 })).toBe(false);
    expect(store.read()).toBeNull();
  });
});

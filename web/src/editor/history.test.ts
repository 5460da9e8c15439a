import { describe, expect, it } from "vitest";

import type { Graph } from "../api/graph";
import { COALESCE_MS, canRedo, canUndo, createHistory, record, redo, undo } from "./history";

/** A graph told apart by the x of its one node. */
function at(x: number): Graph {
  return { nodes: [{ id: "n", type: "shot", position: { x, y: 0 }, properties: {} }], edges: [] };
}

describe("history", () => {
  it("undoes and redoes recorded graphs in order", () => {
    const [a, b, c] = [at(0), at(1), at(2)];
    let history = record(record(createHistory(a), b), c);
    expect(history.present).toBe(c);
    history = undo(history);
    expect(history.present).toBe(b);
    history = undo(history);
    expect(history.present).toBe(a);
    expect(canUndo(history)).toBe(false);
    history = redo(history);
    expect(history.present).toBe(b);
    history = redo(history);
    expect(history.present).toBe(c);
    expect(canRedo(history)).toBe(false);
  });

  it("returns the same history when there is nothing to undo or redo", () => {
    const history = createHistory(at(0));
    expect(undo(history)).toBe(history);
    expect(redo(history)).toBe(history);
  });

  it("drops what was undone once a new edit is recorded", () => {
    const [a, b, c] = [at(0), at(1), at(2)];
    const history = record(undo(record(createHistory(a), b)), c);
    expect(canRedo(history)).toBe(false);
    expect(undo(history).present).toBe(a);
  });

  it("ignores recording the present again", () => {
    const a = at(0);
    const history = createHistory(a);
    expect(record(history, a)).toBe(history);
  });

  it("forgets the oldest steps beyond its cap", () => {
    let history = createHistory(at(0));
    for (let x = 1; x <= 5; x++) history = record(history, at(x), { cap: 3 });
    expect(history.past.map((graph) => graph.nodes[0]?.position.x)).toEqual([2, 3, 4]);
    history = undo(undo(undo(history)));
    expect(history.present.nodes[0]?.position.x).toBe(2);
    expect(canUndo(history)).toBe(false);
  });

  it("coalesces one drag's moves into one step", () => {
    const start = at(0);
    let history = createHistory(start);
    for (let x = 1; x <= 10; x++) history = record(history, at(x), { key: "move:n", at: x * 16 });
    expect(history.present.nodes[0]?.position.x).toBe(10);
    expect(history.past).toEqual([start]);
    expect(undo(history).present).toBe(start);
  });

  it("keeps apart edits with different keys, or with a pause between them", () => {
    const base = createHistory(at(0));
    const twoKeys = record(record(base, at(1), { key: "a", at: 0 }), at(2), { key: "b", at: 10 });
    expect(twoKeys.past).toHaveLength(2);
    const paused = record(record(base, at(1), { key: "a", at: 0 }), at(2), { key: "a", at: COALESCE_MS + 1 });
    expect(paused.past).toHaveLength(2);
    const unkeyed = record(record(base, at(1)), at(2));
    expect(unkeyed.past).toHaveLength(2);
  });

  it("does not extend a step across an undo", () => {
    let history = record(createHistory(at(0)), at(1));
    history = record(history, at(2), { key: "a", at: 0 });
    history = undo(history);
    history = record(history, at(3), { key: "a", at: 10 });
    expect(history.past.map((graph) => graph.nodes[0]?.position.x)).toEqual([0, 1]);
  });
});

import { describe, expect, it } from "vitest";

import type { NodeResult } from "../api/events";
import { applyNodeStates, NO_STATES, stateCounts } from "./nodeStates";

const CANVAS = "c0ffee00-0000-4000-8000-000000000000";

function node(node_id: string, state: NodeResult["state"], progress?: number): NodeResult {
  return { node_id, key: `k-${node_id}`, state, ...(progress === undefined ? {} : { progress }) };
}

function update(version: number, batch_id: string, ...nodes: NodeResult[]) {
  return { canvas_id: CANVAS, version, batch_id, nodes };
}

describe("applyNodeStates", () => {
  it("starts a new picture for a new batch and moves only named nodes within one", () => {
    let states = applyNodeStates(NO_STATES, update(2, "b1", node("a", "queued"), node("b", "queued")));
    states = applyNodeStates(states, update(2, "b1", node("a", "running", 40)));
    expect(states.nodes.get("a")?.state).toBe("running");
    expect(states.nodes.get("b")?.state).toBe("queued");

    states = applyNodeStates(states, update(2, "b2", node("a", "queued")));
    expect([...states.nodes.keys()]).toEqual(["a"]);
    expect(states.batchId).toBe("b2");
  });

  it("never sets a finished node back when Execute's answer arrives after its events", () => {
    let states = applyNodeStates(NO_STATES, update(3, "b", node("a", "succeeded")));
    states = applyNodeStates(states, update(3, "b", node("a", "queued"), node("b", "queued")));
    expect(states.nodes.get("a")?.state).toBe("succeeded");
    expect(states.nodes.get("b")?.state).toBe("queued");
  });

  it("keeps the furthest progress of a running node", () => {
    let states = applyNodeStates(NO_STATES, update(1, "b", node("a", "running", 70)));
    states = applyNodeStates(states, update(1, "b", node("a", "running", 30)));
    expect(states.nodes.get("a")?.progress).toBe(70);
  });

  it("ignores an older version's news", () => {
    const states = applyNodeStates(NO_STATES, update(5, "new", node("a", "running")));
    expect(applyNodeStates(states, update(4, "old", node("a", "failed")))).toBe(states);
  });

  it("counts nodes per state", () => {
    const states = applyNodeStates(
      NO_STATES,
      update(1, "b", node("a", "running"), node("b", "running"), node("c", "failed")),
    );
    expect(Object.fromEntries(stateCounts(states))).toEqual({ running: 2, failed: 1 });
  });
});

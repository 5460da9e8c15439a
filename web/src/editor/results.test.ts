import { describe, expect, it } from "vitest";

import type { NodeResult } from "../api/events";
import { blobUrl, resultView, sameResult, stateLabel } from "./results";

const FRAME = "ab".repeat(32);

function result(fields: Partial<NodeResult>): NodeResult {
  return { node_id: "s1", key: "k", state: "queued", ...fields };
}

describe("blobUrl", () => {
  it("reads a blob id as its same-origin download", () => {
    expect(blobUrl(FRAME)).toBe(`/v1/blobs/${FRAME}`);
  });

  it("refuses anything else, so an event cannot point an image elsewhere", () => {
    for (const value of ["https://elsewhere.example/x.png", "../../v1/canvases", FRAME.toUpperCase(), `${FRAME}\n`, 7, null]) {
      expect(blobUrl(value)).toBeNull();
    }
  });
});

describe("resultView", () => {
  it("shows nothing while no state is known", () => {
    expect(resultView(undefined, "shot")).toBeNull();
  });

  it("shows a running node's progress, whole and within 0 to 100", () => {
    expect(resultView(result({ state: "running", progress: 42.4 }), "shot")).toEqual({
      state: "running",
      label: "Running",
      progress: 42,
    });
    expect(resultView(result({ state: "running", progress: 140 }), "shot")?.progress).toBe(100);
    expect(resultView(result({ state: "running" }), "shot")?.progress).toBe(0);
    expect(resultView(result({ state: "queued", progress: 0 }), "shot")?.progress).toBeUndefined();
  });

  it("shows a failed node's error", () => {
    const view = resultView(result({ state: "failed", error: "the scene has no backdrop" }), "shot");
    expect(view).toMatchObject({ state: "failed", label: "Failed", error: "the scene has no backdrop" });
  });

  it("shows each kind's image from its result's image member", () => {
    const output = { frame: FRAME, image: FRAME };
    expect(resultView(result({ state: "succeeded", output }), "shot")?.image).toEqual({
      src: `/v1/blobs/${FRAME}`,
      alt: "Storyboard frame",
    });
    expect(resultView(result({ state: "cached", output }), "character")?.image?.alt).toBe("Reference thumbnail");
    expect(resultView(result({ state: "cached", output }), "scene")?.image?.alt).toBe("Set-piece preview");
    expect(resultView(result({ state: "cached", output }), "effect")?.image?.alt).toBe("Result image");
  });

  it("reads no other member as an image", () => {
    const view = resultView(result({ state: "succeeded", output: { frame: FRAME, thumbnails: [FRAME] } }), "shot");
    expect(view?.image).toBeUndefined();
  });

  it("names every state, including ones this studio has not met", () => {
    expect(stateLabel("not_run")).toBe("Not run");
    expect(stateLabel("cached")).toBe("Cached");
    expect(stateLabel("skipped")).toBe("Skipped");
    expect(stateLabel("waiting_for_gpu")).toBe("Waiting for gpu");
  });
});

describe("sameResult", () => {
  it("tells a repeated result from a changed one", () => {
    const running = result({ state: "running", progress: 10 });
    expect(sameResult(running, { ...running })).toBe(true);
    expect(sameResult(running, { ...running, progress: 20 })).toBe(false);
    expect(sameResult(running, undefined)).toBe(false);
    const done = result({ state: "succeeded", output: { image: FRAME } });
    expect(sameResult(done, { ...done, output: { image: "cd".repeat(32) } })).toBe(false);
  });
});

import { describe, expect, it } from "vitest";

import {
  failureMessage,
  LOADING,
  nextStatus,
  showsFallback,
  type ViewerEvent,
  type ViewerStatus,
} from "./viewerState";

const WEBGL: ViewerStatus = { state: "webgl" };
const NO_WEBGL: ViewerStatus = { state: "no-webgl" };
const FAILED: ViewerStatus = { state: "failed", reason: "the server answered 404" };
const DRAWN: ViewerEvent = { kind: "drawn" };
const LOST: ViewerEvent = { kind: "failed", reason: "the context was lost" };

describe("nextStatus", () => {
  it("goes from loading to webgl, no-webgl or failed", () => {
    expect(nextStatus(LOADING, DRAWN)).toEqual(WEBGL);
    expect(nextStatus(LOADING, { kind: "no-webgl" })).toEqual(NO_WEBGL);
    expect(nextStatus(LOADING, LOST)).toEqual({ state: "failed", reason: "the context was lost" });
  });

  it("lets a drawn model still fail, but not lose WebGL or be drawn anew", () => {
    expect(nextStatus(WEBGL, LOST)).toEqual({ state: "failed", reason: "the context was lost" });
    expect(nextStatus(WEBGL, { kind: "no-webgl" })).toBe(WEBGL);
    expect(nextStatus(WEBGL, DRAWN)).toBe(WEBGL);
  });

  it("keeps no-webgl and failed once there: the PNG stays", () => {
    for (const final of [NO_WEBGL, FAILED]) {
      for (const event of [DRAWN, LOST, { kind: "no-webgl" } as const]) {
        expect(nextStatus(final, event)).toBe(final);
      }
    }
  });
});

describe("what shows", () => {
  it("shows the PNG without WebGL and after a failure only", () => {
    expect([LOADING, WEBGL, NO_WEBGL, FAILED].map(showsFallback)).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });

  it("says why the model could not be loaded", () => {
    expect(failureMessage(FAILED)).toBe(
      "The 3D model could not be loaded: the server answered 404.",
    );
    expect(failureMessage({ state: "failed" })).toBe("The 3D model could not be loaded.");
  });
});

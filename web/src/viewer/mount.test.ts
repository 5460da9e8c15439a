// @vitest-environment happy-dom
// A viewer's life up to three.js drawing: the canvas it makes, the GLB's fetch and why it
// failed, and the context freed however it ends. happy-dom has no WebGL, so the canvas gets
// a stand-in context here that only knows how to be lost (the browser tests draw for real).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { startViewer } from "./mount";
import type { ViewerEvent } from "./viewerState";

const GLB_URL = "/v1/renders/r1/glb";

let loseContext: ReturnType<typeof vi.fn>;
// What a canvas's getContext gives: the stand-in, or null as in a browser without WebGL 2.
let context: RenderingContext | null;

beforeEach(() => {
  loseContext = vi.fn();
  const standIn = {
    RENDERER: 0x1f01,
    getParameter: () => "Test GPU",
    getExtension: (name: string) => (name === "WEBGL_lose_context" ? { loseContext } : null),
  };
  context = standIn as unknown as RenderingContext;
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(() => context);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  document.body.innerHTML = "";
});

function mounted() {
  const root = document.createElement("figure");
  const stage = document.createElement("div");
  root.append(stage);
  document.body.append(root);
  const events: ViewerEvent[] = [];
  const stop = startViewer({
    root,
    stage,
    glbUrl: GLB_URL,
    hintId: "hint-1",
    onEvent: (event) => events.push(event),
  });
  return { root, stage, events, stop };
}

function answering(response: () => Response | Promise<Response>) {
  const fetched = vi.fn<(url: string, init: RequestInit) => Promise<Response>>(() =>
    Promise.resolve(response()),
  );
  vi.stubGlobal("fetch", fetched);
  return fetched;
}

describe("startViewer", () => {
  it("puts a focusable canvas named by its hint on the stage, and fetches the GLB", () => {
    const fetched = answering(() => new Promise<Response>(() => undefined));
    const { stage, root, stop } = mounted();
    const canvas = stage.querySelector("canvas");
    expect(canvas?.tabIndex).toBe(0);
    expect(canvas?.getAttribute("role")).toBe("img");
    expect(canvas?.getAttribute("aria-describedby")).toBe("hint-1");
    expect(root.dataset.frames).toBe("0");
    expect(fetched.mock.calls[0]?.[0]).toBe(GLB_URL);
    stop();
  });

  it("fails with what the server answered, and frees the context", async () => {
    answering(
      () =>
        new Response(
          JSON.stringify({
            type: "about:blank",
            title: "Not Found",
            status: 404,
            detail: "no such render",
          }),
          { status: 404, headers: { "Content-Type": "application/problem+json" } },
        ),
    );
    const { stage, events } = mounted();
    await vi.waitFor(() => {
      expect(events).toEqual([
        { kind: "failed", reason: "the server answered 404 (no such render)" },
      ]);
    });
    expect(stage.querySelector("canvas")).toBeNull();
    expect(loseContext).toHaveBeenCalledOnce();
  });

  it("fails when the bytes are not a GLB", async () => {
    answering(() => new Response("<html>a proxy's page</html>", { status: 200 }));
    const { events } = mounted();
    await vi.waitFor(() => {
      expect(events).toEqual([{ kind: "failed", reason: "the file is not a GLB model" }]);
    });
    expect(loseContext).toHaveBeenCalledOnce();
  });

  it("fails when the server cannot be reached", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    const { events } = mounted();
    await vi.waitFor(() => {
      expect(events).toEqual([{ kind: "failed", reason: "the server could not be reached" }]);
    });
  });

  it("stopped early, aborts the fetch, frees the context and reports nothing", async () => {
    const fetched = answering(() => new Promise<Response>(() => undefined));
    const { stage, events, stop } = mounted();
    stop();
    stop(); // twice is once
    expect(fetched.mock.calls[0]?.[1].signal?.aborted).toBe(true);
    expect(stage.querySelector("canvas")).toBeNull();
    expect(loseContext).toHaveBeenCalledOnce();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual([]);
  });

  it("says no-webgl, and makes nothing, where the browser gives no WebGL 2 context", () => {
    context = null;
    const fetched = answering(() => new Response(null, { status: 500 }));
    const { stage, events } = mounted();
    expect(events).toEqual([{ kind: "no-webgl" }]);
    expect(stage.childElementCount).toBe(0);
    expect(fetched).not.toHaveBeenCalled();
  });
});

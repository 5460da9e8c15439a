// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Graph } from "../api/graph";
import { draftKey } from "./drafts";
import { SaveStatus } from "./SaveStatus";
import { graphOf, shot, version } from "./testing";
import { useAutosave } from "./useAutosave";

const loaded = { version: 5, graph: graphOf(shot("s1", "Loaded")) };
const drafted = graphOf(shot("s1", "Drafted"));

/** The canvas page's use of autosave, cut down to the graph's names and the save state. */
function Page() {
  const [graph, setGraph] = useState<Graph>(loaded.graph);
  const saving = useAutosave({ canvasId: "cv1", userId: "u1", loaded, graph, onReplace: setGraph });
  return (
    <>
      <SaveStatus state={saving.state} reason={saving.reason} />
      <p>Shows {graph.nodes.map((node) => String(node.properties.name)).join(", ")}</p>
      {saving.draft && <p>Restored unsaved changes</p>}
    </>
  );
}

type Answer = () => Promise<Response>;
const saved: Answer = () =>
  Promise.resolve(
    new Response(JSON.stringify(version(6)), {
      status: 201,
      headers: { "Content-Type": "application/json" },
    }),
  );
const unreachable: Answer = () => Promise.reject(new TypeError("Failed to fetch"));

function serve(...answers: Answer[]) {
  const calls: { path: string; init: RequestInit }[] = [];
  vi.stubGlobal("fetch", (path: string, init: RequestInit) => {
    calls.push({ path, init });
    const answer = answers.shift();
    return answer ? answer() : Promise.reject(new Error(`unexpected call to ${path}`));
  });
  return calls;
}

const saveState = () => screen.getByRole("status", { name: "Save state" }).dataset.saveState;

beforeEach(() => {
  localStorage.clear();
  localStorage.setItem(
    draftKey("u1", "cv1"),
    JSON.stringify({ base: 5, baseGraph: null, graph: drafted, savedAt: 1, writer: "closed-tab" }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe("useAutosave", () => {
  it("gives a kept draft back to the page once, under Strict Mode too, and saves it", async () => {
    const calls = serve(saved);
    render(
      <StrictMode>
        <Page />
      </StrictMode>,
    );
    await waitFor(() => {
      expect(saveState()).toBe("saved");
    });
    expect(screen.getByText("Restored unsaved changes")).toBeDefined();
    expect(screen.getByText("Shows Drafted")).toBeDefined();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.path).toBe("/v1/canvases/cv1/versions");
    expect(JSON.parse(calls[0]?.init.body as string)).toEqual({
      base_version: 5,
      graph: drafted,
      autosave: true,
    });
    expect(localStorage.getItem(draftKey("u1", "cv1"))).toBeNull();
  });

  it("goes offline when the save cannot reach the server, and saves on the online event", async () => {
    const calls = serve(unreachable, saved);
    render(<Page />);
    await waitFor(() => {
      expect(saveState()).toBe("offline");
    });
    expect(screen.getByRole("status", { name: "Save state" }).textContent).toBe(
      "Offline — changes kept",
    );
    expect(localStorage.getItem(draftKey("u1", "cv1"))).toContain("Drafted");
    act(() => {
      window.dispatchEvent(new Event("online"));
    });
    await waitFor(() => {
      expect(saveState()).toBe("saved");
    });
    expect(calls).toHaveLength(2);
  });
});

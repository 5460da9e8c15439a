// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Version } from "../api/canvases";
import type { Graph } from "../api/graph";
import { fakeGateway, identity, renderAt } from "../app/testing";
import type { VersionPair } from "./historyQueries";
import { HistoryPanel } from "./HistoryPanel";
import { useRestore } from "./useRestore";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const ada = identity("ada");
const old: Graph = {
  nodes: [{ id: "s1", type: "shot", position: { x: 0, y: 0 }, properties: { name: "Old" } }],
  edges: [],
};

function version(number: number, extra: Partial<Version> = {}): Version {
  return {
    canvas_id: "c1",
    number,
    parent: number - 1,
    author_id: ada.user_id,
    message: "",
    autosave: false,
    created_at: "2025-03-01T10:00:00Z",
    ...extra,
  };
}

interface PageProps {
  flush: () => Promise<{ canvas_id: string; number: number }>;
  restored: (version: number, graph: Graph) => void;
  onCompare: (pair: VersionPair) => void;
}

function Page({ flush, restored, onCompare }: PageProps) {
  const [current, setCurrent] = useState(3);
  const restore = useRestore({
    canvasId: "c1",
    flush,
    restored: (number, graph) => {
      setCurrent(number);
      restored(number, graph);
    },
  });
  return (
    <HistoryPanel
      canvasId="c1"
      access="write"
      currentVersion={current}
      self={ada.user_id}
      seen={new Map([["user-bob", "Bob"]])}
      comparing={null}
      onCompare={onCompare}
      restore={restore}
      onClose={() => undefined}
    />
  );
}

function setUp() {
  const calls = fakeGateway({
    "GET /v1/canvases/c1/versions": [
      () => [
        200,
        {
          versions: [
            version(3, { autosave: true }),
            version(2, { author_id: "user-bob", message: "Lighting" }),
            version(1, { author_id: "user-who" }),
          ],
          next_page_token: "",
        },
      ],
    ],
    "POST /v1/canvases/c1/versions/1/restore": () => [201, version(4, { message: "Restored version 1" })],
    "GET /v1/canvases/c1/versions/4": () => [200, version(4, { graph: old })],
  });
  const flush = vi.fn(() => Promise.resolve({ canvas_id: "c1", number: 3 }));
  const restored = vi.fn();
  const onCompare = vi.fn();
  renderAt("/canvases/c1", <Page flush={flush} restored={restored} onCompare={onCompare} />, ada);
  return { calls, flush, restored, onCompare };
}

const row = (name: string) => screen.getByRole("checkbox", { name }).closest("li") as HTMLElement;

describe("the history panel", () => {
  it("lists the versions newest first, saying what, when and by whom as far as it knows", async () => {
    setUp();
    await screen.findByRole("checkbox", { name: "Version 3" });
    const rows = within(screen.getByRole("list", { name: "Versions" })).getAllByRole("listitem");
    expect(rows.map((r) => r.querySelector(".version-number")?.textContent)).toEqual([
      "Version 3",
      "Version 2",
      "Version 1",
    ]);
    expect(row("Version 3").textContent).toMatch(/Autosaved.*by you/);
    expect(row("Version 3").textContent).toContain("current");
    expect(row("Version 2").textContent).toMatch(/Lighting.*by Bob/);
    expect(row("Version 1").textContent).toMatch(/Saved.*by someone else/);
    // The current version cannot be restored: it is what the canvas holds.
    expect(screen.queryByRole("button", { name: "Restore version 3" })).toBeNull();
  });

  it("compares two picked versions, older first, and lets no third be picked", async () => {
    const { onCompare } = setUp();
    const compare = screen.getByRole<HTMLButtonElement>("button", { name: "Compare" });
    expect(compare.disabled).toBe(true);
    fireEvent.click(await screen.findByRole("checkbox", { name: "Version 3" }));
    fireEvent.click(screen.getByRole("checkbox", { name: "Version 1" }));
    expect(screen.getByRole<HTMLInputElement>("checkbox", { name: "Version 2" }).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Compare 1 and 3" }));
    expect(onCompare).toHaveBeenCalledWith({ older: 1, newer: 3 });
  });

  it("restores a version after asking: saves first, restores on that version, and hands over the graph", async () => {
    const { calls, flush, restored } = setUp();
    fireEvent.click(await screen.findByRole("button", { name: "Restore version 1" }));
    const dialog = screen.getByRole("dialog", { name: "Restore version 1?" });
    expect(flush).not.toHaveBeenCalled();
    fireEvent.click(within(dialog).getByRole("button", { name: "Restore" }));
    await waitFor(() => {
      expect(restored).toHaveBeenCalledWith(4, old);
    });
    expect(flush).toHaveBeenCalledOnce();
    const restore = calls.find((call) => call.method === "POST");
    expect(restore?.body).toEqual({ base_version: 3 });
    await waitFor(() => {
      expect(screen.queryByRole("dialog")).toBeNull();
    });
  });

  it("says why a restore failed and keeps the dialog open", async () => {
    const { restored } = setUp();
    fakeGateway({
      "POST /v1/canvases/c1/versions/1/restore": () => [
        409,
        { type: "about:blank", title: "Conflict", status: 409, detail: "version 3 is not the newest: 5 is" },
      ],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Restore version 1" }));
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Restore" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Version 3 is not the newest: 5 is.");
    expect(restored).not.toHaveBeenCalled();
    expect(screen.getByRole("dialog", { name: "Restore version 1?" })).toBeTruthy();
  });
});

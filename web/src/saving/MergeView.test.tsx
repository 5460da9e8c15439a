// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Graph, NodeType } from "../api/graph";
import type { Conflict } from "./autosave";
import { MergeView } from "./MergeView";
import { SaveStatus } from "./SaveStatus";
import { graphOf, shot } from "./testing";

const nodeTypes: NodeType[] = [
  { name: "shot", title: "Shot", description: "", properties: {}, inputs: [], outputs: [] },
];

const base = graphOf(shot("s1", "Open"), shot("s2", "Close", 100));
const conflict: Conflict = {
  version: 8,
  base,
  // Mine renames s1 and moves s2; theirs renames s1 too, and adds s3.
  mine: graphOf(shot("s1", "Opening"), shot("s2", "Close", 300)),
  theirs: graphOf(shot("s1", "First light"), shot("s2", "Close", 100), shot("s3", "Wide")),
};

afterEach(cleanup);

describe("MergeView", () => {
  it("shows what they changed and saves the merge with a conflict flipped to theirs", () => {
    const onSaveMerged = vi.fn<(graph: Graph) => void>();
    render(
      <MergeView
        conflict={conflict}
        nodeTypes={nodeTypes}
        onSaveMerged={onSaveMerged}
        onDiscardMine={() => undefined}
      />,
    );
    const dialog = screen.getByRole("dialog", { name: "Merge changes" });
    const theirChanges = within(dialog).getByRole("region", { name: "Their changes" });
    expect(
      within(theirChanges)
        .getAllByRole("listitem")
        .map((item) => item.textContent),
    ).toEqual(["Set Shot “First light”'s name to “First light”", "Added Shot “Wide”"]);

    const name = within(dialog).getByRole("group", { name: "Shot “Opening”: name" });
    const radio = (label: string) =>
      within(name).getByRole<HTMLInputElement>("radio", { name: label });
    expect(radio("Mine: “Opening”").checked).toBe(true);
    fireEvent.click(radio("Theirs: “First light”"));
    expect(radio("Theirs: “First light”").checked).toBe(true);
    expect(radio("Mine: “Opening”").checked).toBe(false);

    fireEvent.click(within(dialog).getByRole("button", { name: "Save merged" }));
    expect(onSaveMerged).toHaveBeenCalledWith(
      graphOf(shot("s1", "First light"), shot("s2", "Close", 300), shot("s3", "Wide")),
    );
  });

  it("saves mine where nothing is flipped, and discards mine on request", () => {
    const onSaveMerged = vi.fn<(graph: Graph) => void>();
    const onDiscardMine = vi.fn();
    render(
      <MergeView conflict={conflict} onSaveMerged={onSaveMerged} onDiscardMine={onDiscardMine} />,
    );
    fireEvent.click(screen.getByRole("button", { name: "Save merged" }));
    expect(onSaveMerged).toHaveBeenCalledWith(
      graphOf(shot("s1", "Opening"), shot("s2", "Close", 300), shot("s3", "Wide")),
    );
    fireEvent.click(screen.getByRole("button", { name: "Discard mine" }));
    expect(onDiscardMine).toHaveBeenCalledOnce();
  });

  it("offers a node deleted on one side and changed on the other as kept or deleted", () => {
    const onSaveMerged = vi.fn<(graph: Graph) => void>();
    const deleted: Conflict = {
      ...conflict,
      mine: graphOf(shot("s2", "Close", 100)),
      theirs: graphOf(shot("s1", "Renamed"), shot("s2", "Close", 100)),
    };
    render(
      <MergeView conflict={deleted} onSaveMerged={onSaveMerged} onDiscardMine={() => undefined} />,
    );
    const group = screen.getByRole("group", {
      name: "shot “Renamed”: deleted on one side, changed on the other",
    });
    fireEvent.click(within(group).getByRole("radio", { name: "Theirs: kept, with changes" }));
    fireEvent.click(screen.getByRole("button", { name: "Save merged" }));
    // The node comes back after mine's nodes.
    expect(onSaveMerged).toHaveBeenCalledWith(
      graphOf(shot("s2", "Close", 100), shot("s1", "Renamed")),
    );
  });
});

describe("SaveStatus", () => {
  it.each([
    ["saved", "Saved"],
    ["dirty", "Unsaved changes"],
    ["saving", "Saving…"],
    ["offline", "Offline — changes kept"],
    ["conflict", "Conflict"],
  ] as const)("shows %s as “%s”", (state, text) => {
    render(<SaveStatus state={state} />);
    const status = screen.getByRole("status", { name: "Save state" });
    expect(status.dataset.saveState).toBe(state);
    expect(status.textContent).toBe(text);
  });

  it("says why it is not saved", () => {
    render(<SaveStatus state="error" reason="you may no longer edit this canvas" />);
    expect(screen.getByRole("status", { name: "Save state" }).textContent).toBe(
      "Not saved: you may no longer edit this canvas",
    );
  });
});

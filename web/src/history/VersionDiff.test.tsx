// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { GraphDiff, Version } from "../api/canvases";
import type { Graph } from "../api/graph";
import { fakeGateway, identity, renderAt } from "../app/testing";
import { NODE_TYPES } from "../editor/nodeTypes.fixture";
import { VersionDiff } from "./VersionDiff";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const adaToShot = { source: "ada", source_port: "character", target: "s1", target_port: "characters" };
const yardToShot = { source: "yard", source_port: "scene", target: "s1", target_port: "scene" };
const older: Graph = {
  nodes: [
    { id: "ada", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada" } },
    { id: "yard", type: "scene", position: { x: 0, y: 240 }, properties: { location: "Yard" } },
    { id: "s1", type: "shot", position: { x: 320, y: 120 }, properties: { name: "Opening" } },
  ],
  edges: [adaToShot, yardToShot],
};
const newer: Graph = {
  nodes: [
    { id: "ada", type: "character", position: { x: 0, y: 0 }, properties: { name: "Ada L." } },
    { id: "s1", type: "shot", position: { x: 320, y: 120 }, properties: { name: "Opening" } },
    { id: "s2", type: "shot", position: { x: 320, y: 360 }, properties: { name: "Close-up" } },
  ],
  edges: [adaToShot],
};
const diff: GraphDiff = {
  nodes_added: ["s2"],
  nodes_removed: ["yard"],
  nodes_changed: [{ node: "ada", fields: ["properties.name"] }],
  edges_added: [],
  edges_removed: [yardToShot],
};

function version(number: number, graph: Graph): Version {
  return {
    canvas_id: "c1",
    number,
    parent: number - 1,
    author_id: "u",
    message: "",
    autosave: false,
    created_at: "2025-03-01T10:00:00Z",
    graph,
  };
}

describe("two versions' diff on the graph", () => {
  it("reads both versions and their diff in one batch, and marks the graph in words", async () => {
    const calls = fakeGateway({
      "POST /v1/$batch": () => [
        200,
        {
          responses: [
            { id: "older", status: 200, body: version(2, older) },
            { id: "newer", status: 200, body: version(5, newer) },
            { id: "diff", status: 200, body: diff },
          ],
        },
      ],
    });
    const onLeave = vi.fn();
    renderAt("/canvases/c1", <VersionDiff canvasId="c1" pair={{ older: 2, newer: 5 }} nodeTypes={NODE_TYPES} onLeave={onLeave} />, identity());

    const added = await screen.findByTestId("rf__node-s2");
    expect(calls).toHaveLength(1);
    expect((calls[0]?.body as { requests: { url: string }[] }).requests.map((r) => r.url)).toEqual([
      "/canvases/c1/versions/2",
      "/canvases/c1/versions/5",
      "/canvases/c1/diff?from=2&to=5",
    ]);
    const badge = (id: string) => screen.getByTestId(`rf__node-${id}`).querySelector(".sg-node__diff")?.textContent;
    expect(within(added).getByText("added")).toBeTruthy();
    expect(badge("ada")).toBe("changed name");
    expect(badge("yard")).toBe("removed"); // the ghost of the older version's node
    expect(badge("s1")).toBeUndefined();
    // (Edges are drawn once nodes are measured, which happy-dom cannot: the browser test
    // checks their marks.)

    const legend = screen.getByRole("region", { name: /Changes from version 2 to version 5/ });
    const keys = within(legend).getAllByRole("listitem").map((item) => item.textContent);
    expect(keys).toEqual(["added 1 node, 0 edges", "changed 1 node", "removed 1 node, 1 edge"]);
    // Read only: no palette to add from.
    expect(screen.queryByRole("region", { name: "Node palette" })).toBeNull();

    fireEvent.click(within(legend).getByRole("button", { name: "Back to editing" }));
    expect(onLeave).toHaveBeenCalledOnce();
  });

  it("says why when the versions cannot be compared", async () => {
    fakeGateway({
      "POST /v1/$batch": () => [
        200,
        {
          responses: [
            { id: "older", status: 404, body: { type: "about:blank", title: "Not Found", status: 404, detail: "canvas c1 has no version 2" } },
            { id: "newer", status: 200, body: version(5, newer) },
            { id: "diff", status: 404, body: { type: "about:blank", title: "Not Found", status: 404, detail: "canvas c1 has no version 2" } },
          ],
        },
      ],
    });
    renderAt("/canvases/c1", <VersionDiff canvasId="c1" pair={{ older: 2, newer: 5 }} nodeTypes={NODE_TYPES} onLeave={() => undefined} />, identity());
    expect((await screen.findByRole("alert")).textContent).toBe("The versions could not be compared: Canvas c1 has no version 2.");
  });
});

// @vitest-environment happy-dom
import { cleanup, screen, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeGateway, identity, problem, renderAt } from "../app/testing";
import type { Render } from "./api";
import { RenderPage } from "./RenderPage";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const RUNNING: Render = {
  id: "r1",
  batch_id: "b1",
  state: "running",
  progress: 40,
  formats: ["png", "glb", "stl"],
  parameters: { wall: "#ff0000" },
};
const DONE: Render = {
  ...RUNNING,
  state: "succeeded",
  progress: 100,
  outputs: {
    png: { blob: "aa", url: "/v1/renders/r1/png" },
    glb: { blob: "bb", url: "/v1/renders/r1/glb" },
    stl: { blob: "cc", url: "/v1/renders/r1/stl" },
  },
  colours: ["#ff0000ff"],
};

function page(path = "/renders/r1") {
  return renderAt(
    path,
    <Routes>
      <Route path="/renders/:renderId" element={<RenderPage />} />
    </Routes>,
    identity(),
  );
}

describe("RenderPage", () => {
  it("follows a running render until it is done, then shows its files", async () => {
    const calls = fakeGateway({ "GET /v1/renders/r1": [() => [200, RUNNING], () => [200, DONE]] });
    page();
    const state = await screen.findByRole("status", { name: "Render state" });
    expect(state.textContent).toBe("Rendering (40%)");
    expect(screen.getByRole("progressbar", { name: "Render progress" })).toBeTruthy();
    expect(screen.getByText(/can be downloaded once the render is done/)).toBeTruthy();

    const png = await screen.findByRole("img", { name: "The render's picture" });
    expect(png.getAttribute("src")).toBe("/v1/renders/r1/png");
    expect(screen.getByRole("status", { name: "Render state" }).textContent).toBe("Rendered");
    expect(screen.queryByRole("progressbar")).toBeNull();

    const links = within(screen.getByRole("list")).getAllByRole("link");
    expect(
      links.map((a) => [a.textContent, a.getAttribute("href"), a.getAttribute("download")]),
    ).toEqual([
      ["Download PNG", "/v1/renders/r1/png", "render-r1.png"],
      ["Download GLB", "/v1/renders/r1/glb", "render-r1.glb"],
      ["Download STL", "/v1/renders/r1/stl", "render-r1.stl"],
    ]);
    // The model's viewer (here without WebGL: the PNG in its place).
    const model = screen.getByRole("region", { name: "3D model" });
    await vi.waitFor(() => {
      expect(model.querySelector("[data-viewer-state]")?.getAttribute("data-viewer-state")).toBe(
        "no-webgl",
      );
    });
    expect(within(model).getByRole("img", { name: "The render's model in 3D" })).toBeTruthy();

    // Done: asked no more.
    const asked = calls.length;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(calls.length).toBe(asked);
  });

  it("shows why a render failed, with nothing to download", async () => {
    fakeGateway({
      "GET /v1/renders/r1": () => [
        200,
        { ...RUNNING, state: "failed", error: "line 3: syntax error" },
      ],
    });
    page();
    expect((await screen.findByRole("alert")).textContent).toBe(
      "The render failed: Line 3: syntax error.",
    );
    expect(screen.getByText("No files.")).toBeTruthy();
    expect(screen.queryByRole("region", { name: "3D model" })).toBeNull();
  });

  it("says when there is no such render", async () => {
    fakeGateway({ "GET /v1/renders/nope": () => problem(404, "no such render") });
    page("/renders/nope");
    expect(await screen.findByRole("heading", { name: "No such render" })).toBeTruthy();
    expect(screen.getByText("No such render.")).toBeTruthy();
  });
});

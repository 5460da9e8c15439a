// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Route, Routes, useParams } from "react-router";

import type { CanvasSummary } from "../api/canvases";
import { fakeGateway, identity, problem, renderAt } from "../app/testing";
import { CanvasList } from "./CanvasList";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function canvas(id: string, name: string, access: CanvasSummary["access"] = "owner") {
  return {
    id,
    owner_id: "user-ada",
    name,
    version: 1,
    created_at: "2025-01-02T10:00:00Z",
    updated_at: "2025-01-03T10:00:00Z",
    access,
  };
}

function Opened() {
  return <p>opened {useParams().canvasId}</p>;
}

function renderList() {
  return renderAt(
    "/",
    <Routes>
      <Route path="/" element={<CanvasList />} />
      <Route path="/canvases/:canvasId" element={<Opened />} />
    </Routes>,
    identity("ada"),
  );
}

function names(): string[] {
  const list = screen.getByRole("list", { name: "Your canvases" });
  return within(list)
    .getAllByRole("link")
    .map((link) => link.textContent);
}

describe("the canvas list", () => {
  it("appends the next page on Load more", async () => {
    const calls = fakeGateway({
      "GET /v1/canvases": (call) =>
        call.query.get("cursor") === "page-2"
          ? [200, { canvases: [canvas("c3", "Finale")], next_page_token: "" }]
          : [
              200,
              {
                canvases: [canvas("c1", "Opening"), canvas("c2", "Chase")],
                next_page_token: "page-2",
              },
            ],
    });
    renderList();
    await screen.findByRole("link", { name: "Opening" });
    expect(names()).toEqual(["Opening", "Chase"]);

    fireEvent.click(screen.getByRole("button", { name: "Load more" }));

    await screen.findByRole("link", { name: "Finale" });
    expect(names()).toEqual(["Opening", "Chase", "Finale"]);
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    expect(calls.map((call) => call.query.get("cursor"))).toEqual([null, "page-2"]);
  });

  it("shows each canvas's access, and the owner's actions to its owner only", async () => {
    fakeGateway({
      "GET /v1/canvases": () => [
        200,
        {
          canvases: [
            canvas("c1", "Mine"),
            canvas("c2", "Theirs", "read"),
            canvas("c3", "Ours", "write"),
          ],
          next_page_token: "",
        },
      ],
    });
    renderList();
    const mine = (await screen.findByRole("link", { name: "Mine" })).closest("li");
    expect(mine?.textContent).toContain("owner");
    expect(screen.getByRole("button", { name: "Share Mine" })).toBeDefined();
    expect(screen.getByRole("button", { name: "Delete Mine" })).toBeDefined();
    expect(screen.getByRole("button", { name: "Rename Ours" })).toBeDefined();
    expect(screen.queryByRole("button", { name: "Share Ours" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Rename Theirs" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete Theirs" })).toBeNull();
    expect(screen.getByRole("link", { name: "Theirs" }).closest("li")?.textContent).toContain(
      "read",
    );
  });

  it("creates a canvas by name and opens it", async () => {
    const calls = fakeGateway({
      "GET /v1/canvases": () => [200, { canvases: [], next_page_token: "" }],
      "POST /v1/canvases": () => [201, canvas("c9", "Storyboard")],
    });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "New canvas" }));
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "  Storyboard " } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));

    expect(await screen.findByText("opened c9")).toBeDefined();
    expect(calls.find((call) => call.method === "POST")?.body).toEqual({ name: "Storyboard" });
  });

  it("renames in place", async () => {
    const calls = fakeGateway({
      "GET /v1/canvases": () => [200, { canvases: [canvas("c1", "Opening")], next_page_token: "" }],
      "PATCH /v1/canvases/c1": () => [200, canvas("c1", "Cold open")],
    });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Rename Opening" }));
    fireEvent.change(screen.getByLabelText("New name for Opening"), {
      target: { value: "Cold open" },
    });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));

    expect(await screen.findByRole("link", { name: "Cold open" })).toBeDefined();
    expect(calls.find((call) => call.method === "PATCH")?.body).toEqual({ name: "Cold open" });
  });

  it("sends no rename to the same name, and says why one was refused", async () => {
    const calls = fakeGateway({
      "GET /v1/canvases": () => [200, { canvases: [canvas("c1", "Opening")], next_page_token: "" }],
      "PATCH /v1/canvases/c1": () => problem(409, "a canvas of yours has that name"),
    });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Rename Opening" }));
    fireEvent.change(screen.getByLabelText("New name for Opening"), {
      target: { value: " Opening " },
    });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByRole("link", { name: "Opening" })).toBeDefined();
    expect(calls.some((call) => call.method === "PATCH")).toBe(false);

    fireEvent.click(screen.getByRole("button", { name: "Rename Opening" }));
    fireEvent.change(screen.getByLabelText("New name for Opening"), { target: { value: "Chase" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const refused = await screen.findByRole("alert");
    expect(refused.textContent).toBe("A canvas of yours has that name.");
    expect(screen.getByLabelText<HTMLInputElement>("New name for Opening").value).toBe("Chase");
  });

  it("closes the new canvas form on Escape without making one", async () => {
    const calls = fakeGateway({
      "GET /v1/canvases": () => [200, { canvases: [], next_page_token: "" }],
    });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "New canvas" }));
    fireEvent.keyDown(screen.getByLabelText("Name"), { key: "Escape" });
    expect(screen.queryByLabelText("Name")).toBeNull();
    expect(screen.getByRole("button", { name: "New canvas" })).toBeDefined();
    expect(calls.every((call) => call.method === "GET")).toBe(true);
  });

  it("deletes only after the confirmation", async () => {
    const calls = fakeGateway({
      "GET /v1/canvases": () => [
        200,
        { canvases: [canvas("c1", "Opening"), canvas("c2", "Chase")], next_page_token: "" },
      ],
      "DELETE /v1/canvases/c1": () => [204],
    });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Delete Opening" }));
    const dialog = screen.getByRole("dialog", { name: "Delete Opening?" });
    expect(calls.some((call) => call.method === "DELETE")).toBe(false);

    fireEvent.click(within(dialog).getByRole("button", { name: "Delete" }));

    await waitFor(() => {
      expect(screen.queryByRole("link", { name: "Opening" })).toBeNull();
    });
    expect(names()).toEqual(["Chase"]);
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("shares with a person by name, lists the shares and removes one", async () => {
    let shares = [{ user_id: "user-bo", user_name: "bo", access: "read" }];
    const calls = fakeGateway({
      "GET /v1/canvases": () => [200, { canvases: [canvas("c1", "Opening")], next_page_token: "" }],
      "GET /v1/canvases/c1/shares": () => [200, { shares }],
      "POST /v1/canvases/c1/shares": (call) => {
        const { user, access } = call.body as { user: string; access: string };
        shares = shares.filter((share) => share.user_name !== user);
        if (access !== "none") shares.push({ user_id: `user-${user}`, user_name: user, access });
        return [200, { canvas_id: "c1", user_id: `user-${user}`, access }];
      },
    });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Share Opening" }));
    const dialog = screen.getByRole("dialog", { name: "Share Opening" });
    expect(await within(dialog).findByText("bo")).toBeDefined();

    fireEvent.change(within(dialog).getByLabelText("User name or email"), {
      target: { value: "cy@example.com" },
    });
    fireEvent.change(within(dialog).getByLabelText("Access"), { target: { value: "write" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Share" }));
    expect(await within(dialog).findByText("cy@example.com")).toBeDefined();

    fireEvent.click(within(dialog).getByRole("button", { name: "Remove bo" }));
    await waitFor(() => {
      expect(within(dialog).queryByText("bo")).toBeNull();
    });
    expect(calls.filter((call) => call.method === "POST").map((call) => call.body)).toEqual([
      { user: "cy@example.com", access: "write" },
      { user: "bo", access: "none" },
    ]);
  });
});

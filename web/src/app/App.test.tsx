// @vitest-environment happy-dom
import { cleanup, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "../api/http";
import { App } from "./App";
import { ErrorBoundary } from "./ErrorBoundary";
import { fakeGateway, identity, renderAt } from "./testing";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

function Gone(): never {
  throw new ApiError({
    type: "about:blank",
    title: "Not found",
    status: 404,
    detail: "no canvas c9",
  });
}

describe("the shell", () => {
  it("shows the header and a not-found page for an unknown path", () => {
    fakeGateway({});
    renderAt("/storyboards/7", <App />, identity("ada"));
    expect(screen.getByRole("heading", { name: "Page not found" })).toBeDefined();
    expect(screen.getByRole("link", { name: "Canvases" })).toBeDefined();
    expect(screen.getByRole("link", { name: "API keys" })).toBeDefined();
    expect(screen.getByRole("button", { name: "Sign out" })).toBeDefined();
    expect(screen.getByText("ada")).toBeDefined();
  });

  it("shows what failed instead of a blank page when a page throws", () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    renderAt(
      "/",
      <ErrorBoundary>
        <Gone />
      </ErrorBoundary>,
      identity("ada"),
    );
    expect(screen.getByRole("heading", { name: "Something went wrong" })).toBeDefined();
    expect(screen.getByText("No canvas c9.")).toBeDefined();
    expect(screen.getByRole("button", { name: "Reload the page" })).toBeDefined();
  });
});

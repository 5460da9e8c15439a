// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setCsrfToken } from "../api/http";
import { App } from "../app/App";
import { fakeGateway, identity, problem, renderAt } from "../app/testing";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  setCsrfToken(undefined);
});

function signIn(userName: string, password: string) {
  fireEvent.change(screen.getByLabelText("User name"), { target: { value: userName } });
  fireEvent.change(screen.getByLabelText("Password"), { target: { value: password } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
}

const signedIn = { identity: identity("ada"), csrf_token: "csrf-1" };

describe("the sign-in page", () => {
  it("says why a refused sign-in (401) failed, and stays", async () => {
    const calls = fakeGateway({
      "POST /v1/auth/login": () => problem(401, "user name or password is wrong"),
    });
    renderAt("/signin", <App />, null);
    signIn("ada", "not the password");

    expect(await screen.findByRole("alert")).toHaveProperty(
      "textContent",
      "User name or password is wrong.",
    );
    expect(screen.getByLabelText<HTMLInputElement>("Password").value).toBe("");
    expect(screen.getByRole("button", { name: "Sign in" })).toBeDefined();
    expect(calls.map((call) => call.body)).toEqual([
      { user_name: "ada", password: "not the password" },
    ]);
  });

  it("sends a signed-out visit to sign in, then back to the page asked for", async () => {
    const calls = fakeGateway({
      "POST /v1/auth/login": () => [200, signedIn],
      "GET /v1/keys": () => [200, { keys: [], next_page_token: "" }],
    });
    renderAt("/keys?from=mail", <App />, null);

    expect(await screen.findByRole("button", { name: "Sign in" })).toBeDefined();
    signIn("ada", "correct horse battery");

    expect(await screen.findByRole("heading", { name: "API keys" })).toBeDefined();
    expect(screen.getByText("ada")).toBeDefined();
    // The live connection's stream token aside, the page asked for exactly what it shows.
    const asked = calls
      .map((call) => `${call.method} ${call.path}`)
      .filter((call) => call !== "POST /v1/events/tokens");
    expect(asked).toEqual(["POST /v1/auth/login", "GET /v1/keys"]);
  });

  it("goes to the canvas list when next leaves the site", async () => {
    fakeGateway({
      "POST /v1/auth/login": () => [200, signedIn],
      "GET /v1/canvases": () => [200, { canvases: [], next_page_token: "" }],
    });
    renderAt(`/signin?next=${encodeURIComponent("//evil.example/canvases")}`, <App />, null);
    signIn("ada", "correct horse battery");

    expect(await screen.findByRole("heading", { name: "Canvases" })).toBeDefined();
  });

  it("signs out, then loads the sign-in page afresh (nothing of the person kept)", async () => {
    const calls = fakeGateway({
      "GET /v1/canvases": () => [200, { canvases: [], next_page_token: "" }],
      "POST /v1/auth/logout": () => [204],
    });
    const load = vi.spyOn(window.location, "assign").mockImplementation(() => undefined);
    renderAt("/", <App />, identity("ada"));
    expect(await screen.findByText(/No canvases yet/)).toBeDefined();

    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));

    await waitFor(() => {
      expect(load).toHaveBeenCalledWith("/signin");
    });
    // The live connection asks for its stream token on its own schedule, so it is left out.
    const asked = calls
      .map((call) => `${call.method} ${call.path}`)
      .filter((call) => call !== "POST /v1/events/tokens");
    expect(asked.at(-1)).toBe("POST /v1/auth/logout");
  });
});

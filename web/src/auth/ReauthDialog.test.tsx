// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
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

const noKeys = { keys: [], next_page_token: "" };
const newKey = {
  key_id: "k1",
  name: "render farm",
  prefix: "sg_abcd",
  scopes: ["read"],
  key: "sg_abcd_the_whole_secret",
};

/** Starts making a key named "render farm" whose first try finds the session gone. */
async function createKeyIntoExpiredSession() {
  const calls = fakeGateway({
    "GET /v1/keys": () => [200, noKeys],
    "POST /v1/keys": [() => problem(401, "the session has expired"), () => [201, newKey]],
    "GET /v1/auth/session": () => problem(401, "sign in"),
    "POST /v1/auth/login": [() => [200, { identity: identity("ada"), csrf_token: "csrf-new" }]],
  });
  renderAt("/keys", <App />, identity("ada"));
  fireEvent.change(await screen.findByLabelText("Key name"), {
    target: { value: "render farm" },
  });
  fireEvent.click(screen.getByRole("button", { name: "Create key" }));
  const dialog = await screen.findByRole("dialog", { name: "Sign in again" });
  return { calls, dialog };
}

describe("signing in again", () => {
  it("asks over the page as it is, then finishes what was being done", async () => {
    const { calls, dialog } = await createKeyIntoExpiredSession();
    // The page behind is still there, with what was typed.
    expect(screen.getByLabelText<HTMLInputElement>("Key name").value).toBe("render farm");
    expect(within(dialog).getByLabelText<HTMLInputElement>("User name").value).toBe("ada");

    fireEvent.change(within(dialog).getByLabelText("Password"), {
      target: { value: "correct horse battery" },
    });
    fireEvent.click(within(dialog).getByRole("button", { name: "Sign in" }));

    expect(await screen.findByText(/you will not see it again/)).toBeDefined();
    expect(screen.getByLabelText("New API key").textContent).toBe(newKey.key);
    expect(screen.queryByRole("dialog", { name: "Sign in again" })).toBeNull();
    const creates = calls.filter((call) => call.method === "POST" && call.path === "/v1/keys");
    expect(creates.map((call) => [call.csrf, call.body])).toEqual([
      [null, { name: "render farm", scopes: ["read", "write"], expires_in_days: 90 }],
      ["csrf-new", { name: "render farm", scopes: ["read", "write"], expires_in_days: 90 }],
    ]);
  });

  it("starts over when someone else signs in", async () => {
    const { calls, dialog } = await createKeyIntoExpiredSession();
    const restart = vi.spyOn(window.location, "replace").mockImplementation(() => undefined);
    fakeGateway({
      "POST /v1/auth/login": () => [200, { identity: identity("grace"), csrf_token: "csrf-g" }],
      "POST /v1/keys": () => [201, newKey],
    });

    fireEvent.change(within(dialog).getByLabelText("User name"), { target: { value: "grace" } });
    fireEvent.change(within(dialog).getByLabelText("Password"), {
      target: { value: "another good password" },
    });
    fireEvent.click(within(dialog).getByRole("button", { name: "Sign in" }));

    await waitFor(() => {
      expect(restart).toHaveBeenCalledWith("/");
    });
    expect(calls.filter((call) => call.path === "/v1/keys" && call.method === "POST")).toHaveLength(
      1,
    );
    expect(screen.queryByText(/you will not see it again/)).toBeNull();
  });

  it("takes the session another tab renewed without asking", async () => {
    const calls = fakeGateway({
      "GET /v1/keys": () => [200, noKeys],
      "POST /v1/keys": [
        () => problem(403, "the CSRF token is not this session's; fetch a new one"),
        () => [201, newKey],
      ],
      "GET /v1/auth/session": () => [200, { identity: identity("ada"), csrf_token: "csrf-tab" }],
    });
    setCsrfToken("csrf-old");
    renderAt("/keys", <App />, identity("ada"));
    fireEvent.change(await screen.findByLabelText("Key name"), {
      target: { value: "render farm" },
    });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));

    expect(await screen.findByText(/you will not see it again/)).toBeDefined();
    expect(screen.queryByRole("dialog")).toBeNull();
    const creates = calls.filter((call) => call.method === "POST" && call.path === "/v1/keys");
    expect(creates.map((call) => call.csrf)).toEqual(["csrf-old", "csrf-tab"]);
  });
});

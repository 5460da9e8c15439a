// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeGateway, identity, renderAt } from "../app/testing";
import { KeysPage } from "./KeysPage";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const SECRET = "sg_live_4f9a_this_is_the_whole_secret";
const listed = {
  key_id: "k1",
  name: "render farm",
  prefix: "sg_live_4f9a",
  scopes: ["read"],
  created_at: "2025-03-01T09:00:00Z",
};

describe("the API keys page", () => {
  it("shows a new key's secret once, then only its prefix", async () => {
    let keys: (typeof listed)[] = [];
    const calls = fakeGateway({
      "GET /v1/keys": () => [200, { keys, next_page_token: "" }],
      "POST /v1/keys": () => {
        keys = [listed];
        return [201, { ...listed, key: SECRET }];
      },
    });
    const { queries } = renderAt("/keys", <KeysPage />, identity("ada"));
    expect(await screen.findByText("No keys yet.")).toBeDefined();

    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "render farm" } });
    fireEvent.click(screen.getByRole("checkbox", { name: /write/ }));
    fireEvent.change(screen.getByLabelText("Expires"), { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));

    expect((await screen.findByLabelText("New API key")).textContent).toBe(SECRET);
    expect(screen.getByText(/you will not see it again/)).toBeDefined();
    expect(calls.find((call) => call.method === "POST")?.body).toEqual({
      name: "render farm",
      scopes: ["read"],
    });
    // The list is read again and shows the key by its prefix; the secret is kept nowhere else.
    await screen.findByText("render farm", { selector: ".key-name" });
    expect(
      JSON.stringify(
        queries
          .getQueryCache()
          .getAll()
          .map((q) => q.state.data),
      ),
    ).not.toContain(SECRET);

    fireEvent.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByText(SECRET)).toBeNull();
    expect(document.body.textContent).not.toContain(SECRET);
    expect(screen.getByText("sg_live_4f9a…")).toBeDefined();
  });

  it("offers the admin scope to admins only", async () => {
    fakeGateway({ "GET /v1/keys": () => [200, { keys: [], next_page_token: "" }] });
    renderAt("/keys", <KeysPage />, identity("ada"));
    await screen.findByText("No keys yet.");
    expect(screen.queryByRole("checkbox", { name: /admin/ })).toBeNull();
    cleanup();

    renderAt("/keys", <KeysPage />, identity("root", ["read", "write", "admin"]));
    await screen.findByText("No keys yet.");
    expect(screen.getByRole("checkbox", { name: /admin/ })).toBeDefined();
  });

  it("revokes a key after the confirmation", async () => {
    let keys = [listed] as (typeof listed & { revoked_at?: string })[];
    const calls = fakeGateway({
      "GET /v1/keys": () => [200, { keys, next_page_token: "" }],
      "DELETE /v1/keys/k1": () => {
        keys = [{ ...listed, revoked_at: "2025-03-02T09:00:00Z" }];
        return [204];
      },
    });
    renderAt("/keys", <KeysPage />, identity("ada"));
    fireEvent.click(await screen.findByRole("button", { name: "Revoke render farm" }));
    const dialog = screen.getByRole("dialog", { name: "Revoke render farm?" });
    fireEvent.click(within(dialog).getByRole("button", { name: "Revoke" }));

    await waitFor(() => {
      expect(screen.queryByRole("button", { name: "Revoke render farm" })).toBeNull();
    });
    expect(screen.getByText(/Revoked/)).toBeDefined();
    expect(calls.filter((call) => call.method === "DELETE")).toHaveLength(1);
  });
});

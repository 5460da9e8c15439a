// @vitest-environment happy-dom
import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setCsrfToken } from "../api/http";
import { App } from "../app/App";
import { fakeGateway, identity, renderAt } from "../app/testing";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  setCsrfToken(undefined);
});

function fill(label: string, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe("the invitation page", () => {
  it("marks what breaks the password rules, and sends nothing", () => {
    const calls = fakeGateway({});
    renderAt("/invite#token=inv-123", <App />, null);
    fill("User name", "ada");
    fill("Password", "short");
    fill("Repeat the password", "shorter");
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));

    const password = screen.getByLabelText("Password");
    expect(password.getAttribute("aria-invalid")).toBe("true");
    const described = password.getAttribute("aria-describedby")?.split(" ") ?? [];
    const messages = described.map((id) => document.getElementById(id)?.textContent);
    expect(messages).toContain("Use at least 10 characters.");
    expect(screen.getByLabelText("Repeat the password").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("User name").getAttribute("aria-invalid")).toBeNull();
    expect(calls).toEqual([]);
  });

  it("refuses the user name as the password", () => {
    fakeGateway({});
    renderAt("/invite#token=inv-123", <App />, null);
    fill("User name", "adalovelace");
    fill("Password", "AdaLovelace");
    fill("Repeat the password", "AdaLovelace");
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(screen.getByText("The password must not be the user name.")).toBeDefined();
  });

  it("makes the account with the token from the link, then opens the canvases", async () => {
    const calls = fakeGateway({
      "POST /v1/invites/accept": () => [201, { identity: identity("ada"), csrf_token: "c" }],
      "GET /v1/canvases": () => [200, { canvases: [], next_page_token: "" }],
    });
    renderAt("/invite#token=inv-123", <App />, null);
    fill("User name", "ada");
    fill("Password", "a long enough password");
    fill("Repeat the password", "a long enough password");
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));

    expect(await screen.findByRole("heading", { name: "Canvases" })).toBeDefined();
    expect(calls[0]?.body).toEqual({
      token: "inv-123",
      user_name: "ada",
      password: "a long enough password",
    });
  });

  it("says so when the link has no token", () => {
    renderAt("/invite", <App />, null);
    expect(screen.getByRole("alert").textContent).toContain("invitation link is incomplete");
  });
});

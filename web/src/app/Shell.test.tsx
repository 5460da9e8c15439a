// @vitest-environment happy-dom
import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Route, Routes } from "react-router";

import { Shell } from "./Shell";
import { fakeGateway, identity, renderAt } from "./testing";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderShell() {
  fakeGateway({});
  renderAt(
    "/somewhere",
    <Routes>
      <Route element={<Shell />}>
        <Route path="*" element={<p>The page</p>} />
      </Route>
    </Routes>,
    identity("ada"),
  );
  const menu = screen.getByRole("button", { name: "Menu" });
  const controlled = document.getElementById(menu.getAttribute("aria-controls") ?? "");
  if (controlled === null) throw new Error("the menu button controls nothing");
  return { menu, controlled };
}

describe("the header's menu (a phone's)", () => {
  it("holds the links and sign-out, and says whether it is open", () => {
    const { menu, controlled } = renderShell();
    expect(controlled.contains(screen.getByRole("link", { name: "API keys" }))).toBe(true);
    expect(controlled.contains(screen.getByRole("button", { name: "Sign out" }))).toBe(true);
    expect(menu.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(menu);
    expect(menu.getAttribute("aria-expanded")).toBe("true");
    expect(controlled.classList.contains("is-open")).toBe(true);
    fireEvent.click(menu);
    expect(menu.getAttribute("aria-expanded")).toBe("false");
  });

  it("closes on Escape, focus back on its button", () => {
    const { menu, controlled } = renderShell();
    fireEvent.click(menu);
    const link = screen.getByRole("link", { name: "API keys" });
    link.focus();
    fireEvent.keyDown(link, { key: "Escape" });
    expect(menu.getAttribute("aria-expanded")).toBe("false");
    expect(controlled.classList.contains("is-open")).toBe(false);
    expect(document.activeElement).toBe(menu);
  });

  it("closes when a link in it is followed, even to the page already shown", () => {
    const { menu } = renderShell();
    fireEvent.click(menu);
    fireEvent.click(screen.getByRole("link", { name: "API keys" }));
    expect(menu.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(menu);
    fireEvent.click(screen.getByRole("link", { name: "API keys" }));
    expect(menu.getAttribute("aria-expanded")).toBe("false");
  });
});

// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { NetworkError } from "../api/http";
import { LazyPart } from "./LazyPart";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function Greeting({ name }: { name: string }) {
  return <p>Hello {name}</p>;
}

describe("LazyPart", () => {
  it("shows the part once its chunk arrives", async () => {
    render(<LazyPart load={() => Promise.resolve({ default: Greeting })} props={{ name: "Ada" }} what="greeting" fallback={<p>Loading…</p>} />);
    expect(screen.getByText("Loading…")).toBeTruthy();
    expect(await screen.findByText("Hello Ada")).toBeTruthy();
  });

  it("says so when the chunk cannot be fetched, and fetches it again on request", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const load = vi
      .fn<() => Promise<{ default: typeof Greeting }>>()
      .mockRejectedValueOnce(new NetworkError(new TypeError("Failed to fetch dynamically imported module")))
      .mockResolvedValue({ default: Greeting });
    render(
      <div>
        <p>The rest of the panel</p>
        <LazyPart load={load} props={{ name: "Ada" }} what="greeting" fallback={<p>Loading…</p>} />
      </div>,
    );
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toMatch(/^The greeting could not be loaded\. The studio cannot reach the server/);
    expect(screen.getByText("The rest of the panel")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Hello Ada")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(load).toHaveBeenCalledTimes(2);
  });
});

// @vitest-environment happy-dom
import { QueryClientProvider, useInfiniteQuery } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { ApiError } from "../api/http";
import { PagedList } from "./PagedList";
import { createQueryClient, cursorPages } from "./queries";

afterEach(cleanup);

interface Page {
  names: string[];
  next_page_token: string;
}

type Server = (cursor: string) => Page | ApiError;

function Names({ server }: { server: Server }) {
  const list = useInfiniteQuery(
    cursorPages(["names"], (cursor) => {
      const answer = server(cursor);
      return answer instanceof ApiError ? Promise.reject(answer) : Promise.resolve(answer);
    }),
  );
  const names = list.data?.pages.flatMap((page) => page.names) ?? [];
  return (
    <PagedList list={list} count={names.length} loading="Loading names…" empty={<p>No names.</p>}>
      <ul>
        {names.map((name) => (
          <li key={name}>{name}</li>
        ))}
      </ul>
    </PagedList>
  );
}

function renderNames(server: Server) {
  render(
    <QueryClientProvider client={createQueryClient()}>
      <Names server={server} />
    </QueryClientProvider>,
  );
}

const gone = new ApiError({
  type: "about:blank",
  title: "Gone",
  status: 410,
  detail: "page expired",
});

function shown(): string[] {
  return screen.queryAllByRole("listitem").map((item) => item.textContent);
}

describe("PagedList over cursorPages", () => {
  it("reads the next page by its token, and stops when the token is empty", async () => {
    const asked: string[] = [];
    renderNames((cursor) => {
      asked.push(cursor);
      return cursor === ""
        ? { names: ["ada", "bo"], next_page_token: "p2" }
        : { names: ["cy"], next_page_token: "" };
    });
    expect(screen.getByText("Loading names…")).toBeDefined();
    await screen.findByText("bo");

    fireEvent.click(screen.getByRole("button", { name: "Load more" }));

    await screen.findByText("cy");
    expect(shown()).toEqual(["ada", "bo", "cy"]);
    expect(asked).toEqual(["", "p2"]);
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    expect(screen.queryByText("Loading names…")).toBeNull();
  });

  it("keeps what it read when a next page fails, and says so below the button", async () => {
    renderNames((cursor) => (cursor === "" ? { names: ["ada"], next_page_token: "p2" } : gone));
    await screen.findByText("ada");

    fireEvent.click(screen.getByRole("button", { name: "Load more" }));

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Page expired.");
    expect(shown()).toEqual(["ada"]);
    const more = screen.getByRole("button", { name: "Load more" });
    // The failure is told where it happened: after the button that asked.
    expect(more.compareDocumentPosition(alert) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it("says why the first page failed, and is not called empty", async () => {
    renderNames(() => gone);
    expect((await screen.findByRole("alert")).textContent).toBe("Page expired.");
    expect(screen.queryByText("No names.")).toBeNull();
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
  });

  it("shows the empty message for a list with nothing in it", async () => {
    renderNames(() => ({ names: [], next_page_token: "" }));
    expect(await screen.findByText("No names.")).toBeDefined();
    expect(screen.queryByRole("list")).toBeNull();
  });
});

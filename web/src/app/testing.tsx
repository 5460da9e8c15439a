// Test helpers: a fake gateway behind `fetch`, and the studio rendered at a path with a
// person signed in (or not). Used by the component tests only.

import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";

import type { Identity } from "../api/auth";
import { createQueryClient } from "./queries";
import { IdentityContext, SESSION_KEY } from "./session";

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  csrf: string | null;
}

/** What a route answers: a status and a JSON body (a problem when the status fails). */
export type Answer = [number, unknown?];
export type Route = (call: Call) => Answer | Promise<Answer>;

/** Routes by "METHOD /path" (no query); a route given as a list answers with each in turn,
 * then keeps answering with the last. Every call is recorded, in order. */
export function fakeGateway(routes: Record<string, Route | Route[]>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, "https://studio.test");
    const method = init.method ?? "GET";
    const call: Call = {
      method,
      path: url.pathname,
      query: url.searchParams,
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
      csrf: new Headers(init.headers).get("X-CSRF-Token"),
    };
    calls.push(call);
    const key = `${method} ${url.pathname}`;
    const route = routes[key];
    const handler = Array.isArray(route) ? (route.length > 1 ? route.shift() : route[0]) : route;
    if (handler === undefined) throw new Error(`the fake gateway has no route ${key}`);
    const [status, body] = await handler(call);
    if (body === undefined) return new Response(null, { status });
    const type = status >= 400 ? "application/problem+json" : "application/json";
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
  });
  return calls;
}

export function problem(status: number, detail: string): Answer {
  return [status, { type: "about:blank", title: "Refused", status, detail }];
}

export function identity(name = "ada", scopes: string[] = ["read", "write"]): Identity {
  return {
    user_id: `user-${name}`,
    user_name: name,
    credential_kind: "session",
    credential_id: `session-${name}`,
    scopes,
    plan: "studio",
    expires_at: null,
  };
}

/** `ui` at `path` in a memory router, with `who` signed in (null: no one). */
export function renderAt(path: string, ui: ReactNode, who: Identity | null) {
  const queries: QueryClient = createQueryClient();
  queries.setQueryData(SESSION_KEY, who);
  const view = render(
    <QueryClientProvider client={queries}>
      <MemoryRouter initialEntries={[path]}>
        <IdentityContext value={who}>{ui}</IdentityContext>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { ...view, queries };
}

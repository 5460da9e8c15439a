import { afterEach, describe, expect, it, vi } from "vitest";

import { ApiError, problemOf, request, setCsrfToken } from "./http";

describe("problemOf", () => {
  it("reads the gateway's problem document", async () => {
    const body = { type: "about:blank", title: "Not Found", status: 404, detail: "no such canvas" };
    const response = new Response(JSON.stringify(body), {
      status: 404,
      headers: { "Content-Type": "application/problem+json" },
    });
    expect(await problemOf(response)).toEqual(body);
  });

  it("makes a problem from the status when the body is not one", async () => {
    const response = new Response("<html>bad gateway</html>", {
      status: 502,
      statusText: "Bad Gateway",
      headers: { "Content-Type": "text/html" },
    });
    expect(await problemOf(response)).toEqual({
      type: "about:blank",
      title: "Bad Gateway",
      status: 502,
    });
  });
});

describe("request", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    setCsrfToken(undefined);
  });

  it("sends the CSRF token on a state-changing call only, and throws the problem", async () => {
    const seen: Headers[] = [];
    vi.stubGlobal("fetch", (_path: string, init: RequestInit) => {
      seen.push(new Headers(init.headers));
      return Promise.resolve(
        new Response(JSON.stringify({ title: "Conflict", status: 409 }), {
          status: 409,
          headers: { "Content-Type": "application/problem+json" },
        }),
      );
    });
    setCsrfToken("token-1");
    await expect(request("GET", "/v1/canvases")).rejects.toBeInstanceOf(ApiError);
    await expect(request("POST", "/v1/canvases", { name: "a" })).rejects.toMatchObject({
      status: 409,
    });
    expect(seen.map((headers) => headers.get("X-CSRF-Token"))).toEqual([null, "token-1"]);
  });
});

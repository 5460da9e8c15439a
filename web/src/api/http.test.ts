import { afterEach, describe, expect, it, vi } from "vitest";

import {
  ApiError,
  NetworkError,
  problemOf,
  request,
  setCsrfToken,
  setReauthenticate,
  type ReauthReason,
} from "./http";

interface Sent {
  method: string;
  path: string;
  csrf: string | null;
  body: unknown;
}

function problem(status: number, detail: string): Response {
  return new Response(JSON.stringify({ type: "about:blank", title: "Refused", status, detail }), {
    status,
    headers: { "Content-Type": "application/problem+json" },
  });
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/** A fake fetch answering each call with the next of `answers` for its path; records calls. */
function fakeFetch(answers: Record<string, (() => Response | Promise<Response>)[]>): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal("fetch", async (path: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    sent.push({
      method: init.method ?? "GET",
      path,
      csrf: headers.get("X-CSRF-Token"),
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
    });
    const next = answers[path]?.shift();
    if (next === undefined) throw new Error(`no answer left for ${path}`);
    return next();
  });
  return sent;
}

/** A sign-in the test finishes by hand, counting how often it was asked for. */
function manualSignIn() {
  const asked: ReauthReason[] = [];
  let finish: (() => void) | undefined;
  let fail: ((error: Error) => void) | undefined;
  setReauthenticate((reason) => {
    asked.push(reason);
    return new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
  });
  return {
    asked,
    finish(token?: string) {
      setCsrfToken(token);
      if (finish === undefined) throw new Error("no sign-in was asked for");
      finish();
    },
    fail() {
      fail?.(new Error("gave up"));
    },
  };
}

/** Lets every pending promise callback run (the fake fetch answers synchronously). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(undefined);
  setReauthenticate(undefined);
});

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
  it("sends the CSRF token on a state-changing call only, and throws the problem", async () => {
    const sent = fakeFetch({
      "/v1/canvases": [() => problem(409, "stale"), () => problem(409, "stale")],
    });
    setCsrfToken("token-1");
    await expect(request("GET", "/v1/canvases")).rejects.toBeInstanceOf(ApiError);
    await expect(request("POST", "/v1/canvases", { name: "a" })).rejects.toMatchObject({
      status: 409,
    });
    expect(sent.map((call) => call.csrf)).toEqual([null, "token-1"]);
  });

  it("keeps a problem's extension members", async () => {
    fakeFetch({
      "/v1/canvases/c1/versions": [
        () => json({ type: "x", title: "Conflict", status: 409, current_version: 7 }, 409),
      ],
    });
    const failure = await request("POST", "/v1/canvases/c1/versions", {}).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).problem.current_version).toBe(7);
  });

  it("answers undefined for 204", async () => {
    fakeFetch({ "/v1/keys/k1": [() => new Response(null, { status: 204 })] });
    await expect(request("DELETE", "/v1/keys/k1")).resolves.toBeUndefined();
  });
});

describe("re-authentication", () => {
  it("on a 401 waits for the sign-in, then retries and succeeds", async () => {
    const signIn = manualSignIn();
    const sent = fakeFetch({
      "/v1/canvases": [() => problem(401, "session expired"), () => json({ id: "c1" }, 201)],
    });
    setCsrfToken("old");
    const created = request("POST", "/v1/canvases", { name: "Opening" });
    await settle();
    expect(signIn.asked).toEqual(["unauthenticated"]);
    expect(sent).toHaveLength(1);

    signIn.finish("fresh");
    await expect(created).resolves.toEqual({ id: "c1" });
    expect(sent.map((call) => [call.csrf, call.body])).toEqual([
      ["old", { name: "Opening" }],
      ["fresh", { name: "Opening" }],
    ]);
  });

  it("asks once for two calls refused at the same time", async () => {
    const signIn = manualSignIn();
    fakeFetch({
      "/v1/canvases": [() => problem(401, "expired"), () => json({ canvases: [] })],
      "/v1/keys": [() => problem(401, "expired"), () => json({ keys: [] })],
    });
    const both = Promise.all([request("GET", "/v1/canvases"), request("GET", "/v1/keys")]);
    await settle();
    expect(signIn.asked).toHaveLength(1);
    signIn.finish("fresh");
    await expect(both).resolves.toEqual([{ canvases: [] }, { keys: [] }]);
    expect(signIn.asked).toHaveLength(1);
  });

  it("holds a call made during the sign-in until it is done", async () => {
    const signIn = manualSignIn();
    const sent = fakeFetch({
      "/v1/canvases": [() => problem(401, "expired"), () => json({ canvases: [] })],
      "/v1/keys": [() => json({ keys: [] })],
    });
    const first = request("GET", "/v1/canvases");
    await settle();
    const later = request("POST", "/v1/keys", { name: "ci" });
    await settle();
    expect(sent.map((call) => call.path)).toEqual(["/v1/canvases"]);

    signIn.finish("fresh");
    await expect(Promise.all([first, later])).resolves.toEqual([{ canvases: [] }, { keys: [] }]);
    expect(sent.find((call) => call.path === "/v1/keys")?.csrf).toBe("fresh");
    expect(signIn.asked).toHaveLength(1);
  });

  it("retries without asking again when the 401 comes after a sign-in that began later", async () => {
    const signIn = manualSignIn();
    let answerSlowCall: ((response: Response) => void) | undefined;
    const sent = fakeFetch({
      "/v1/canvases": [() => problem(401, "expired"), () => json({ canvases: [] })],
      "/v1/keys": [
        () =>
          new Promise<Response>((resolve) => {
            answerSlowCall = resolve;
          }),
        () => json({ keys: [] }),
      ],
    });
    const slow = request("GET", "/v1/keys");
    const fast = request("GET", "/v1/canvases");
    await settle();
    signIn.finish("fresh");
    await expect(fast).resolves.toEqual({ canvases: [] });
    answerSlowCall?.(problem(401, "expired"));
    await expect(slow).resolves.toEqual({ keys: [] });
    expect(signIn.asked).toHaveLength(1);
    expect(sent.map((call) => call.path)).toEqual([
      "/v1/keys",
      "/v1/canvases",
      "/v1/canvases",
      "/v1/keys",
    ]);
  });

  it("on a CSRF refusal retries with the new token", async () => {
    const signIn = manualSignIn();
    const sent = fakeFetch({
      "/v1/canvases/c1/execute": [
        () => problem(403, "the CSRF token is not this session's; fetch a new one"),
        () => json({ canvas_id: "c1", version: 2, nodes: [] }, 202),
      ],
    });
    setCsrfToken("stale");
    const executed = request("POST", "/v1/canvases/c1/execute", {});
    await settle();
    expect(signIn.asked).toEqual(["csrf"]);
    signIn.finish("renewed");
    await expect(executed).resolves.toMatchObject({ version: 2 });
    expect(sent.map((call) => call.csrf)).toEqual(["stale", "renewed"]);
  });

  it("does not ask for a 403 that is not about CSRF", async () => {
    const signIn = manualSignIn();
    fakeFetch({ "/v1/invites": [() => problem(403, "inviting needs the 'admin' scope")] });
    await expect(request("POST", "/v1/invites", {})).rejects.toMatchObject({ status: 403 });
    expect(signIn.asked).toEqual([]);
  });

  it("never asks when signing in itself is refused", async () => {
    const signIn = manualSignIn();
    fakeFetch({ "/v1/auth/login": [() => problem(401, "user name or password is wrong")] });
    await expect(
      request("POST", "/v1/auth/login", { user_name: "a", password: "b" }),
    ).rejects.toMatchObject({ status: 401 });
    expect(signIn.asked).toEqual([]);
  });

  it("fails with the original problem when the sign-in is given up", async () => {
    const signIn = manualSignIn();
    const sent = fakeFetch({ "/v1/canvases": [() => problem(401, "expired")] });
    const listed = request("GET", "/v1/canvases");
    await settle();
    signIn.fail();
    await expect(listed).rejects.toMatchObject({ status: 401 });
    expect(sent).toHaveLength(1);
  });

  it("retries only once", async () => {
    const signIn = manualSignIn();
    const sent = fakeFetch({
      "/v1/canvases": [() => problem(401, "expired"), () => problem(401, "expired again")],
    });
    const listed = request("GET", "/v1/canvases");
    await settle();
    signIn.finish("fresh");
    await expect(listed).rejects.toMatchObject({ message: "expired again" });
    expect(sent).toHaveLength(2);
    expect(signIn.asked).toHaveLength(1);
  });

  it("throws the 401 when no one can sign the person in", async () => {
    fakeFetch({ "/v1/canvases": [() => problem(401, "expired")] });
    await expect(request("GET", "/v1/canvases")).rejects.toMatchObject({ status: 401 });
  });
});

describe("network failures", () => {
  it("throw a NetworkError, not an ApiError", async () => {
    fakeFetch({
      "/v1/canvases/c1/versions": [
        () => {
          throw new TypeError("Failed to fetch");
        },
      ],
    });
    const failure = await request("POST", "/v1/canvases/c1/versions", {}).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(NetworkError);
    expect(failure).not.toBeInstanceOf(ApiError);
    expect((failure as NetworkError).cause).toBeInstanceOf(TypeError);
  });

  it("an aborted call rejects with its abort reason", async () => {
    vi.stubGlobal("fetch", (_path: string, init: RequestInit) => {
      init.signal?.throwIfAborted();
      return Promise.resolve(json({}));
    });
    const controller = new AbortController();
    controller.abort(new DOMException("left the page", "AbortError"));
    const failure = await request("GET", "/v1/canvases", undefined, {
      signal: controller.signal,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DOMException);
    expect((failure as DOMException).message).toBe("left the page");
  });

  it("passes keepalive on to fetch", async () => {
    const seen: RequestInit[] = [];
    vi.stubGlobal("fetch", (_path: string, init: RequestInit) => {
      seen.push(init);
      return Promise.resolve(json({}));
    });
    await request("POST", "/v1/canvases/c1/versions", {}, { keepalive: true });
    expect(seen[0]?.keepalive).toBe(true);
  });
});

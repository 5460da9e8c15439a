import { afterEach, describe, expect, it, vi } from "vitest";

import { batch, valueOf } from "./batch";
import { openCanvas } from "./canvases";
import { ApiError } from "./http";

interface WireRequest {
  id: string;
  method: string;
  url: string;
  body?: unknown;
}

/** A fake gateway whose $batch answers each request with `answer(request)`. */
function fakeBatch(answer: (request: WireRequest) => { status: number; body?: unknown }) {
  const batches: { path: string; requests: WireRequest[] }[] = [];
  vi.stubGlobal("fetch", (path: string, init: RequestInit) => {
    const { requests } = JSON.parse(init.body as string) as { requests: WireRequest[] };
    batches.push({ path, requests });
    const responses = requests.map((request) => ({
      id: request.id,
      headers: {},
      ...answer(request),
    }));
    return Promise.resolve(
      new Response(JSON.stringify({ responses }), {
        status: 200,
        headers: { "Content-Type": "application/json" },
      }),
    );
  });
  return batches;
}

const notFound = {
  status: 404,
  body: {
    type: "https://shotgraph.dev/problems/not-found",
    title: "Not found",
    status: 404,
    detail: "no canvas c9",
  },
};

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("batch", () => {
  it("sends the calls relative to /v1 and answers each by its id", async () => {
    const batches = fakeBatch((request) =>
      request.id === "gone" ? notFound : { status: 200, body: { echoed: request.url } },
    );
    const answers = await batch([
      { id: "list", method: "GET", url: "/v1/canvases?cursor=abc" },
      { id: "gone", method: "GET", url: "/v1/canvases/c9" },
      { id: "make", method: "POST", url: "/v1/canvases", body: { name: "n" } },
    ]);
    expect(batches).toEqual([
      {
        path: "/v1/$batch",
        requests: [
          { id: "list", method: "GET", url: "/canvases?cursor=abc" },
          { id: "gone", method: "GET", url: "/canvases/c9" },
          { id: "make", method: "POST", url: "/canvases", body: { name: "n" } },
        ],
      },
    ]);
    expect(valueOf(answers, "list")).toEqual({ echoed: "/canvases?cursor=abc" });
    const gone = answers.get("gone");
    expect(gone?.ok).toBe(false);
    expect(() => valueOf(answers, "gone")).toThrow(ApiError);
    expect(() => valueOf(answers, "gone")).toThrow("no canvas c9");
  });

  it("gives a failure without a problem body a problem of its status", async () => {
    fakeBatch(() => ({ status: 502 }));
    const answers = await batch([{ id: "a", method: "GET", url: "/v1/canvases" }]);
    const answer = answers.get("a");
    expect(answer).toMatchObject({ ok: false, status: 502 });
    expect(answer?.ok === false && answer.error.status).toBe(502);
  });

  it("refuses more calls than the gateway takes, and paths outside the API", async () => {
    fakeBatch(() => ({ status: 200 }));
    const many = Array.from({ length: 21 }, (_, i) => ({
      id: String(i),
      method: "GET" as const,
      url: "/v1/canvases",
    }));
    await expect(batch(many)).rejects.toBeInstanceOf(RangeError);
    await expect(
      batch([{ id: "x", method: "GET", url: "//evil.example/v1" }]),
    ).rejects.toBeInstanceOf(RangeError);
  });
});

describe("openCanvas", () => {
  const canvas = {
    id: "c1",
    name: "Opening",
    version: 3,
    access: "owner",
    graph: { nodes: [], edges: [] },
  };
  const nodeTypes = [
    { name: "shot", title: "Shot", description: "", properties: {}, inputs: [], outputs: [] },
  ];
  const results = { canvas_id: "c1", version: 3, nodes: [] };

  it("reads the canvas, the node types and the results in one round trip", async () => {
    const batches = fakeBatch((request) => {
      if (request.url === "/canvases/c1?with=problems") return { status: 200, body: canvas };
      if (request.url === "/canvas-node-types")
        return { status: 200, body: { node_types: nodeTypes } };
      return { status: 200, body: results };
    });
    await expect(openCanvas("c1")).resolves.toEqual({ canvas, nodeTypes, results });
    expect(batches).toHaveLength(1);
    expect(batches[0]?.requests.map((request) => request.url)).toEqual([
      "/canvases/c1?with=problems",
      "/canvas-node-types",
      "/canvases/c1/results",
    ]);
  });

  it("throws the canvas's 404 when it is gone", async () => {
    fakeBatch((request) =>
      request.url === "/canvas-node-types"
        ? { status: 200, body: { node_types: nodeTypes } }
        : notFound,
    );
    await expect(openCanvas("c9")).rejects.toMatchObject({ status: 404 });
  });

  it("opens without results when they cannot be read", async () => {
    fakeBatch((request) => {
      if (request.url === "/canvases/c1?with=problems") return { status: 200, body: canvas };
      if (request.url === "/canvas-node-types")
        return { status: 200, body: { node_types: nodeTypes } };
      return { status: 503, body: { type: "about:blank", title: "Unavailable", status: 503 } };
    });
    await expect(openCanvas("c1")).resolves.toEqual({ canvas, nodeTypes, results: null });
  });
});

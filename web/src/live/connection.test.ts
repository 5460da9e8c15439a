import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "../api/http";
import { LiveConnection, type LiveConnectionOptions } from "./connection";
import { event, FakeNetwork, hello } from "./fakes";
import { MSGPACK_PROTOCOL, type EventMessage, type ServerMessage } from "./protocol";

const BASE = "https://studio.example/canvases/c1";

function setup(options: LiveConnectionOptions = {}) {
  const net = new FakeNetwork();
  const connection = new LiveConnection({
    baseUrl: BASE,
    webSocket: net.webSocket,
    eventSource: net.eventSource,
    streamToken: net.streamToken,
    random: () => 0.5,
    ...options,
  });
  const received: ServerMessage[] = [];
  connection.messages.add((message) => received.push(message));
  const seqs = () =>
    received.filter((m): m is EventMessage => m.type === "event").map((m) => m.seq);
  return { net, connection, received, seqs };
}

/** Lets the stream token's promise settle, and whatever timers are due at once. */
async function settle(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("connecting", () => {
  it("opens wss /v1/ws with a fresh stream token and the MessagePack subprotocol", async () => {
    const { net, connection } = setup({ topics: ["canvas:b", "canvas:a"] });
    connection.start();
    expect(connection.status).toBe("connecting");
    await settle();

    const socket = net.socket;
    expect(new URL(socket.url).origin).toBe("wss://studio.example");
    expect(new URL(socket.url).pathname).toBe("/v1/ws");
    expect(socket.query.get("token")).toBe("st_1");
    expect(socket.protocols).toEqual([MSGPACK_PROTOCOL]);
    expect(socket.binaryType).toBe("arraybuffer");

    socket.accept();
    // Nothing to resume from yet: one subscribe per topic.
    expect(socket.sent).toEqual([
      { type: "subscribe", topic: "canvas:a" },
      { type: "subscribe", topic: "canvas:b" },
    ]);
    socket.hello({ last_seq: 40 });
    expect(connection.status).toBe("live");
    expect(connection.lastSeq).toBe(40);
    connection.stop();
  });

  it("uses ws: under plain http", async () => {
    const { net, connection } = setup({ baseUrl: "http://127.0.0.1:8080/" });
    connection.start();
    await settle();
    expect(net.socket.url.startsWith("ws://127.0.0.1:8080/v1/ws?token=")).toBe(true);
    connection.stop();
  });

  it("sends subscribes and unsubscribes on a live socket, and resumes without refused topics", async () => {
    const { net, connection } = setup();
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.hello({ last_seq: 3 });
    connection.subscribe("canvas:a");
    connection.subscribe("canvas:x");
    connection.unsubscribe("canvas:a");
    expect(net.socket.sent).toEqual([
      { type: "subscribe", topic: "canvas:a" },
      { type: "subscribe", topic: "canvas:x" },
      { type: "unsubscribe", topic: "canvas:a" },
    ]);
    net.socket.frame({ type: "refused", topic: "canvas:x", reason: "not_allowed", detail: "" });
    expect(connection.topics.has("canvas:x")).toBe(false);

    connection.subscribe("canvas:b");
    net.socket.closeFromServer(1011);
    await settle(1_000);
    net.socket.accept();
    expect(net.socket.sent[0]).toEqual({ type: "resume", after: 3, topics: ["canvas:b"] });
    connection.stop();
  });

  it("answers a server that did not choose its subprotocol by closing and trying again", async () => {
    const { net, connection } = setup();
    connection.start();
    await settle();
    net.socket.accept("shotgraph.v1.json");
    expect(net.socket.closedWith).toBe(1000);
    expect(connection.status).toBe("offline");
    await settle(1_000);
    expect(net.sockets).toHaveLength(2);
    connection.stop();
  });

  it("treats a frame that is no array as the server's fault: closes and reconnects", async () => {
    const { net, connection, received } = setup();
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.hello();
    const first = net.socket;
    first.raw(new Uint8Array([0x01]).buffer); // the MessagePack integer 1
    expect(first.closedWith).toBe(1000);
    expect(connection.status).toBe("offline");
    await settle(1_000);
    expect(net.sockets).toHaveLength(2);
    expect(received.map((m) => m.type)).toEqual(["hello"]);
    connection.stop();
  });

  it("skips a message of a type it does not know, and keeps the others of the frame", async () => {
    const { net, connection, seqs } = setup();
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.frame(hello(), { type: "weather", sunny: true }, event(1));
    expect(seqs()).toEqual([1]);
    expect(connection.status).toBe("live");
    connection.stop();
  });
});

describe("resume", () => {
  it("resumes after a drop from the last seq and delivers no event twice", async () => {
    const { net, connection, seqs } = setup({ topics: ["canvas:a"] });
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.frame(hello({ last_seq: 10 }), event(11), event(12, "canvas:a"));
    net.socket.closeFromServer(1006);
    expect(connection.status).toBe("offline");
    connection.subscribe("canvas:b"); // asked for while disconnected: the resume carries it

    await settle(1_000);
    const second = net.socket;
    expect(net.sockets).toHaveLength(2);
    expect(second.query.get("token")).toBe("st_2");
    second.accept();
    expect(second.sent).toEqual([{ type: "resume", after: 12, topics: ["canvas:a", "canvas:b"] }]);
    // A replay that overlaps what was seen: only the new event goes on.
    second.frame(hello({ last_seq: 13 }), event(12, "canvas:a"), event(13));
    second.frame({ type: "resumed", after: 12, replayed: 2 }, event(13), event(14));
    expect(seqs()).toEqual([11, 12, 13, 14]);
    connection.stop();
  });

  it("resumes from the first hello's seq when the connection drops before any event", async () => {
    const { net, connection } = setup();
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.hello({ last_seq: 77 });
    net.socket.closeFromServer(1011);
    await settle(1_000);
    net.socket.accept();
    expect(net.socket.sent).toEqual([{ type: "resume", after: 77, topics: [] }]);
    connection.stop();
  });

  it("resumes from a seq it was given (another tab's) on its very first connection", async () => {
    const { net, connection } = setup({ lastSeq: 31, topics: ["canvas:a"] });
    connection.start();
    await settle();
    net.socket.accept();
    expect(net.socket.sent).toEqual([{ type: "resume", after: 31, topics: ["canvas:a"] }]);
    connection.stop();
  });

  it("hands a reset on and resumes from its last seq afterwards", async () => {
    const { net, connection, received } = setup({ lastSeq: 5 });
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.frame(hello({ last_seq: 900 }), {
      type: "reset",
      after: 5,
      first_seq: 400,
      last_seq: 900,
    });
    expect(received.at(-1)).toEqual({
      type: "reset",
      after: 5,
      first_seq: 400,
      last_seq: 900,
      reason: "history_gone",
    });
    net.socket.closeFromServer(1006);
    await settle(1_000);
    net.socket.accept();
    expect(net.socket.sent[0]).toEqual({ type: "resume", after: 900, topics: [] });
    connection.stop();
  });

  it("after a bad_resume takes events from the connection's start again", async () => {
    const { net, connection, seqs, received } = setup({ lastSeq: 5_000 });
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.frame(hello({ last_seq: 100 }), {
      type: "error",
      code: "bad_resume",
      detail: "after 5000 is beyond the stream",
    });
    expect(received.at(-1)?.type).toBe("error");
    net.socket.frame(event(101));
    expect(seqs()).toEqual([101]);
    connection.stop();
  });
});

describe("backoff", () => {
  it("waits up to a ceiling that doubles to its cap, and starts over after a healthy connection", async () => {
    const { net, connection } = setup({
      random: () => 0.5,
      backoff: { initialMs: 100, maxMs: 1_000, healthyMs: 5_000 },
      eventSource: null,
    });
    connection.start();
    await settle();
    for (const ceiling of [100, 200, 400, 800, 1_000, 1_000]) {
      const before = net.sockets.length;
      net.socket.closeFromServer(1006);
      const wait = connection.waits.at(-1) ?? NaN;
      expect(wait).toBe(ceiling / 2);
      await settle(wait - 1);
      expect(net.sockets).toHaveLength(before); // not a moment early
      await settle(1);
      expect(net.sockets).toHaveLength(before + 1);
    }
    net.socket.accept();
    net.socket.hello();
    await settle(5_000);
    net.socket.closeFromServer(1011);
    expect(connection.waits.at(-1)).toBe(50);
    connection.stop();
  });

  it("spreads the wait over the whole range below the ceiling (full jitter)", async () => {
    const draws = [0, 0.25, 0.75];
    const { net, connection } = setup({
      random: () => draws.shift() ?? 0,
      backoff: { initialMs: 1_000, maxMs: 1_000 },
      eventSource: null,
    });
    connection.start();
    for (let i = 0; i < 3; i++) {
      await settle(1_000);
      net.socket.closeFromServer(1006);
    }
    expect(connection.waits).toEqual([0, 250, 750]);
    connection.stop();
  });

  it("connects at once when the browser is back online instead of sitting out the wait", async () => {
    const { net, connection } = setup({ backoff: { initialMs: 10_000, maxMs: 10_000 } });
    connection.start();
    await settle();
    net.socket.closeFromServer(1006);
    expect(connection.status).toBe("offline");
    connection.retryNow();
    await settle();
    expect(net.sockets).toHaveLength(2);
    expect(connection.status).toBe("connecting");
    connection.stop();
  });
});

describe("close codes", () => {
  async function liveSocket(options: LiveConnectionOptions = {}) {
    const context = setup(options);
    context.connection.start();
    await settle();
    context.net.socket.accept();
    context.net.socket.hello();
    return context;
  }

  it("4401: stops and says signed out; restart() connects again", async () => {
    const { net, connection } = await liveSocket();
    net.socket.closeFromServer(4401, "revoked");
    expect(connection.status).toBe("signed_out");
    await settle(600_000);
    expect(net.sockets).toHaveLength(1);

    connection.restart();
    await settle();
    expect(net.sockets).toHaveLength(2);
    expect(connection.status).toBe("connecting");
    connection.stop();
  });

  it.each([4000, 4001, 4002, 1009])("%i: a client fault, stops with an error", async (code) => {
    const { net, connection } = await liveSocket();
    net.socket.closeFromServer(code, "bad message");
    expect(connection.status).toBe("failed");
    expect(connection.error).toContain(String(code));
    await settle(600_000);
    expect(net.sockets).toHaveLength(1);
  });

  it("4008: resumes at once, and backs off when it comes again before recovering", async () => {
    const { net, connection } = await liveSocket({ random: () => 0.5 });
    net.socket.closeFromServer(4008);
    expect(connection.waits).toEqual([0]);
    await settle();
    expect(net.sockets).toHaveLength(2);
    net.socket.accept();
    net.socket.hello();
    net.socket.closeFromServer(4008);
    expect(connection.waits[1]).toBeGreaterThan(0);
    connection.stop();
  });

  it("1012 after reconnect: comes back when after_ms says, not before", async () => {
    const { net, connection } = await liveSocket({ random: () => 0 });
    net.socket.frame({ type: "reconnect", after_ms: 3_000, reason: "draining" });
    await settle(1_000);
    net.socket.closeFromServer(1012);
    await settle(1_999);
    expect(net.sockets).toHaveLength(1);
    await settle(1);
    expect(net.sockets).toHaveLength(2);
    connection.stop();
  });

  it("reconnect: closes the socket itself when after_ms comes first", async () => {
    const { net, connection } = await liveSocket();
    const first = net.socket;
    first.frame({ type: "reconnect", after_ms: 2_000, reason: "draining" });
    await settle(1_999);
    expect(first.closedWith).toBeUndefined();
    await settle(1);
    expect(first.closedWith).toBe(1000);
    // The reconnection it scheduled, due at once (fake timers set while ticking add 1 ms).
    await settle(1);
    expect(net.sockets).toHaveLength(2);
    connection.stop();
  });

  it("1012 without reconnect (a gateway restarting): reconnects after a jittered backoff", async () => {
    const { net, connection } = await liveSocket({
      random: () => 0.5,
      backoff: { initialMs: 400, maxMs: 400 },
    });
    net.socket.closeFromServer(1012);
    expect(connection.waits).toEqual([200]);
    await settle(199);
    expect(net.sockets).toHaveLength(1);
    await settle(1);
    expect(net.sockets).toHaveLength(2);
    connection.stop();
  });
});

describe("stream tokens", () => {
  it("a 401 for the token means signed out, without opening anything", async () => {
    const { net, connection } = setup();
    net.tokenError = new ApiError({ type: "about:blank", title: "Unauthorized", status: 401 });
    connection.start();
    await settle();
    expect(connection.status).toBe("signed_out");
    expect(net.sockets).toHaveLength(0);
  });

  it("any other failure to get one is retried with backoff", async () => {
    const { net, connection } = setup({ random: () => 0.5, backoff: { initialMs: 100 } });
    net.tokenError = new ApiError({ type: "about:blank", title: "Unavailable", status: 503 });
    connection.start();
    await settle();
    expect(connection.status).toBe("offline");
    net.tokenError = null;
    await settle(50);
    expect(net.sockets).toHaveLength(1);
    connection.stop();
  });
});

describe("heartbeat", () => {
  it("pings every heartbeat and reconnects when a ping goes unanswered", async () => {
    const { net, connection } = setup({ random: () => 0 });
    connection.start();
    await settle();
    const socket = net.socket;
    socket.accept();
    socket.hello({ heartbeat_s: 20 });
    await settle(20_000);
    expect(socket.sent).toEqual([{ type: "ping", id: 1 }]);
    socket.frame({ type: "pong", id: 1 });
    await settle(20_000);
    expect(socket.sent).toEqual([
      { type: "ping", id: 1 },
      { type: "ping", id: 2 },
    ]);
    expect(socket.closedWith).toBeUndefined();
    await settle(20_000); // ping 2 never answered
    expect(socket.closedWith).toBe(1000);
    // The reconnection it scheduled, due at once (fake timers set while ticking add 1 ms).
    await settle(1);
    expect(net.sockets).toHaveLength(2);
    connection.stop();
  });
});

describe("SSE fallback", () => {
  it("falls back to SSE after N WebSocket attempts that never reached hello", async () => {
    const { net, connection } = setup({ fallbackAfter: 2, topics: ["canvas:b", "canvas:a"] });
    connection.start();
    await settle();
    net.socket.closeFromServer(1006);
    await settle(1_000);
    net.socket.closeFromServer(1006);
    expect(connection.kind).toBe("sse");
    await settle(1_000);
    expect(net.sockets).toHaveLength(2);
    const source = net.source;
    const url = new URL(source.url);
    expect(url.origin + url.pathname).toBe("https://studio.example/v1/events");
    expect(source.query.get("token")).toBe("st_3");
    expect(source.query.get("topics")).toBe("canvas:a,canvas:b");
    expect(source.query.has("last_event_id")).toBe(false);
    connection.stop();
  });

  it("counts an upgrade that never answers as a failed attempt", async () => {
    const { net, connection } = setup({ fallbackAfter: 2, helloTimeoutMs: 10_000 });
    connection.start();
    await settle();
    const hanging = net.socket; // neither opens nor closes
    await settle(9_999);
    expect(hanging.closedWith).toBeUndefined();
    await settle(1);
    expect(hanging.closedWith).toBe(1000);
    await settle(1_000);
    net.socket.accept(); // opens, but says nothing
    await settle(10_000);
    expect(connection.kind).toBe("sse");
    await settle(1_000);
    expect(net.sources).toHaveLength(1);
    connection.stop();
  });

  it("keeps to WebSocket once one reached hello, however often it drops", async () => {
    const { net, connection } = setup({ fallbackAfter: 2 });
    connection.start();
    await settle();
    net.socket.accept();
    net.socket.hello();
    for (let i = 0; i < 5; i++) {
      net.socket.closeFromServer(1006);
      await settle(connection.waits.at(-1) ?? NaN);
    }
    expect(net.sources).toHaveLength(0);
    expect(net.sockets).toHaveLength(6);
    connection.stop();
  });

  it("reads events and control messages, resumes with a fresh token, and reopens for new topics", async () => {
    const { net, connection, seqs, received } = setup({ fallbackAfter: 1, topics: ["canvas:a"] });
    connection.start();
    await settle();
    net.socket.closeFromServer(1006);
    await settle(1_000);
    const first = net.source;
    first.send("shotgraph.hello", hello({ last_seq: 8 }));
    expect(connection.status).toBe("live");
    first.send("shotgraph.subscribed", { topic: "canvas:a", presence: [] });
    first.send("canvas.nodes", event(9, "canvas:a"));
    first.send("batch.progress", event(10));
    expect(seqs()).toEqual([9, 10]);
    expect(received.map((m) => m.type)).toEqual(["hello", "subscribed", "event", "event"]);

    // The stream ends (a slow reader's): a new one, a new token, from the last seq.
    first.fail();
    expect(first.closed).toBe(true);
    await settle(1_000);
    const second = net.source;
    expect(second).not.toBe(first);
    expect(second.query.get("token")).toBe("st_3");
    expect(second.query.get("last_event_id")).toBe("10");
    second.send("shotgraph.hello", hello({ last_seq: 10 }));
    second.send("batch.progress", event(10)); // seen: not again
    expect(seqs()).toEqual([9, 10]);

    // Topics are in the URL: following another opens a stream with both, once per change.
    connection.subscribe("canvas:b");
    connection.subscribe("canvas:c");
    await settle();
    expect(second.closed).toBe(true);
    const third = net.source;
    expect(third.query.get("topics")).toBe("canvas:a,canvas:b,canvas:c");
    expect(third.query.get("last_event_id")).toBe("10");
    expect(net.sources).toHaveLength(3);
    connection.stop();
    expect(third.closed).toBe(true);
  });
});

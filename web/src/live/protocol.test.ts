import { describe, expect, it } from "vitest";

import { readSseEvent } from "./eventsource";
import { event } from "./fakes";
import {
  knownEvent,
  onUserFeed,
  readServerMessage,
  ServerFault,
  type EventMessage,
} from "./protocol";
import { decodeFrame } from "./websocket";

describe("reading server messages", () => {
  it("fills the fields a message may leave out", () => {
    expect(readServerMessage({ type: "subscribed", topic: "canvas:a" })).toEqual({
      type: "subscribed",
      topic: "canvas:a",
      presence: [],
    });
    expect(readServerMessage({ type: "reconnect", after_ms: 500 })).toEqual({
      type: "reconnect",
      after_ms: 500,
      reason: "draining",
    });
  });

  it("skips a type it does not know (a newer server's)", () => {
    expect(readServerMessage({ type: "weather", sunny: true })).toBeUndefined();
  });

  it.each([
    ["an event without its seq", { type: "event", topic: "user", event: { type: "x" } }],
    ["a negative seq", { type: "event", seq: -1, topic: "user", event: { type: "x" } }],
    ["an event whose event has no type", { type: "event", seq: 1, topic: "user", event: {} }],
    [
      "a hello with a text last_seq",
      {
        type: "hello",
        connection_id: "c",
        user_id: "u",
        last_seq: "9",
        window_ms: 50,
        heartbeat_s: 20,
      },
    ],
    ["presence that is no list", { type: "subscribed", topic: "canvas:a", presence: "me" }],
    ["no map at all", [1, 2]],
  ])("refuses %s as the server's fault", (_what, value) => {
    expect(() => readServerMessage(value)).toThrow(ServerFault);
  });

  it("decodes a MessagePack frame into its messages, and refuses one that is no array", () => {
    const bytes = new Uint8Array([
      0x91,
      0x81,
      0xa4,
      ...new TextEncoder().encode("type"),
      0xa4,
      ...new TextEncoder().encode("pong"),
    ]); // [{"type": "pong"}]
    expect(decodeFrame(bytes.buffer)).toEqual([{ type: "pong", id: 0 }]);
    expect(() => decodeFrame(new Uint8Array([0x01]).buffer)).toThrow(ServerFault);
    expect(() => decodeFrame("[]")).toThrow(ServerFault);
  });

  it("reads SSE control events by their name and events by their data", () => {
    expect(readSseEvent("shotgraph.resumed", JSON.stringify({ after: 3, replayed: 0 }))).toEqual({
      type: "resumed",
      after: 3,
      replayed: 0,
    });
    expect(readSseEvent("canvas.nodes", JSON.stringify(event(4, "canvas:a")))).toMatchObject({
      type: "event",
      seq: 4,
      topic: "canvas:a",
    });
    expect(() => readSseEvent("batch.progress", "not json")).toThrow(ServerFault);
  });
});

describe("events", () => {
  it("hands on only the event types the contract declares", () => {
    const known = readServerMessage(event(1)) as EventMessage;
    expect(knownEvent(known)?.type).toBe("batch.progress");
    const newer = { ...known, event: { ...known.event, type: "batch.paused" } };
    expect(knownEvent(newer)).toBeUndefined();
  });

  it("puts the user's own topics and their batches on the user's feed, not canvases", () => {
    expect(onUserFeed("user")).toBe(true);
    expect(onUserFeed("batch:b1")).toBe(true);
    expect(onUserFeed("canvas:c1")).toBe(false);
  });
});

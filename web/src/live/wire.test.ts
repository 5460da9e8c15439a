// Frames exactly as fan-out writes them: made once with services/fanout/wire.py's
// `frame_bytes` (Wire.MSGPACK without its WebSocket header, and Wire.SSE) for the messages
// hello, subscribed (with a viewer), a canvas.nodes event (seq 42), reset and reconnect.
// The client must read the same messages from both.
import { describe, expect, it } from "vitest";

import { readSseEvent } from "./eventsource";
import type { ServerMessage } from "./protocol";
import { decodeFrame } from "./websocket";

const MSGPACK_FRAME = [
  "9588a474797065a568656c6c6fad636f6e6e656374696f6e5f6964a6636f6e6e2d31a7757365725f6964a27531a86c61",
  "73745f73657129a977696e646f775f6d7332ab6865617274626561745f73cb4034000000000000b86d61785f636c6965",
  "6e745f6d6573736167655f6279746573cd1000aa6d61785f746f706963733283a474797065aa73756273637269626564",
  "a5746f706963a963616e7661733a6331a870726573656e63659182a7757365725f6964a27531a9757365725f6e616d65",
  "a3416e6e84a474797065a56576656e74a37365712aa5746f706963a963616e7661733a6331a56576656e7487a4747970",
  "65ac63616e7661732e6e6f646573a26964a26531a474696d65cb41d954fc40200000ae736368656d615f76657273696f",
  "6e01a963616e7661735f6964a26331a776657273696f6e03a56e6f6465739184a76e6f64655f6964a26e31a36b6579a1",
  "6ba57374617465a772756e6e696e67a870726f6772657373cb3fe000000000000085a474797065a57265736574a56166",
  "74657201a966697273745f7365711ea86c6173745f7365712aa6726561736f6eac686973746f72795f676f6e6583a474",
  "797065a97265636f6e6e656374a861667465725f6d73cd09c4a6726561736f6ea8647261696e696e67",
].join("");

const SSE_STREAM = [
  "event: shotgraph.hello",
  'data: {"type":"hello","connection_id":"conn-1","user_id":"u1","last_seq":41,"window_ms":50,"heartbeat_s":20.0,"max_client_message_bytes":4096,"max_topics":50}',
  "",
  "event: shotgraph.subscribed",
  'data: {"type":"subscribed","topic":"canvas:c1","presence":[{"user_id":"u1","user_name":"Ann"}]}',
  "",
  "id: 42",
  "event: canvas.nodes",
  'data: {"type":"event","seq":42,"topic":"canvas:c1","event":{"type":"canvas.nodes","id":"e1","time":1700000000.5,"schema_version":1,"canvas_id":"c1","version":3,"nodes":[{"node_id":"n1","key":"k","state":"running","progress":0.5}]}}',
  "",
  "event: shotgraph.reset",
  'data: {"type":"reset","after":1,"first_seq":30,"last_seq":42,"reason":"history_gone"}',
  "",
  "event: shotgraph.reconnect",
  'data: {"type":"reconnect","after_ms":2500,"reason":"draining"}',
  "",
].join("\n");

const EXPECTED: ServerMessage[] = [
  {
    type: "hello",
    connection_id: "conn-1",
    user_id: "u1",
    last_seq: 41,
    window_ms: 50,
    heartbeat_s: 20,
    max_client_message_bytes: 4096,
    max_topics: 50,
  },
  { type: "subscribed", topic: "canvas:c1", presence: [{ user_id: "u1", user_name: "Ann" }] },
  {
    type: "event",
    seq: 42,
    topic: "canvas:c1",
    event: {
      type: "canvas.nodes",
      id: "e1",
      time: 1700000000.5,
      schema_version: 1,
      canvas_id: "c1",
      version: 3,
      nodes: [{ node_id: "n1", key: "k", state: "running", progress: 0.5 }],
    },
  },
  { type: "reset", after: 1, first_seq: 30, last_seq: 42, reason: "history_gone" },
  { type: "reconnect", after_ms: 2500, reason: "draining" },
];

function bytes(hex: string): ArrayBuffer {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out.buffer;
}

/** Each SSE event's name and data, as EventSource hands them on. */
function sseEvents(stream: string): [string, string][] {
  return stream
    .split("\n\n")
    .filter((block) => block !== "")
    .map((block) => {
      const field = (name: string) =>
        block
          .split("\n")
          .find((line) => line.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? "";
      return [field("event"), field("data")];
    });
}

describe("frames as fan-out writes them", () => {
  it("reads a MessagePack frame's messages", () => {
    expect(decodeFrame(bytes(MSGPACK_FRAME))).toEqual(EXPECTED);
  });

  it("reads the same messages from the SSE stream", () => {
    const messages = sseEvents(SSE_STREAM).map(([name, data]) => readSseEvent(name, data));
    expect(messages).toEqual(EXPECTED);
  });
});

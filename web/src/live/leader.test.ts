import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { LiveConnection } from "./connection";
import { FakeNetwork, hello } from "./fakes";
import { Leader } from "./leader";
import type { ToTabs } from "./tabmessages";

function setup() {
  const net = new FakeNetwork();
  const connection = new LiveConnection({
    baseUrl: "https://studio.example/",
    webSocket: net.webSocket,
    streamToken: net.streamToken,
  });
  const sent: ToTabs[] = [];
  const watched: string[] = [];
  const leader = new Leader({
    tab: "self",
    connection,
    send: (message) => sent.push(message),
    watch: (tab) => watched.push(tab),
  });
  return { net, connection, leader, sent, watched };
}

async function live(net: FakeNetwork): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
  net.socket.accept();
  net.socket.hello();
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("the leading tab", () => {
  it("follows each topic once however many tabs follow it, until the last one leaves", async () => {
    const { net, leader, watched } = setup();
    leader.setTopics("self", ["canvas:a"]);
    leader.start();
    await live(net);
    leader.setTopics("t1", ["canvas:a", "canvas:b"]);
    leader.setTopics("t2", ["canvas:b"]);
    expect(watched).toEqual(["t1", "t2"]); // not itself: it knows when it leaves
    leader.setTopics("t1", []);
    leader.forget("t2");
    expect(net.socket.sent).toEqual([
      { type: "subscribe", topic: "canvas:a" },
      { type: "subscribe", topic: "canvas:b" },
      { type: "unsubscribe", topic: "canvas:b" },
    ]);
    leader.stop();
  });

  it("does not ask again for a refused topic on a tab's word sent before it heard", async () => {
    const { net, leader, sent } = setup();
    leader.start();
    await live(net);
    leader.setTopics("t1", ["canvas:secret"], 0);
    net.socket.frame({ type: "refused", topic: "canvas:secret", reason: "not_allowed" });
    const relayed = sent.at(-1);
    expect(relayed).toMatchObject({ kind: "message", drops: 1, message: { type: "refused" } });

    leader.setTopics("t1", ["canvas:secret", "canvas:a"], 0); // crossed the refusal
    leader.setTopics("t1", ["canvas:secret", "canvas:a"], 1); // asked again, knowingly
    expect(net.socket.sent).toEqual([
      { type: "subscribe", topic: "canvas:secret" },
      { type: "subscribe", topic: "canvas:a" },
      { type: "subscribe", topic: "canvas:secret" },
    ]);
    leader.stop();
  });

  it("relays every server message with the resume point, and its status to all tabs", async () => {
    const { net, leader, sent } = setup();
    leader.start();
    expect(sent[0]).toEqual({ kind: "leader", tab: "self" });
    await live(net);
    net.socket.frame(hello(), { type: "event", seq: 9, topic: "user", event: { type: "x" } });
    expect(sent.filter((m) => m.kind === "status").map((m) => m.status)).toEqual([
      "connecting",
      "live",
    ]);
    expect(sent.at(-1)).toMatchObject({ kind: "message", seq: 9, message: { seq: 9 } });
    leader.stop();
  });
});

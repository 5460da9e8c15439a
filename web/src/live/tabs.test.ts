// Several tabs in one process: each a LiveTab with its own BroadcastChannel (Node's, the real
// thing), all sharing one fake lock manager and one fake server.
import { afterEach, describe, expect, it, vi } from "vitest";

import type { EventMeta, TopicHandlers } from "./client";
import { LiveConnection } from "./connection";
import { event, FakeLocks, FakeNetwork, hello, soloTab } from "./fakes";
import type { ClientMessage, PresenceMessage, Refused, Viewer } from "./protocol";
import { LiveTab } from "./tabs";

let worlds = 0;
const opened: LiveTab[] = [];

afterEach(() => {
  for (const tab of opened.splice(0)) tab.stop();
});

/** One browser: a lock manager, a channel name and the server its tabs talk to. */
function browser() {
  const net = new FakeNetwork();
  const locks = new FakeLocks();
  const name = `test.live.${String(++worlds)}`;
  const open = () => {
    const tab = new LiveTab({
      name,
      locks,
      openChannel: (channel) => new BroadcastChannel(channel),
      connect: ({ lastSeq }) =>
        new LiveConnection({
          baseUrl: "https://studio.example/",
          lastSeq,
          webSocket: net.webSocket,
          eventSource: null,
          streamToken: net.streamToken,
          random: () => 0,
        }),
    });
    tab.start();
    opened.push(tab);
    return tab;
  };
  return { net, open };
}

/** What one tab hears on a topic. */
function recorder() {
  const seqs: number[] = [];
  const refusals: Refused[] = [];
  const viewers: (readonly Viewer[])[] = [];
  const presence: PresenceMessage[] = [];
  let resets = 0;
  const handlers: TopicHandlers = {
    event: (_event, meta: EventMeta) => seqs.push(meta.seq),
    refused: (refusal) => refusals.push(refusal),
    subscribed: (list) => viewers.push(list),
    presence: (change) => presence.push(change),
    reset: () => {
      resets += 1;
    },
  };
  return { seqs, refusals, viewers, presence, handlers, resets: () => resets };
}

/** The topics a socket was asked to follow, from its resume and the subscribes since. */
function followed(sent: readonly ClientMessage[]): string[] {
  const topics = new Set<string>();
  for (const message of sent) {
    if (message.type === "resume") for (const topic of message.topics) topics.add(topic);
    if (message.type === "subscribe") topics.add(message.topic);
    if (message.type === "unsubscribe") topics.delete(message.topic);
  }
  return [...topics].sort();
}

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 3_000, interval: 5 });

describe("tabs sharing one connection", () => {
  it("elects one tab to connect; the followers' topics reach the server through it", async () => {
    const { net, open } = browser();
    const tabs = [open(), open(), open()];
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    net.socket.accept();
    net.socket.hello({ last_seq: 1 });
    await waitFor(() => {
      expect(tabs.map((tab) => tab.status)).toEqual(["live", "live", "live"]);
    });

    const followers = tabs.filter((tab) => !tab.leading);
    expect(followers).toHaveLength(2);
    followers[0]?.follow("canvas:b", recorder().handlers);
    followers[1]?.follow("canvas:c", recorder().handlers);
    await waitFor(() => {
      expect(followed(net.socket.sent)).toEqual(["canvas:b", "canvas:c"]);
    });
    expect(net.sockets).toHaveLength(1);
  });

  it("delivers each event only to the tabs that follow its topic, and the user's own to all", async () => {
    const { net, open } = browser();
    const [a, b, c] = [open(), open(), open()];
    const [heardA, heardB, heardC] = [recorder(), recorder(), recorder()];
    a.follow("canvas:a", heardA.handlers);
    b.follow("canvas:b", heardB.handlers);
    c.follow("canvas:b", heardC.handlers);
    const feeds = [a, b, c].map((tab) => {
      const seqs: number[] = [];
      tab.onUserEvent((_event, meta) => seqs.push(meta.seq));
      return seqs;
    });
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    net.socket.accept();
    await waitFor(() => {
      expect(followed(net.socket.sent)).toEqual(["canvas:a", "canvas:b"]);
    });
    net.socket.frame(hello(), event(5, "canvas:b"), event(6, "canvas:a"), event(7, "batch:b1"));
    net.socket.frame(event(8));
    await waitFor(() => {
      expect(feeds).toEqual([
        [7, 8],
        [7, 8],
        [7, 8],
      ]);
    });
    expect(heardA.seqs).toEqual([6]);
    expect(heardB.seqs).toEqual([5]);
    expect(heardC.seqs).toEqual([5]);
  });

  it("when the leader closes, another tab takes over and resumes from the last seq", async () => {
    const { net, open } = browser();
    const tabs = [open(), open(), open()];
    const heard = tabs.map(() => recorder());
    tabs.forEach((tab, i) =>
      tab.follow(`canvas:${String(i)}`, heard[i]?.handlers ?? recorder().handlers),
    );
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    const first = net.socket;
    first.accept();
    first.frame(hello({ last_seq: 10 }), event(11, "canvas:0"), event(12, "canvas:1"));
    first.frame(event(13, "canvas:2"));
    await waitFor(() => {
      expect(heard.map((h) => h.seqs)).toEqual([[11], [12], [13]]);
    });

    const leader = tabs.find((tab) => tab.leading);
    if (leader === undefined) throw new Error("no tab leads");
    const rest = tabs.filter((tab) => tab !== leader);
    leader.stop();
    await waitFor(() => {
      expect(net.sockets).toHaveLength(2);
    });
    expect(rest.filter((tab) => tab.leading)).toHaveLength(1);
    const second = net.socket;
    second.accept();
    expect(second.sent[0]).toMatchObject({ type: "resume", after: 13 });
    const expected = rest.map((tab) => `canvas:${String(tabs.indexOf(tab))}`).sort();
    await waitFor(() => {
      expect(followed(second.sent)).toEqual(expected);
    });

    // The new connection's replay overlaps what the tabs saw: nothing comes twice.
    second.frame(
      hello({ last_seq: 14 }),
      ...[11, 12, 13].map((seq) => event(seq, `canvas:${String(seq - 11)}`)),
    );
    second.frame(...[0, 1, 2].map((i) => event(14 + i, `canvas:${String(i)}`)));
    await waitFor(() => {
      for (const tab of rest) {
        const i = tabs.indexOf(tab);
        expect(heard[i]?.seqs).toEqual([11 + i, 14 + i]);
      }
    });
    expect(net.sockets).toHaveLength(2);
  });

  it("gives up the topics of a tab that closed, and keeps those another tab still follows", async () => {
    const { net, open } = browser();
    const [a, b, c] = [open(), open(), open()];
    a.follow("canvas:shared", recorder().handlers);
    b.follow("canvas:shared", recorder().handlers);
    b.follow("canvas:only-b", recorder().handlers);
    c.follow("canvas:only-c", recorder().handlers);
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    net.socket.accept();
    net.socket.hello();
    await waitFor(() => {
      expect(followed(net.socket.sent)).toEqual([
        "canvas:only-b",
        "canvas:only-c",
        "canvas:shared",
      ]);
    });
    const leaving = [b, c].find((tab) => !tab.leading) ?? b;
    leaving.stop();
    const gone = leaving === b ? "canvas:only-b" : "canvas:only-c";
    await waitFor(() => {
      expect(net.socket.sent).toContainEqual({ type: "unsubscribe", topic: gone });
    });
    expect(followed(net.socket.sent)).toContain("canvas:shared");
  });

  it("tells a tab that follows a topic late its answer, with the viewers as they are now", async () => {
    const { net, open } = browser();
    const [a, b] = [open(), open()];
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    net.socket.accept();
    net.socket.hello();
    const first = recorder();
    a.follow("canvas:a", first.handlers);
    await waitFor(() => {
      expect(followed(net.socket.sent)).toEqual(["canvas:a"]);
    });
    const ann = { user_id: "u1", user_name: "Ann" };
    const bob = { user_id: "u2", user_name: "Bob" };
    net.socket.frame({ type: "subscribed", topic: "canvas:a", presence: [ann] });
    net.socket.frame({ type: "presence", topic: "canvas:a", action: "join", ...bob });
    await waitFor(() => {
      expect(first.presence).toHaveLength(1);
    });

    const late = recorder();
    b.follow("canvas:a", late.handlers);
    // (Broadcasts still on their way when it followed may come first: the last word counts.)
    await waitFor(() => {
      expect(late.viewers.at(-1)).toEqual([ann, bob]);
    });
    expect(net.socket.sent.filter((m) => m.type === "subscribe")).toHaveLength(1);
    expect(first.viewers).toEqual([[ann]]); // the first tab is not told twice
  });

  it("tells only the asking tabs of a refusal, and a reset to every tab", async () => {
    const { net, open } = browser();
    const [a, b] = [open(), open()];
    const [heardA, heardB] = [recorder(), recorder()];
    a.follow("canvas:a", heardA.handlers);
    b.follow("canvas:secret", heardB.handlers);
    const resets = [a, b].map((tab) => {
      let count = 0;
      tab.onReset(() => (count += 1));
      return () => count;
    });
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    net.socket.accept();
    await waitFor(() => {
      expect(followed(net.socket.sent)).toEqual(["canvas:a", "canvas:secret"]);
    });
    net.socket.frame(hello(), {
      type: "refused",
      topic: "canvas:secret",
      reason: "not_allowed",
      detail: "",
    });
    net.socket.frame({ type: "reset", after: 0, first_seq: 50, last_seq: 60 });
    await waitFor(() => {
      expect(resets.map((count) => count())).toEqual([1, 1]);
    });
    expect(heardB.refusals.map((r) => r.reason)).toEqual(["not_allowed"]);
    expect(heardA.refusals).toEqual([]);
    expect([heardA.resets(), heardB.resets()]).toEqual([1, 0]); // b no longer follows it

    // Another tab's change of topics does not ask for the refused one again.
    a.follow("canvas:a2", recorder().handlers);
    await waitFor(() => {
      expect(net.socket.sent).toContainEqual({ type: "subscribe", topic: "canvas:a2" });
    });
    expect(
      net.socket.sent.filter((m) => m.type === "subscribe" && m.topic === "canvas:secret"),
    ).toHaveLength(1);
  });

  it("tells every tab it is signed out, and any tab can start it again", async () => {
    const { net, open } = browser();
    const tabs = [open(), open()];
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    net.socket.accept();
    net.socket.hello();
    net.socket.closeFromServer(4401, "revoked");
    await waitFor(() => {
      expect(tabs.map((tab) => tab.status)).toEqual(["signed_out", "signed_out"]);
    });
    const follower = tabs.find((tab) => !tab.leading);
    follower?.restart();
    await waitFor(() => {
      expect(net.sockets).toHaveLength(2);
    });
    net.socket.accept();
    net.socket.hello();
    await waitFor(() => {
      expect(tabs.map((tab) => tab.status)).toEqual(["live", "live"]);
    });
  });
});

describe("a tab without Web Locks", () => {
  it("holds a connection of its own", async () => {
    const net = new FakeNetwork();
    const tab = soloTab(net, "solo");
    opened.push(tab);
    const heard = recorder();
    tab.follow("canvas:a", heard.handlers);
    tab.start();
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    expect(tab.leading).toBe(true);
    net.socket.accept();
    await waitFor(() => {
      expect(net.socket.sent).toEqual([{ type: "subscribe", topic: "canvas:a" }]);
    });
    net.socket.frame(hello(), event(3, "canvas:a"));
    expect(heard.seqs).toEqual([3]);
  });
});

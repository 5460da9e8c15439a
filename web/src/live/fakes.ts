// Stand-ins for the browser APIs Node lacks (WebSocket, EventSource, Web Locks), for the
// tests: each plays the server's side of what it stands for, so a test can say what the
// server does and see what the client sent. And a tab on them that shares with no other.
import { decode, encode } from "@msgpack/msgpack";

import { LiveConnection } from "./connection";
import type { EventSourceFactory, EventSourceLike } from "./eventsource";
import { MSGPACK_PROTOCOL, type ClientMessage } from "./protocol";
import { LiveTab, type LockManagerLike } from "./tabs";
import type { WebSocketFactory, WebSocketLike } from "./websocket";

type Listener = (event: never) => void;

class Emitter {
  private readonly listeners = new Map<string, Listener[]>();

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  protected fire(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? [])
      (listener as (e: unknown) => void)(event);
  }
}

export class FakeSocket extends Emitter implements WebSocketLike {
  binaryType: BinaryType = "blob";
  readyState = 0;
  protocol = "";
  readonly sent: ClientMessage[] = [];
  /** The code the client closed it with, if it did. */
  closedWith: number | undefined;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    super();
  }

  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  send(data: Uint8Array<ArrayBuffer>): void {
    this.sent.push(decode(data) as ClientMessage);
  }

  close(code = 1000): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedWith = code;
  }

  // The server's side.

  accept(protocol: string = MSGPACK_PROTOCOL): void {
    this.readyState = 1;
    this.protocol = protocol;
    this.fire("open", undefined);
  }

  /** One server frame holding `messages`. */
  frame(...messages: object[]): void {
    const bytes = encode(messages);
    this.fire("message", { data: bytes.slice().buffer });
  }

  hello(fields: object = {}): void {
    this.frame(hello(fields));
  }

  closeFromServer(code: number, reason = ""): void {
    this.readyState = 3;
    this.fire("close", { code, reason });
  }

  /** Anything at all, raw (a frame that is no array, a text frame). */
  raw(data: unknown): void {
    this.fire("message", { data });
  }
}

export class FakeEventSource extends Emitter implements EventSourceLike {
  closed = false;

  constructor(readonly url: string) {
    super();
  }

  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  close(): void {
    this.closed = true;
  }

  /** One SSE event named `name` with `data` as its JSON. */
  send(name: string, data: object): void {
    this.fire(name, { data: JSON.stringify(data) });
  }

  fail(): void {
    this.fire("error", {});
  }
}

/** Every socket and stream the client opened, and the stream tokens it asked for. */
export class FakeNetwork {
  readonly sockets: FakeSocket[] = [];
  readonly sources: FakeEventSource[] = [];
  tokens = 0;
  /** What the next token requests fail with, if anything. */
  tokenError: Error | null = null;

  readonly webSocket: WebSocketFactory = (url, protocols) => {
    const socket = new FakeSocket(url, protocols);
    this.sockets.push(socket);
    return socket;
  };

  readonly eventSource: EventSourceFactory = (url) => {
    const source = new FakeEventSource(url);
    this.sources.push(source);
    return source;
  };

  readonly streamToken = (): Promise<string> => {
    if (this.tokenError !== null) return Promise.reject(this.tokenError);
    this.tokens += 1;
    return Promise.resolve(`st_${String(this.tokens)}`);
  };

  /** The newest socket; a test that expects one fails loudly without it. */
  get socket(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error("no WebSocket was opened");
    return socket;
  }

  get source(): FakeEventSource {
    const source = this.sources.at(-1);
    if (source === undefined) throw new Error("no EventSource was opened");
    return source;
  }
}

export function hello(fields: object = {}): object {
  return {
    type: "hello",
    connection_id: "conn",
    user_id: "user-1",
    last_seq: 0,
    window_ms: 50,
    heartbeat_s: 20,
    max_client_message_bytes: 4096,
    max_topics: 50,
    ...fields,
  };
}

/** An event message: a `canvas.nodes` on a canvas topic, a `batch.progress` otherwise. */
export function event(seq: number, topic = "user"): object {
  const payload = topic.startsWith("canvas:")
    ? { type: "canvas.nodes", canvas_id: topic.slice(7), version: 1, nodes: [] }
    : { type: "batch.progress", batch_id: "b", state: "running", total: 1, counts: {}, jobs: [] };
  return {
    type: "event",
    seq,
    topic,
    event: { id: `e${String(seq)}`, time: 0, schema_version: 1, ...payload },
  };
}

interface Waiter {
  readonly callback: () => Promise<void>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Web Locks in one process: each name granted to one request at a time, in order, until
 * its callback's promise settles; a request still waiting is withdrawn by its signal. */
export class FakeLocks implements LockManagerLike {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Waiter[]>();

  request(
    name: string,
    options: { mode: "exclusive"; signal: AbortSignal },
    callback: () => Promise<void>,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const aborted = () => new DOMException("the request was aborted", "AbortError");
      if (options.signal.aborted) {
        reject(aborted());
        return;
      }
      const waiter = { callback, resolve, reject };
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, [...queue, waiter]);
      options.signal.addEventListener("abort", () => {
        const waiting = this.queues.get(name) ?? [];
        if (!waiting.includes(waiter)) return; // granted already: aborting changes nothing
        this.queues.set(
          name,
          waiting.filter((other) => other !== waiter),
        );
        reject(aborted());
      });
      this.grant(name);
    });
  }

  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  private grant(name: string): void {
    if (this.held.has(name)) return;
    const [waiter, ...rest] = this.queues.get(name) ?? [];
    if (waiter === undefined) return;
    this.queues.set(name, rest);
    this.held.add(name);
    void Promise.resolve()
      .then(() => waiter.callback())
      .then(waiter.resolve, waiter.reject)
      .finally(() => {
        this.held.delete(name);
        this.grant(name);
      });
  }
}

/** A tab with neither Web Locks nor a BroadcastChannel, so it shares nothing and holds a
 * connection of its own, to `net`'s server. */
export function soloTab(net: FakeNetwork, name: string): LiveTab {
  return new LiveTab({
    name,
    locks: null,
    openChannel: null,
    connect: ({ lastSeq }) =>
      new LiveConnection({
        baseUrl: "https://studio.example/",
        lastSeq,
        webSocket: net.webSocket,
        streamToken: net.streamToken,
      }),
  });
}

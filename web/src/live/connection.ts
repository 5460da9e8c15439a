// One live connection, opened again whenever it drops, until stopped: the browser's twin of
// libs/live/client.py. It keeps the highest seq it has received and the topics it follows;
// when a connection drops, or the server closes it with a code that says so, it connects
// again after a backoff with full jitter and resumes from that seq, so nothing is missed and
// nothing comes twice. It stops when retrying cannot help: the credential is gone (4401, or a
// 401 for a stream token: "signed_out") or the server says this client is at fault ("failed").
import { ApiError, request } from "../api/http";
import { backoffDelay, backoffPolicy, type BackoffPolicy } from "./backoff";
import { browserEventSource, openEventSource, type EventSourceFactory } from "./eventsource";
import { Listeners } from "./listeners";
import {
  CLIENT_FAULTS,
  CloseCode,
  SSE_PATH,
  STREAM_TOKENS_PATH,
  WS_PATH,
  type ClientMessage,
  type ServerMessage,
} from "./protocol";
import type { Transport, TransportEnd, TransportKind } from "./transport";
import { browserWebSocket, openWebSocket, type WebSocketFactory } from "./websocket";

/** Where the connection stands: opening (or waiting for its stream token), open with its
 * `hello` received, waiting to try again, or stopped for good until `restart()`. */
export type LiveStatus = "connecting" | "live" | "offline" | "signed_out" | "failed";

export interface LiveConnectionOptions {
  /** The page the API is served from; `/v1/ws` and `/v1/events` are found from it. */
  readonly baseUrl?: string;
  readonly topics?: Iterable<string>;
  /** Where an earlier connection stopped (another tab held it): resume after it. */
  readonly lastSeq?: number | null;
  readonly backoff?: Partial<BackoffPolicy>;
  /** Uniform in [0, 1), for the jitter. */
  readonly random?: () => number;
  /** WebSocket attempts that fail without ever reaching `hello` before falling back to SSE
   * for the rest of this connection's life (a proxy that drops upgrades). */
  readonly fallbackAfter?: number;
  /** How long an opened connection may take to say `hello` before it counts as failed (an
   * upgrade a proxy holds forever would otherwise never fail). */
  readonly helloTimeoutMs?: number;
  /** A fresh stream token for each attempt; a 401 ApiError means signed out. */
  readonly streamToken?: () => Promise<string>;
  readonly webSocket?: WebSocketFactory;
  /** null: never fall back to SSE. */
  readonly eventSource?: EventSourceFactory | null;
  readonly now?: () => number;
}

interface Ended extends TransportEnd {
  readonly via: TransportKind | null; // null: no transport was opened (no stream token)
  readonly now?: boolean; // this client ended it to open another at once
}

const DEFAULT_FALLBACK_AFTER = 3;
const DEFAULT_HELLO_TIMEOUT_MS = 15_000;
// A heartbeat faster than this would only add load; the server's own is 20 s.
const MIN_HEARTBEAT_MS = 1_000;

/** Asks the gateway for a stream token: it authenticates one connection opened within its
 * minute, and a session that has expired answers 401 here rather than as a socket that will
 * not open (a browser cannot see why an upgrade failed). */
export async function issueStreamToken(): Promise<string> {
  const answer = await request<{ token: string }>("POST", STREAM_TOKENS_PATH);
  return answer.token;
}

function endpoint(base: string, path: string, query: Record<string, string>, ws: boolean): string {
  const url = new URL(path, base);
  if (ws) url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.href;
}

export class LiveConnection {
  /** Every message from the server, each event once and in order; pongs are kept here. */
  readonly messages = new Listeners<[ServerMessage]>();
  readonly statusChanges = new Listeners<[LiveStatus]>();

  status: LiveStatus = "offline";
  /** Why it stopped, when it stopped for good; the last failure's reason otherwise. */
  error = "";
  /** The highest seq received: the next connection resumes after it. */
  lastSeq: number | null;
  /** The transport of the next (or current) connection. */
  kind: TransportKind = "ws";
  /** The waits between connections, newest last, for whoever measures them. */
  readonly waits: number[] = [];

  private readonly wanted: Set<string>;
  private readonly base: string;
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;
  private readonly fallbackAfter: number;
  private readonly helloTimeoutMs: number;
  private readonly streamToken: () => Promise<string>;
  private readonly webSocket: WebSocketFactory;
  private readonly eventSource: EventSourceFactory | null;
  private readonly now: () => number;

  private running = false;
  // Bumped whenever a connection ends or the client stops: late callbacks of older ones
  // (a stream token that comes after stop()) see it and do nothing.
  private generation = 0;
  private transport: Transport | null = null;
  private attempt = 0; // failed attempts in a row, for the backoff
  private wsFailures = 0; // WebSocket attempts that never reached hello
  private wsReached = false; // a WebSocket has reached hello once: the network allows them
  private helloAt: number | null = null;
  private helloSeq: number | null = null;
  private reconnectAt: number | null = null;
  private awaitingPong = false;
  private pings = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null = null;
  private reopenQueued = false;

  constructor(options: LiveConnectionOptions = {}) {
    this.wanted = new Set(options.topics);
    this.lastSeq = options.lastSeq ?? null;
    this.base = options.baseUrl ?? globalThis.location.href;
    this.policy = backoffPolicy(options.backoff);
    this.random = options.random ?? Math.random;
    this.fallbackAfter = options.fallbackAfter ?? DEFAULT_FALLBACK_AFTER;
    this.helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.streamToken = options.streamToken ?? issueStreamToken;
    this.webSocket = options.webSocket ?? browserWebSocket;
    this.eventSource = options.eventSource === undefined ? browserEventSource : options.eventSource;
    this.now = options.now ?? Date.now;
  }

  /** The topics followed: asked for, and neither refused nor taken away. */
  get topics(): ReadonlySet<string> {
    return this.wanted;
  }

  /** Starts connecting (nothing when already started). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Closes the connection; `start()` opens it again, resuming where it stopped. */
  stop(): void {
    this.halt("offline", "");
  }

  /** Starts over after signing in again (or a client fault fixed by a reload of the code):
   * the WebSocket gets another chance and the backoff starts from its first step. */
  restart(): void {
    this.halt("offline", "");
    this.attempt = 0;
    this.wsFailures = 0;
    this.kind = "ws";
    this.start();
  }

  /** Connects now instead of at the end of the current wait (the browser is online again). */
  retryNow(): void {
    if (this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  /** Follows `topic` from now on; the answer (`subscribed` or `refused`) comes as a message. */
  subscribe(topic: string): void {
    if (this.wanted.has(topic)) return;
    this.wanted.add(topic);
    this.topicsChanged({ type: "subscribe", topic });
  }

  unsubscribe(topic: string): void {
    if (!this.wanted.delete(topic)) return;
    this.topicsChanged({ type: "unsubscribe", topic });
  }

  private topicsChanged(message: ClientMessage): void {
    const transport = this.transport;
    if (transport === null) return; // the next connection's first message carries them
    if (transport.kind === "ws") {
      transport.send(message);
    } else if (!this.reopenQueued) {
      // An SSE stream's topics are in its URL: open another, resuming where this one is.
      // Once for all the changes of one task.
      this.reopenQueued = true;
      queueMicrotask(() => {
        this.reopenQueued = false;
        if (this.transport === transport) this.drop({ code: null, reason: "topics", now: true });
      });
    }
  }

  // One connection.

  private connect(): void {
    const generation = ++this.generation;
    this.helloAt = this.helloSeq = this.reconnectAt = null;
    this.setStatus("connecting");
    this.streamToken().then(
      (token) => {
        if (generation === this.generation) this.open(token);
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        if (error instanceof ApiError && error.status === 401) {
          this.halt("signed_out", "the session has ended: sign in again");
        } else {
          const reason = error instanceof Error ? error.message : String(error);
          this.ended({ code: null, reason: `no stream token: ${reason}`, via: null });
        }
      },
    );
  }

  private open(token: string): void {
    const kind = this.kind;
    const handlers = {
      messages: (messages: readonly ServerMessage[]) => {
        this.receive(messages);
      },
      ended: (end: TransportEnd) => {
        this.ended({ ...end, via: kind });
      },
    };
    if (kind === "ws") {
      const url = endpoint(this.base, WS_PATH, { token }, true);
      this.transport = openWebSocket(url, this.webSocket, {
        ...handlers,
        opened: () => this.firstMessages(),
      });
    } else {
      const query: Record<string, string> = { token };
      if (this.wanted.size > 0) query.topics = [...this.wanted].sort().join(",");
      if (this.lastSeq !== null) query.last_event_id = String(this.lastSeq);
      const url = endpoint(this.base, SSE_PATH, query, false);
      // Only chosen when there is an EventSource to fall back on.
      this.transport = openEventSource(url, this.eventSource ?? browserEventSource, handlers);
    }
    this.helloTimer = setTimeout(() => {
      this.helloTimer = null;
      this.drop({ code: CloseCode.ABNORMAL, reason: "no hello from the server in time" });
    }, this.helloTimeoutMs);
  }

  /** A resume where there is a seq to resume from (sent at once, so that no live event
   * overtakes the replay), else a subscribe per topic. */
  private firstMessages(): ClientMessage[] {
    const topics = [...this.wanted].sort();
    if (this.lastSeq !== null) return [{ type: "resume", after: this.lastSeq, topics }];
    return topics.map((topic) => ({ type: "subscribe", topic }));
  }

  private receive(messages: readonly ServerMessage[]): void {
    const generation = this.generation;
    this.awaitingPong = false; // anything at all shows the connection is alive
    for (const message of messages) {
      if (!this.note(message)) continue;
      this.messages.emit(message);
      if (generation !== this.generation) return; // a listener stopped or restarted it
    }
  }

  /** Notes what `message` changes; false for one not to be handed on. */
  private note(message: ServerMessage): boolean {
    switch (message.type) {
      case "hello":
        this.clearHelloTimer();
        this.helloAt = this.now();
        this.helloSeq = message.last_seq;
        // A new client resumes from the stream as it was at its first connection, so a cut
        // before its first event still loses nothing.
        this.lastSeq ??= message.last_seq;
        if (this.transport?.kind === "ws") {
          this.wsReached = true;
          this.wsFailures = 0;
          this.startHeartbeat(message.heartbeat_s);
        }
        this.error = "";
        this.setStatus("live");
        return true;
      case "event":
        if (this.lastSeq !== null && message.seq <= this.lastSeq) return false; // seen
        this.lastSeq = message.seq;
        return true;
      case "reset":
        // The app refetches state as of now: resuming from before it would bring it again.
        this.lastSeq = Math.max(this.lastSeq ?? 0, message.last_seq);
        return true;
      case "error":
        // The stream never had our seq (it was recreated): live from this connection's
        // start, which the reset listeners hear of through this message.
        if (message.code === "bad_resume" && this.helloSeq !== null) this.lastSeq = this.helloSeq;
        return true;
      case "refused":
        this.wanted.delete(message.topic);
        return true;
      case "unsubscribed":
        // One asked for left `wanted` when it was asked for, and may have come back since.
        if (message.reason === "access_lost") this.wanted.delete(message.topic);
        return true;
      case "reconnect":
        this.scheduleReconnect(message.after_ms);
        return true;
      case "pong":
        return false;
      case "subscribed":
      case "resumed":
      case "presence":
        return true;
    }
  }

  /** Comes back when a `reconnect` says, whether or not the server has closed by then. */
  private scheduleReconnect(afterMs: number): void {
    this.reconnectAt = this.now() + afterMs;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.drop({ code: null, reason: "the server is draining" });
    }, afterMs);
  }

  /** Pings the server once a heartbeat; a ping unanswered (nothing at all received) by the
   * next beat means the connection is dead without a close (a sleeping laptop, a lost route),
   * which the browser may take minutes to notice. */
  private startHeartbeat(heartbeatS: number): void {
    this.stopHeartbeat();
    this.awaitingPong = false;
    this.heartbeat = setInterval(
      () => {
        if (this.awaitingPong) {
          this.drop({ code: CloseCode.ABNORMAL, reason: "no answer to a ping" });
          return;
        }
        this.awaitingPong = true;
        this.transport?.send({ type: "ping", id: ++this.pings });
      },
      Math.max(MIN_HEARTBEAT_MS, heartbeatS * 1000),
    );
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Ends the current connection from this side, then goes on as if it had ended itself. */
  private drop(end: Omit<Ended, "via">): void {
    const transport = this.transport;
    if (transport === null) return;
    transport.close();
    this.ended({ ...end, via: transport.kind });
  }

  // Between connections.

  private ended(end: Ended): void {
    this.transport = null;
    this.clearTimers();
    this.generation++;
    if (end.via === "ws" && end.code === CloseCode.UNAUTHENTICATED) {
      this.halt("signed_out", "the session has ended: sign in again");
      return;
    }
    if (end.via === "ws" && end.code !== null && CLIENT_FAULTS.has(end.code)) {
      this.halt(
        "failed",
        `the server closed the live connection (${String(end.code)} ${end.reason})`,
      );
      return;
    }
    this.error = end.reason;
    const now = this.now();
    if (this.helloAt !== null && now - this.helloAt >= this.policy.healthyMs) this.attempt = 0;
    if (end.via === "ws" && this.helloAt === null && !this.wsReached) {
      this.wsFailures++;
      if (this.eventSource !== null && this.wsFailures >= this.fallbackAfter) this.kind = "sse";
    }
    let wait: number;
    if (end.now === true) {
      wait = 0;
    } else if (this.reconnectAt !== null) {
      wait = Math.max(0, this.reconnectAt - now);
    } else if (end.code === CloseCode.TOO_SLOW && this.attempt === 0) {
      // Too slow once: resume at once. Again before it recovered: back off like any failure.
      wait = 0;
      this.attempt = 1;
    } else {
      wait = backoffDelay(this.policy, this.attempt++, this.random);
    }
    this.waits.push(wait);
    if (this.waits.length > 64) this.waits.shift();
    this.setStatus(wait > 0 ? "offline" : "connecting");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, wait);
  }

  /** Stops: no connection, no timer, until `start()`. */
  private halt(status: LiveStatus, error: string): void {
    this.running = false;
    this.generation++;
    this.transport?.close();
    this.transport = null;
    this.clearTimers();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.error = error;
    this.setStatus(status);
  }

  private clearHelloTimer(): void {
    if (this.helloTimer !== null) clearTimeout(this.helloTimer);
    this.helloTimer = null;
  }

  private clearTimers(): void {
    this.stopHeartbeat();
    this.clearHelloTimer();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private setStatus(status: LiveStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.statusChanges.emit(status);
  }
}

// One live connection per user however many tabs are open. The tabs elect the one that holds
// it with a Web Lock (granted to one tab at a time, held until that tab closes, then granted
// to the next in line) and share it over a BroadcastChannel: every tab tells the leader the
// topics it follows, the leader follows their union and tells every tab what the server says
// (with the resume point), and each tab hands on only what concerns its own topics. When the
// leader closes, the next tab takes the lock and connects, resuming from the highest seq it
// has seen, so no tab misses an event or sees one twice.
import type { UserEvent } from "../api/events";
import type { EventListener, EventMeta, LiveClient, TopicHandlers } from "./client";
import type { LiveConnection, LiveStatus } from "./connection";
import { Leader } from "./leader";
import { Listeners } from "./listeners";
import { knownEvent, onUserFeed, type ServerMessage } from "./protocol";
import { isTabMessage, type TabMessage, type ToLeader, type ToTabs } from "./tabmessages";

/** The part of the Web Locks API the election uses (`navigator.locks`). */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode: "exclusive"; signal: AbortSignal },
    callback: () => Promise<void>,
  ): Promise<unknown>;
}

/** The part of BroadcastChannel the tabs talk over. */
export interface ChannelLike {
  postMessage(message: TabMessage): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export interface LiveTabOptions {
  /** Names the lock and the channel; one name per user (and protocol version), so tabs
   * signed in as someone else never share. */
  readonly name: string;
  /** Makes the connection when this tab comes to hold it. */
  readonly connect: (init: { readonly lastSeq: number | null }) => LiveConnection;
  /** null (or no channel): no sharing, this tab holds a connection of its own. */
  readonly locks: LockManagerLike | null;
  readonly openChannel: ((name: string) => ChannelLike) | null;
  readonly newId?: () => string;
}

/** One start of a tab: its id, its leadership if it has it, and what ends it. */
interface Run {
  readonly id: string;
  readonly abort: AbortController;
  readonly release: () => void;
  readonly held: Promise<void>;
  channel: ChannelLike | null;
  leader: Leader | null;
  /** Its own lock is held: a leader may watch it from now on. */
  present: boolean;
}

function ignoreAbort(error: unknown): void {
  if (error instanceof DOMException && error.name === "AbortError") return;
  throw error;
}

export class LiveTab implements LiveClient {
  status: LiveStatus = "connecting";
  error = "";
  /** The highest seq the leader has reported: where this tab resumes if it comes to lead. */
  lastSeq: number | null = null;

  private readonly follows = new Map<string, Set<TopicHandlers>>();
  private readonly userEvents = new Listeners<[UserEvent, EventMeta]>();
  private readonly resets = new Listeners();
  private readonly statusChanges = new Listeners();
  private run: Run | null = null;
  private announceQueued = false;
  private drops = 0; // refusals and losses heard of from the current leader

  constructor(private readonly options: LiveTabOptions) {}

  /** Whether this tab holds the connection (for tests and diagnostics). */
  get leading(): boolean {
    return this.run?.leader != null;
  }

  /** This run's id among the tabs. */
  get id(): string | undefined {
    return this.run?.id;
  }

  start(): void {
    if (this.run !== null) return;
    let release = () => {
      // replaced below, synchronously
    };
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const newId = this.options.newId ?? (() => crypto.randomUUID());
    const run: Run = {
      id: newId(),
      abort: new AbortController(),
      release,
      held,
      channel: null,
      leader: null,
      present: false,
    };
    this.run = run;
    const { locks, openChannel, name } = this.options;
    if (locks === null || openChannel === null) {
      run.present = true;
      this.lead(run);
      return;
    }
    const channel = openChannel(name);
    run.channel = channel;
    channel.addEventListener("message", (event) => {
      if (this.run === run && isTabMessage(event.data)) this.heard(run, event.data);
    });
    const options = { mode: "exclusive", signal: run.abort.signal } as const;
    // This tab's own lock first: a leader learns that the tab closed when it comes free.
    locks
      .request(`${name}:tab:${run.id}`, options, () => {
        if (this.run !== run) return Promise.resolve();
        run.present = true;
        this.announce();
        locks
          .request(name, options, () => {
            if (this.run !== run) return Promise.resolve();
            this.lead(run);
            return run.held;
          })
          .catch(ignoreAbort);
        return run.held;
      })
      .catch(ignoreAbort);
  }

  /** Leaves: the locks go to the next tab, which connects if this one held the connection. */
  stop(): void {
    const run = this.run;
    if (run === null) return;
    this.run = null;
    run.abort.abort();
    run.release();
    run.leader?.stop();
    run.channel?.close();
  }

  restart(): void {
    this.toLeader({ kind: "restart" });
  }

  retryNow(): void {
    this.toLeader({ kind: "retry" });
  }

  onStatus(listener: () => void): () => void {
    return this.statusChanges.add(listener);
  }

  onUserEvent(listener: EventListener): () => void {
    return this.userEvents.add(listener);
  }

  onReset(listener: () => void): () => void {
    return this.resets.add(listener);
  }

  follow(topic: string, handlers: TopicHandlers): () => void {
    let followers = this.follows.get(topic);
    if (followers === undefined) {
      followers = new Set();
      this.follows.set(topic, followers);
      this.announce();
    }
    const own = { ...handlers }; // its own identity: the same handlers may follow twice
    followers.add(own);
    const set = followers;
    return () => {
      // A refused or lost topic was dropped already, and may be followed anew since.
      if (this.follows.get(topic) !== set || !set.delete(own)) return;
      if (set.size === 0) {
        this.follows.delete(topic);
        this.announce();
      }
    };
  }

  // Between tabs.

  private lead(run: Run): void {
    const connection = this.options.connect({ lastSeq: this.lastSeq });
    const leader = new Leader({
      tab: run.id,
      connection,
      send: (message) => {
        run.channel?.postMessage(message);
        this.fromLeader(message);
      },
      watch: (tab, gone, signal) => {
        this.watch(tab, gone, signal);
      },
    });
    run.leader = leader;
    leader.setTopics(run.id, this.follows.keys());
    leader.start();
  }

  private watch(tab: string, gone: () => void, signal: AbortSignal): void {
    const { locks, name } = this.options;
    locks
      ?.request(`${name}:tab:${tab}`, { mode: "exclusive", signal }, () => {
        gone();
        return Promise.resolve();
      })
      .catch(ignoreAbort);
  }

  private heard(run: Run, message: TabMessage): void {
    switch (message.kind) {
      case "topics":
        run.leader?.setTopics(message.tab, message.topics, message.drops);
        break;
      case "restart":
        run.leader?.restart();
        break;
      case "retry":
        run.leader?.retryNow();
        break;
      case "leader":
        this.drops = 0; // a new leader counts from nothing
        this.announce();
        break;
      case "status":
      case "message":
        this.fromLeader(message);
        break;
    }
  }

  private toLeader(message: ToLeader): void {
    const run = this.run;
    if (run === null) return;
    if (run.leader === null) {
      run.channel?.postMessage(message);
    } else if (message.kind === "restart") {
      run.leader.restart();
    } else if (message.kind === "retry") {
      run.leader.retryNow();
    }
  }

  /** Tells the leader this tab's topics, once for all the changes of one task. */
  private announce(): void {
    if (this.announceQueued) return;
    this.announceQueued = true;
    queueMicrotask(() => {
      this.announceQueued = false;
      const run = this.run;
      if (run === null || !run.present) return;
      const topics = [...this.follows.keys()];
      if (run.leader !== null) run.leader.setTopics(run.id, topics);
      else run.channel?.postMessage({ kind: "topics", tab: run.id, topics, drops: this.drops });
    });
  }

  // What the leader says.

  private fromLeader(message: ToTabs): void {
    if (message.kind === "status") {
      if (message.status === this.status && message.error === this.error) return;
      this.status = message.status;
      this.error = message.error;
      this.statusChanges.emit();
    } else if (message.kind === "message") {
      if (message.to === undefined || message.to === this.run?.id) {
        this.drops = message.drops;
        this.deliver(message.message, message.seq);
      }
    }
  }

  private deliver(message: ServerMessage, seq: number | null): void {
    const fresh = message.type !== "event" || this.lastSeq === null || message.seq > this.lastSeq;
    if (seq !== null) {
      const lowered = message.type === "error" && message.code === "bad_resume";
      this.lastSeq = lowered || this.lastSeq === null ? seq : Math.max(this.lastSeq, seq);
    }
    switch (message.type) {
      case "event": {
        const event = fresh ? knownEvent(message) : undefined;
        if (event === undefined) return;
        const meta = { seq: message.seq, topic: message.topic };
        if (onUserFeed(message.topic)) this.userEvents.emit(event, meta);
        for (const handlers of this.handlersOf(message.topic)) handlers.event(event, meta);
        return;
      }
      case "reset":
        this.resetAll();
        return;
      case "error":
        if (message.code === "bad_resume") this.resetAll();
        return;
      case "refused":
        for (const handlers of this.drop(message.topic)) handlers.refused?.(message);
        return;
      case "unsubscribed":
        if (message.reason !== "access_lost") return;
        for (const handlers of this.drop(message.topic)) handlers.lost?.();
        return;
      case "subscribed":
        for (const handlers of this.handlersOf(message.topic))
          handlers.subscribed?.(message.presence);
        return;
      case "presence":
        for (const handlers of this.handlersOf(message.topic)) handlers.presence?.(message);
        return;
      default:
        return;
    }
  }

  private resetAll(): void {
    this.resets.emit();
    for (const followers of [...this.follows.values()]) {
      for (const handlers of [...followers]) handlers.reset?.();
    }
  }

  private handlersOf(topic: string): TopicHandlers[] {
    return [...(this.follows.get(topic) ?? [])];
  }

  /** Stops following a topic the server let go of; its handlers, to be told why. */
  private drop(topic: string): TopicHandlers[] {
    const handlers = this.handlersOf(topic);
    this.follows.delete(topic);
    return handlers;
  }
}

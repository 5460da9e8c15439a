// The tab that holds the connection: it follows the union of every tab's topics (each tab's
// set counted once, dropped when the tab closes) and tells all tabs what the server says.
import type { LiveConnection } from "./connection";
import type { ServerMessage, Subscribed } from "./protocol";
import type { Relayed, ToTabs } from "./tabmessages";

// Refusals remembered against stale words: far more than can cross one on the channel.
const MAX_DROPPED = 64;

export interface LeaderOptions {
  /** The id of the tab that leads. */
  readonly tab: string;
  readonly connection: LiveConnection;
  /** Tells every tab, the leading one included. */
  readonly send: (message: ToTabs) => void;
  /** Calls `gone` once tab `tab` has closed, unless `signal` aborts first. */
  readonly watch: (tab: string, gone: () => void, signal: AbortSignal) => void;
}

export class Leader {
  private readonly tabs = new Map<string, Set<string>>();
  // Each followed topic's answer, kept current with presence, for tabs that ask later.
  private readonly answers = new Map<string, Subscribed>();
  // Topics refused or lost, numbered: a tab's word sent before it heard of one is stale.
  private drops = 0;
  private readonly dropped: { readonly n: number; readonly topic: string }[] = [];
  private readonly watching = new AbortController();
  private readonly unlisten: (() => void)[];

  constructor(private readonly options: LeaderOptions) {
    const { connection } = options;
    this.unlisten = [
      connection.messages.add((message) => {
        this.relay(message);
      }),
      connection.statusChanges.add(() => {
        this.sendStatus();
      }),
    ];
  }

  get connection(): LiveConnection {
    return this.options.connection;
  }

  start(): void {
    this.options.send({ kind: "leader", tab: this.options.tab });
    this.connection.start(); // its status ("connecting") goes to every tab
  }

  stop(): void {
    for (const unlisten of this.unlisten) unlisten();
    this.watching.abort();
    this.connection.stop();
  }

  restart(): void {
    this.connection.restart();
  }

  retryNow(): void {
    this.connection.retryNow();
  }

  /** Tab `tab` follows exactly `topics` from now on; `seenDrops` is how many refusals and
   * losses it had heard of when it said so. */
  setTopics(tab: string, topics: Iterable<string>, seenDrops = this.drops): void {
    const before = this.tabs.get(tab);
    const after = new Set(topics);
    // Not asked for again by a word that crossed the refusal on its way.
    for (const { n, topic } of this.dropped) if (n > seenDrops) after.delete(topic);
    this.tabs.set(tab, after);
    if (before === undefined && tab !== this.options.tab) {
      this.options.watch(
        tab,
        () => {
          this.forget(tab);
        },
        this.watching.signal,
      );
    }
    this.reconcile();
    // Topics another tab had the connection follow were answered before this tab asked.
    for (const topic of after) {
      const answer = this.answers.get(topic);
      if (answer !== undefined && before?.has(topic) !== true) {
        this.options.send({ ...this.envelope(answer), to: tab });
      }
    }
    if (before === undefined) this.sendStatus();
  }

  /** Tab `tab` closed: what only it followed is given up. */
  forget(tab: string): void {
    if (this.tabs.delete(tab)) this.reconcile();
  }

  private reconcile(): void {
    const union = new Set<string>();
    for (const topics of this.tabs.values()) for (const topic of topics) union.add(topic);
    for (const topic of union) this.connection.subscribe(topic);
    for (const topic of [...this.connection.topics]) {
      if (!union.has(topic)) {
        this.connection.unsubscribe(topic);
        this.answers.delete(topic);
      }
    }
  }

  private relay(message: ServerMessage): void {
    switch (message.type) {
      case "subscribed":
        this.answers.set(message.topic, message);
        break;
      case "presence": {
        const answer = this.answers.get(message.topic);
        if (answer !== undefined) {
          const others = answer.presence.filter((viewer) => viewer.user_id !== message.user_id);
          const viewer = { user_id: message.user_id, user_name: message.user_name };
          const presence = message.action === "join" ? [...others, viewer] : others;
          this.answers.set(message.topic, { ...answer, presence });
        }
        break;
      }
      case "refused":
      case "unsubscribed":
        // A requested one was given up when it was asked for (and may be wanted again since).
        if (message.type === "unsubscribed" && message.reason === "requested") break;
        // The connection has let it go; no tab's set may ask for it again by accident.
        this.answers.delete(message.topic);
        for (const topics of this.tabs.values()) topics.delete(message.topic);
        this.dropped.push({ n: ++this.drops, topic: message.topic });
        if (this.dropped.length > MAX_DROPPED) this.dropped.shift();
        break;
      default:
        break;
    }
    this.options.send(this.envelope(message));
  }

  private envelope(message: ServerMessage): Relayed {
    return { kind: "message", message, seq: this.connection.lastSeq, drops: this.drops };
  }

  private sendStatus(): void {
    const { status, error } = this.connection;
    this.options.send({ kind: "status", status, error });
  }
}

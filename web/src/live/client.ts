// What the app sees of the live connection, in any tab: the topics it follows and the
// events, resets and outcomes that concern them. One tab holds the connection; `LiveTab`
// implements this for every tab alike.
import type { UserEvent } from "../api/events";
import type { LiveStatus } from "./connection";
import type { PresenceMessage, Refused, Viewer } from "./protocol";

export interface EventMeta {
  /** The event's sequence in the stream. */
  readonly seq: number;
  /** The topic it came on: "user", "canvas:<id>" or "batch:<id>". */
  readonly topic: string;
}

export type EventListener = (event: UserEvent, meta: EventMeta) => void;

export interface TopicHandlers {
  readonly event: EventListener;
  /** Events may have been missed (history gone): refetch what is shown. */
  readonly reset?: () => void;
  /** The topic does not exist or may not be read (told alike), or too many are followed. */
  readonly refused?: (refusal: Refused) => void;
  /** Access to it was lost (a share revoked, the canvas deleted). */
  readonly lost?: () => void;
  /** Followed; a canvas's viewers come with it. */
  readonly subscribed?: (viewers: readonly Viewer[]) => void;
  readonly presence?: (change: PresenceMessage) => void;
}

export interface LiveClient {
  readonly status: LiveStatus;
  /** Why it is not live (signed out, failed, or the last drop), when known; empty when live. */
  readonly error: string;
  onStatus(listener: () => void): () => void;
  /** Follows `topic` until the returned function is called; refused and lost topics end
   * by themselves, after their handler is called. */
  follow(topic: string, handlers: TopicHandlers): () => void;
  /** The user's own feed (always on): their batches' events and Execute snapshots. */
  onUserEvent(listener: EventListener): () => void;
  /** Events may have been missed: refetch what is shown. */
  onReset(listener: () => void): () => void;
  start(): void;
  stop(): void;
  /** Connects again after signing in again (from any tab). */
  restart(): void;
  /** Connects now instead of after the current backoff (the browser came back online). */
  retryNow(): void;
}

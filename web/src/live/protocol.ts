// The live connection's messages, typed as libs/live/protocol.py declares them (the prose is
// docs/live-events.md), and read from the wire with checks: a server frame is untrusted data
// until each message in it has the fields its type promises.
import type { UserEvent } from "../api/events";

export const MSGPACK_PROTOCOL = "shotgraph.v1.msgpack";
export const WS_PATH = "/v1/ws";
export const SSE_PATH = "/v1/events";
export const STREAM_TOKENS_PATH = "/v1/events/tokens";
/** The topic of the user's own feed: always on, never subscribed. */
export const USER_TOPIC = "user";

/** The topic a canvas's node states and presence come on. */
export function canvasTopic(canvasId: string): string {
  return `canvas:${canvasId}`;
}

/** WebSocket close codes, and what the client does about each (docs/live-events.md). */
export const CloseCode = {
  NORMAL: 1000,
  ABNORMAL: 1006, // no close frame: the connection was cut (never sent, only seen)
  MESSAGE_TOO_BIG: 1009,
  SERVER_ERROR: 1011, // reconnect with backoff, resume
  DRAINING: 1012, // reconnect after `reconnect.after_ms` (or with backoff), resume
  MALFORMED: 4000,
  UNKNOWN_TYPE: 4001,
  RESUME_NOT_FIRST: 4002,
  TOO_SLOW: 4008, // resume at once
  UNAUTHENTICATED: 4401, // sign in again
} as const;

/** Codes that say the client is at fault: connecting again would only be refused again. */
export const CLIENT_FAULTS: ReadonlySet<number> = new Set([
  CloseCode.MESSAGE_TOO_BIG,
  CloseCode.MALFORMED,
  CloseCode.UNKNOWN_TYPE,
  CloseCode.RESUME_NOT_FIRST,
]);

// Client → server.

export interface Subscribe {
  type: "subscribe";
  topic: string;
}
export interface Unsubscribe {
  type: "unsubscribe";
  topic: string;
}
/** The first message of a reconnecting client: its topics, and the last seq it saw. */
export interface Resume {
  type: "resume";
  after: number;
  topics: string[];
}
export interface Ping {
  type: "ping";
  id: string | number;
}
export type ClientMessage = Subscribe | Unsubscribe | Resume | Ping;

// Server → client.

export interface Viewer {
  user_id: string;
  user_name: string;
}
export interface Hello {
  type: "hello";
  connection_id: string;
  user_id: string;
  /** The stream's last sequence when the connection opened. */
  last_seq: number;
  window_ms: number;
  heartbeat_s: number;
  max_client_message_bytes: number;
  max_topics: number;
}
/** An event as it travels: its type is checked against the known ones only where it is
 * delivered, so that one of a newer release still moves the resume point. */
export interface WireEvent {
  type: string;
  [field: string]: unknown;
}
export interface EventMessage {
  type: "event";
  seq: number;
  /** "user", "canvas:<id>" or "batch:<id>". */
  topic: string;
  event: WireEvent;
}
export interface Subscribed {
  type: "subscribed";
  topic: string;
  /** A canvas's viewers, the subscriber's own user among them. */
  presence: Viewer[];
}
export interface Refused {
  type: "refused";
  topic: string;
  reason: "invalid" | "not_allowed" | "too_many_topics";
  detail: string;
}
export interface Unsubscribed {
  type: "unsubscribed";
  topic: string;
  reason: "requested" | "access_lost";
}
export interface Resumed {
  type: "resumed";
  after: number;
  replayed: number;
}
/** History no longer reaches back to `after`: refetch what is shown, then carry on live. */
export interface Reset {
  type: "reset";
  after: number;
  first_seq: number;
  last_seq: number;
  reason: "history_gone";
}
export interface PresenceMessage {
  type: "presence";
  topic: string;
  action: "join" | "leave";
  user_id: string;
  user_name: string;
}
export interface Pong {
  type: "pong";
  id: string | number;
}
/** A request that could not be done (a resume from a seq the stream never had). */
export interface ErrorMessage {
  type: "error";
  /** "bad_resume" today; a newer server may say more. */
  code: string;
  detail: string;
}
/** The process is stopping: reconnect after `after_ms`, then resume. */
export interface Reconnect {
  type: "reconnect";
  after_ms: number;
  reason: "draining";
}
export type ServerMessage =
  | Hello
  | EventMessage
  | Subscribed
  | Refused
  | Unsubscribed
  | Resumed
  | Reset
  | PresenceMessage
  | Pong
  | ErrorMessage
  | Reconnect;

/** A server message that breaks its type's shape: the server's fault, not to be guessed at. */
export class ServerFault extends Error {
  override name = "ServerFault";
}

type Field = "string" | "seq" | "number" | "id" | "object" | "viewers";

// What each message must carry; a field left out here is optional with a default below.
const FIELDS: { readonly [K in ServerMessage["type"]]: Readonly<Record<string, Field>> } = {
  hello: {
    connection_id: "string",
    user_id: "string",
    last_seq: "seq",
    window_ms: "number",
    heartbeat_s: "number",
  },
  event: { seq: "seq", topic: "string", event: "object" },
  subscribed: { topic: "string" },
  refused: { topic: "string", reason: "string" },
  unsubscribed: { topic: "string", reason: "string" },
  resumed: { after: "seq", replayed: "number" },
  reset: { after: "seq", first_seq: "seq", last_seq: "seq" },
  presence: { topic: "string", action: "string", user_id: "string", user_name: "string" },
  pong: {},
  error: { code: "string", detail: "string" },
  reconnect: { after_ms: "number" },
};

const DEFAULTS: { readonly [K in ServerMessage["type"]]?: Readonly<Record<string, unknown>> } = {
  hello: { max_client_message_bytes: 4096, max_topics: 50 },
  subscribed: { presence: [] },
  refused: { detail: "" },
  reset: { reason: "history_gone" },
  pong: { id: 0 },
  reconnect: { reason: "draining" },
};

function fits(value: unknown, field: Field): boolean {
  switch (field) {
    case "string":
      return typeof value === "string";
    case "seq":
      return typeof value === "number" && Number.isInteger(value) && value >= 0;
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "id":
      return typeof value === "string" || typeof value === "number";
    case "object":
      return isRecord(value) && typeof value.type === "string";
    case "viewers":
      return Array.isArray(value) && value.every((viewer) => isRecord(viewer));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isKnownType(type: unknown): type is ServerMessage["type"] {
  return typeof type === "string" && Object.hasOwn(FIELDS, type);
}

/** One server message from decoded wire data; undefined for a type this client does not know
 * (a newer server's: skipped, as readers skip what they do not know). */
export function readServerMessage(value: unknown): ServerMessage | undefined {
  if (!isRecord(value)) throw new ServerFault("a server message that is no map");
  const type = value.type;
  if (!isKnownType(type)) return undefined;
  for (const [name, field] of Object.entries(FIELDS[type])) {
    if (!fits(value[name], field)) {
      throw new ServerFault(`a malformed ${type} message: ${name} is no ${field}`);
    }
  }
  if (type === "subscribed" && value.presence !== undefined && !fits(value.presence, "viewers")) {
    throw new ServerFault("a malformed subscribed message: presence is no list of viewers");
  }
  if (type === "pong" && value.id !== undefined && !fits(value.id, "id")) {
    throw new ServerFault("a malformed pong message: id is no string or integer");
  }
  // Checked field by field above; the literal unions (reasons, actions) are the server's word.
  return { ...DEFAULTS[type], ...value } as unknown as ServerMessage;
}

// Every event type the contract declares, kept exactly in step with `UserEvent` by the type
// below: SSE names each event by its type, and EventSource hears only the names it is told.
const EVENT_TYPES_CHECK = {
  "batch.submitted": true,
  "batch.progress": true,
  "batch.completed": true,
  "batch.cancelled": true,
  "batch.retried": true,
  "canvas.execution": true,
  "canvas.nodes": true,
} as const satisfies Record<UserEvent["type"], true>;
export const EVENT_TYPES = Object.keys(EVENT_TYPES_CHECK) as readonly UserEvent["type"][];

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/** The event a message carries, when it is of a type this client knows; the payload's fields
 * are the server's, as the generated types describe them. */
export function knownEvent(message: EventMessage): UserEvent | undefined {
  return EVENT_TYPE_SET.has(message.event.type)
    ? (message.event as unknown as UserEvent)
    : undefined;
}

/** Whether the user's own feed carries events of `topic` (its own batches come on it). */
export function onUserFeed(topic: string): boolean {
  return topic === USER_TOPIC || topic.startsWith("batch:");
}

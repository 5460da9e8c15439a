// A Server-Sent Events transport: `GET /v1/events`, read through the browser's EventSource.
// Each event arrives as an SSE event named for its type with the same JSON object a WebSocket
// event message is; control messages are SSE events named `shotgraph.<type>`.
import { EVENT_TYPES, readServerMessage, ServerFault, type ServerMessage } from "./protocol";
import type { Transport, TransportHandlers } from "./transport";

/** The part of the browser's EventSource this client uses (a fake stands in for it in tests). */
export interface EventSourceLike {
  addEventListener(type: "error", listener: () => void): void;
  addEventListener(type: string, listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export const browserEventSource: EventSourceFactory = (url) => new EventSource(url);

// What an SSE stream carries besides events: no pong (SSE has no ping), no error (a bad
// resume point is a 400 before the stream opens).
const CONTROL_TYPES = [
  "hello",
  "subscribed",
  "refused",
  "unsubscribed",
  "resumed",
  "reset",
  "presence",
  "reconnect",
] as const satisfies readonly ServerMessage["type"][];

/** The message one SSE event carries; ServerFault when its data breaks the protocol. */
export function readSseEvent(name: string, data: unknown): ServerMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(String(data));
  } catch {
    throw new ServerFault(`SSE data that is no JSON (${name})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ServerFault(`SSE data that is no object (${name})`);
  }
  const control = name.startsWith("shotgraph.") ? name.slice("shotgraph.".length) : null;
  return readServerMessage(control === null ? value : { type: control, ...value });
}

/** Opens the stream at `url` (which carries its token, topics and resume point) and reports
 * to `handlers` until it ends or is closed. EventSource would reconnect by itself, but with the
 * same URL, and so with a stream token that has expired: the client reconnects instead. */
export function openEventSource(
  url: string,
  factory: EventSourceFactory,
  handlers: TransportHandlers,
): Transport {
  const source = factory(url);
  let done = false;
  const end = (reason: string) => {
    if (done) return;
    done = true;
    source.close();
    handlers.ended({ code: null, reason });
  };
  const listen = (name: string) => {
    source.addEventListener(name, (event) => {
      if (done) return;
      let message: ServerMessage | undefined;
      try {
        message = readSseEvent(name, event.data);
      } catch (error) {
        if (!(error instanceof ServerFault)) throw error;
        end(error.message);
        return;
      }
      if (message !== undefined) handlers.messages([message]);
    });
  };
  for (const type of EVENT_TYPES) listen(type);
  for (const type of CONTROL_TYPES) listen(`shotgraph.${type}`);
  source.addEventListener("error", () => {
    end("the event stream ended");
  });

  return {
    kind: "sse",
    send() {
      // Nothing goes up an event stream: its topics are in its URL.
    },
    close() {
      if (done) return;
      done = true;
      source.close();
    },
  };
}

// One opened connection of either kind, as the reconnecting LiveConnection drives it.
import type { ClientMessage, ServerMessage } from "./protocol";

export type TransportKind = "ws" | "sse";

/** How a connection ended without the client asking: `code` is the WebSocket close code (a
 * synthetic 1006 when it was cut, 1002 when the server's frames were garbage); null for SSE,
 * whose end says nothing. */
export interface TransportEnd {
  readonly code: number | null;
  readonly reason: string;
}

export interface TransportHandlers {
  /** The messages of one server frame, in order. */
  messages(messages: readonly ServerMessage[]): void;
  /** The connection is gone; called once, and never after `close()`. */
  ended(end: TransportEnd): void;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Sends when open; a message that cannot go now is for the next connection's resume. */
  send(message: ClientMessage): void;
  /** Closes it from this side: no `ended` follows. */
  close(): void;
}

/** What the client closes with when the server's frames are garbage (never on the wire:
 * browsers may only send 1000 and 3000-4999). */
export const PROTOCOL_ERROR = 1002;

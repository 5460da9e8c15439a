// A WebSocket transport: `shotgraph.v1.msgpack`, binary frames. Each server frame is an array
// of messages; each client frame is one message.
import { decode, encode } from "@msgpack/msgpack";

import {
  CloseCode,
  MSGPACK_PROTOCOL,
  readServerMessage,
  ServerFault,
  type ClientMessage,
  type ServerMessage,
} from "./protocol";
import { PROTOCOL_ERROR, type Transport, type TransportHandlers } from "./transport";

/** The part of the browser's WebSocket this client uses (a fake stands in for it in tests). */
export interface WebSocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  readonly protocol: string;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: "close",
    listener: (event: { code: number; reason: string }) => void,
  ): void;
}

export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

export const browserWebSocket: WebSocketFactory = (url, protocols) => new WebSocket(url, protocols);

const OPEN = 1;

/** The messages of one server frame; ServerFault when it is no MessagePack array of maps. */
export function decodeFrame(data: unknown): ServerMessage[] {
  if (!(data instanceof ArrayBuffer)) throw new ServerFault("a text frame on a binary protocol");
  let items: unknown;
  try {
    items = decode(new Uint8Array(data));
  } catch (error) {
    throw new ServerFault(`a server frame that is no MessagePack: ${String(error)}`);
  }
  if (!Array.isArray(items)) throw new ServerFault("a server frame that is no array");
  const messages: ServerMessage[] = [];
  for (const item of items) {
    const message = readServerMessage(item);
    if (message !== undefined) messages.push(message);
  }
  return messages;
}

export interface WebSocketHandlers extends TransportHandlers {
  /** The first messages, asked for when the socket opens (they must precede all others). */
  opened(): ClientMessage[];
}

/** Opens `url` and reports to `handlers` until it ends or is closed. */
export function openWebSocket(
  url: string,
  factory: WebSocketFactory,
  handlers: WebSocketHandlers,
): Transport {
  const socket = factory(url, [MSGPACK_PROTOCOL]);
  socket.binaryType = "arraybuffer";
  let done = false;
  const send = (message: ClientMessage) => {
    if (!done && socket.readyState === OPEN) socket.send(encode(message));
  };
  const end = (code: number, reason: string) => {
    if (done) return;
    done = true;
    handlers.ended({ code, reason });
  };
  const fault = (reason: string) => {
    socket.close(CloseCode.NORMAL, "bad server frame");
    end(PROTOCOL_ERROR, reason);
  };

  socket.addEventListener("open", () => {
    if (done) return;
    if (socket.protocol !== MSGPACK_PROTOCOL) {
      fault(`the server chose ${socket.protocol || "no subprotocol"}, not ${MSGPACK_PROTOCOL}`);
      return;
    }
    for (const message of handlers.opened()) send(message);
  });
  socket.addEventListener("message", (event) => {
    if (done) return;
    let messages: ServerMessage[];
    try {
      messages = decodeFrame(event.data);
    } catch (error) {
      if (!(error instanceof ServerFault)) throw error;
      fault(error.message);
      return;
    }
    handlers.messages(messages);
  });
  // A browser fires "close" after every "error", with the code: that is where it ends.
  socket.addEventListener("close", (event) => {
    end(event.code, event.reason);
  });

  return {
    kind: "ws",
    send,
    close() {
      if (done) return;
      done = true;
      socket.close(CloseCode.NORMAL);
    },
  };
}

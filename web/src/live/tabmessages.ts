// What tabs say to each other over their BroadcastChannel. Followers tell the leader their
// whole topic set (a state, not a change, so nothing is lost when leaders change); the leader
// tells every tab what the server said and where the connection stands.
import type { LiveStatus } from "./connection";
import type { ServerMessage } from "./protocol";

/** To the tab holding the connection. */
export type ToLeader =
  /** `drops`: how many refusals and losses the tab had heard of when it said so. */
  | {
      readonly kind: "topics";
      readonly tab: string;
      readonly topics: readonly string[];
      readonly drops: number;
    }
  | { readonly kind: "restart" }
  | { readonly kind: "retry" };

/** A server message, with the connection's resume point after it and how many topics the
 * leader has seen refused or lost; `to` names the one tab it is for, when not for all. */
export interface Relayed {
  readonly kind: "message";
  readonly message: ServerMessage;
  readonly seq: number | null;
  readonly drops: number;
  readonly to?: string;
}

/** From the tab holding the connection, to all. */
export type ToTabs =
  /** A tab took the connection: each other tab answers with its topics. */
  | { readonly kind: "leader"; readonly tab: string }
  | { readonly kind: "status"; readonly status: LiveStatus; readonly error: string }
  | Relayed;

export type TabMessage = ToLeader | ToTabs;

const KINDS: ReadonlySet<string> = new Set([
  "topics",
  "restart",
  "retry",
  "leader",
  "status",
  "message",
]);

/** Whether `data` is a message of this protocol. The channel's name carries the protocol's
 * version, and only this origin's pages can post on it, so the kind is what is checked. */
export function isTabMessage(data: unknown): data is TabMessage {
  return (
    typeof data === "object" &&
    data !== null &&
    "kind" in data &&
    typeof data.kind === "string" &&
    KINDS.has(data.kind)
  );
}

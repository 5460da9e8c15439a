// The live client as the studio makes it in a browser: one per signed-in user, shared by that
// user's tabs through the browser's Web Locks and BroadcastChannel when it has them.
import type { LiveClient } from "./client";
import { LiveConnection } from "./connection";
import { LiveTab, type ChannelLike, type LockManagerLike } from "./tabs";

// The tabs' protocol version is in the name: a tab of an older release never shares with one
// of a newer one (after a deploy both may be open for a while).
const CHANNEL_PREFIX = "shotgraph.live.v1";

/** A client for `userId`'s tab; `start()` connects (or joins the tab that has). */
export function createLiveClient(userId: string): LiveClient {
  const locks: LockManagerLike | null = "locks" in navigator ? navigator.locks : null;
  const openChannel =
    typeof BroadcastChannel === "function"
      ? (name: string): ChannelLike => new BroadcastChannel(name)
      : null;
  return new LiveTab({
    name: `${CHANNEL_PREFIX}.${userId}`,
    locks,
    openChannel,
    connect: ({ lastSeq }) => new LiveConnection({ lastSeq }),
  });
}

// The live connection for components: follow a topic while mounted, hear the user's own
// feed, show where the connection stands.
import { useCallback, useContext, useEffect, useEffectEvent, useSyncExternalStore } from "react";

import type { UserEvent } from "../api/events";
import type { EventMeta, LiveClient } from "./client";
import type { LiveStatus } from "./connection";
import { LiveContext } from "./context";
import type { PresenceMessage, Refused, Viewer } from "./protocol";

export interface TopicOptions {
  /** Events may have been missed: refetch what the component shows. */
  readonly onReset?: () => void;
  /** The topic does not exist or may not be read (the server tells both alike). */
  readonly onRefused?: (refusal: Refused) => void;
  /** Access was lost while following it (unshared, deleted). */
  readonly onLost?: () => void;
  /** Followed (again after a reconnect); a canvas's viewers come with it. */
  readonly onSubscribed?: (viewers: readonly Viewer[]) => void;
  /** Someone began or stopped viewing the canvas. */
  readonly onPresence?: (change: PresenceMessage) => void;
}

/** The tab's live client (to `restart()` it after signing in again); null when signed out. */
export function useLiveClient(): LiveClient | null {
  return useContext(LiveContext);
}

/** Follows `topic` (e.g. `canvasTopic(id)`) while mounted; null follows nothing. The
 * callbacks may change on every render without following again. */
export function useLiveTopic(
  topic: string | null,
  onEvent: (event: UserEvent, meta: EventMeta) => void,
  options: TopicOptions = {},
): void {
  const client = useLiveClient();
  const event = useEffectEvent(onEvent);
  const reset = useEffectEvent(() => options.onReset?.());
  const refused = useEffectEvent((refusal: Refused) => options.onRefused?.(refusal));
  const lost = useEffectEvent(() => options.onLost?.());
  const subscribed = useEffectEvent((viewers: readonly Viewer[]) => options.onSubscribed?.(viewers));
  const presence = useEffectEvent((change: PresenceMessage) => options.onPresence?.(change));
  useEffect(() => {
    if (client === null || topic === null) return;
    return client.follow(topic, {
      event: (received, meta) => {
        event(received, meta);
      },
      reset: () => {
        reset();
      },
      refused: (refusal) => {
        refused(refusal);
      },
      lost: () => {
        lost();
      },
      subscribed: (viewers) => {
        subscribed(viewers);
      },
      presence: (change) => {
        presence(change);
      },
    });
  }, [client, topic]);
}

/** The user's own feed while mounted: their batches' events and Execute snapshots. */
export function useUserEvents(
  onEvent: (event: UserEvent, meta: EventMeta) => void,
  onReset?: () => void,
): void {
  const client = useLiveClient();
  const event = useEffectEvent(onEvent);
  const reset = useEffectEvent(() => onReset?.());
  useEffect(() => {
    if (client === null) return;
    const stopEvents = client.onUserEvent((received, meta) => {
      event(received, meta);
    });
    const stopResets = client.onReset(() => {
      reset();
    });
    return () => {
      stopEvents();
      stopResets();
    };
  }, [client]);
}

/** Where the connection stands, for the header; "signed_out" while no one is signed in. */
export function useLiveStatus(): LiveStatus {
  const client = useLiveClient();
  const subscribe = useCallback(
    (changed: () => void) => client?.onStatus(changed) ?? (() => undefined),
    [client],
  );
  return useSyncExternalStore(subscribe, () => client?.status ?? "signed_out");
}

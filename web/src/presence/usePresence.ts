import { useCallback, useState } from "react";

import type { PresenceMessage, Viewer } from "../live";
import { changed, NOBODY, snapshot, type Presence } from "./presence";

export interface PresenceFeed {
  presence: Presence;
  /** For `useLiveTopic`'s `onSubscribed` and `onPresence` on the canvas's topic. */
  onSubscribed: (viewers: readonly Viewer[]) => void;
  onPresence: (change: PresenceMessage) => void;
}

/** Who views the canvas, kept from what its live topic says. */
export function usePresence(): PresenceFeed {
  const [presence, setPresence] = useState<Presence>(NOBODY);
  const onSubscribed = useCallback((viewers: readonly Viewer[]) => {
    setPresence((now) => snapshot(now, viewers));
  }, []);
  const onPresence = useCallback((change: PresenceMessage) => {
    setPresence((now) => changed(now, change));
  }, []);
  return { presence, onSubscribed, onPresence };
}

import { useEffect, useMemo, type ReactNode } from "react";

import { createLiveClient } from "./browser";
import type { LiveClient } from "./client";
import { LiveContext } from "./context";

export interface LiveProviderProps {
  /** Who is signed in; null: no connection. Another user gets a client of their own. */
  readonly userId: string | null;
  /** How the client is made (tests give their own). */
  readonly create?: (userId: string) => LiveClient;
  readonly children: ReactNode;
}

/** Holds the tab's live client for the signed-in user and keeps it connected (or joined to
 * the tab that is) while mounted; connects at once when the browser comes back online. */
export function LiveProvider({ userId, create = createLiveClient, children }: LiveProviderProps) {
  // Making a client opens nothing: start() in the effect does, and stop() undoes it.
  const client = useMemo(() => (userId === null ? null : create(userId)), [userId, create]);
  useEffect(() => {
    if (client === null) return;
    client.start();
    const online = () => {
      client.retryNow();
    };
    window.addEventListener("online", online);
    return () => {
      window.removeEventListener("online", online);
      client.stop();
    };
  }, [client]);
  return <LiveContext value={client}>{children}</LiveContext>;
}

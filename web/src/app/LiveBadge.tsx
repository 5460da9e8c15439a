import { useEffect } from "react";

import { useLiveClient, useLiveStatus, type LiveStatus } from "../live";

const SHOWN: Record<LiveStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Offline",
  signed_out: "Signed out",
  failed: "Live updates stopped",
};

/** Where the live connection stands. A connection the server closed for a lost credential
 * starts again at once: its stream-token call asks the person to sign in again first. */
export function LiveBadge() {
  const client = useLiveClient();
  const status = useLiveStatus();
  useEffect(() => {
    if (status === "signed_out") client?.restart();
  }, [client, status]);
  return (
    <span className="live-badge" data-live-state={status} title="Live updates">
      {SHOWN[status]}
    </span>
  );
}

import { useEffect, useEffectEvent, useRef } from "react";

import { useLiveStatus } from "../live";

/** Whether the live connection is up; `refresh` is called each time it comes back (a
 * reconnect after a drop, or the first connection after the page was read), since what the
 * page shows may have missed events meanwhile. */
export function useLiveRefresh(refresh: () => void): boolean {
  const status = useLiveStatus();
  const previous = useRef(status);
  const liveAgain = useEffectEvent(refresh);
  useEffect(() => {
    const before = previous.current;
    previous.current = status;
    if (status === "live" && before !== "live") liveAgain();
  }, [status]);
  return status === "live";
}

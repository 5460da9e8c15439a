import { createContext } from "react";

import type { LiveClient } from "./client";

/** The tab's live client; null while no one is signed in. */
export const LiveContext = createContext<LiveClient | null>(null);

// Who is signed in, as the one query the whole studio reads: `null` when no one is. It is
// fetched once at start and then changed only by signing in and out, never refetched behind
// the page's back (a refetch answering 401 mid-work would unmount the page; the sign-in
// dialog handles that instead).

import { useQuery, type QueryClient } from "@tanstack/react-query";
import { createContext, useContext } from "react";

import { currentSession, type Identity } from "../api/auth";

export const SESSION_KEY = ["session"] as const;

export function useSession() {
  return useQuery({
    queryKey: SESSION_KEY,
    queryFn: currentSession,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
  });
}

/** The identity of a signed-in page; set by the routes that require one. */
export const IdentityContext = createContext<Identity | null>(null);

export function useIdentity(): Identity {
  const identity = useContext(IdentityContext);
  if (identity === null) throw new Error("useIdentity outside a signed-in page");
  return identity;
}

/** Starts over as `identity` (or signed out): nothing read as someone else is kept. */
export function startSession(queries: QueryClient, identity: Identity | null): void {
  queries.removeQueries({ predicate: (query) => query.queryKey[0] !== SESSION_KEY[0] });
  queries.setQueryData(SESSION_KEY, identity);
}

/** Someone else signed in where this page's person was: their work must never be finished
 * as the new person, so the page starts again from the top. */
export function restartAsSomeoneElse(): void {
  window.location.replace("/");
}

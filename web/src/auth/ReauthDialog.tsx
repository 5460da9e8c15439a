import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";

import { currentSession, type Identity } from "../api/auth";
import { setReauthenticate } from "../api/http";
import { Dialog } from "../app/Dialog";
import { restartAsSomeoneElse, SESSION_KEY } from "../app/session";
import { SignInForm } from "./SignInForm";

function knownIdentity(queries: QueryClient): Identity | null {
  return queries.getQueryData<Identity | null>(SESSION_KEY) ?? null;
}

/** Whether `identity` may finish the page's work: only the person it was started by. */
function carryOn(queries: QueryClient, identity: Identity): boolean {
  const before = knownIdentity(queries);
  if (before !== null && before.user_id !== identity.user_id) {
    restartAsSomeoneElse();
    return false;
  }
  queries.setQueryData(SESSION_KEY, identity);
  return true;
}

/** Signs the person in again when a call finds the session gone or its CSRF token stale,
 * over the page as it is (nothing behind unmounts), so the calls that waited then finish.
 * Another tab may already have signed in again (the cookie is shared): then the fresh
 * session is taken without asking. If a different person signs in, the page starts over. */
export function ReauthDialog() {
  const queries = useQueryClient();
  const [asking, setAsking] = useState(false);
  const waiting = useRef<{ resolve: () => void; reject: (error: Error) => void } | null>(null);

  useEffect(() => {
    setReauthenticate(async () => {
      const current = await currentSession().catch(() => null);
      if (current !== null && carryOn(queries, current)) return;
      // Signed in by the person here, or never: someone else's session replaces the page.
      return new Promise<void>((resolve, reject) => {
        waiting.current = { resolve, reject };
        if (current === null) setAsking(true);
      });
    });
    return () => {
      setReauthenticate(undefined);
      waiting.current?.reject(new Error("the page closed before signing in again"));
      waiting.current = null;
    };
  }, [queries]);

  if (!asking) return null;
  return (
    <Dialog title="Sign in again" className="reauth">
      <p>
        Your session has ended. Sign in again to carry on: nothing is lost, and what you were doing
        finishes once you are back.
      </p>
      <SignInForm
        initialUserName={knownIdentity(queries)?.user_name ?? ""}
        onSignedIn={(identity) => {
          if (!carryOn(queries, identity)) return;
          setAsking(false);
          waiting.current?.resolve();
          waiting.current = null;
        }}
      />
    </Dialog>
  );
}

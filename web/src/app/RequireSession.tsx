import { Navigate, useLocation } from "react-router";

import { Shell } from "./Shell";
import { IdentityContext, useSession } from "./session";

/** The signed-in pages: signed out, a page sends the person to sign in and back here after. */
export function RequireSession() {
  const session = useSession();
  const { pathname, search, hash } = useLocation();
  if (session.data === undefined) return null; // App renders nothing until it is known
  if (session.data === null) {
    const next = encodeURIComponent(pathname + search + hash);
    return <Navigate to={`/signin?next=${next}`} replace />;
  }
  return (
    <IdentityContext value={session.data}>
      <Shell />
    </IdentityContext>
  );
}

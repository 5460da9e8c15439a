import { useMutation } from "@tanstack/react-query";
import { Link, NavLink, Outlet, useLocation, useMatch } from "react-router";

import { signOut } from "../api/auth";
import { LiveProvider } from "../live";
import { ErrorAlert } from "./ErrorAlert";
import { ErrorBoundary } from "./ErrorBoundary";
import { LiveBadge } from "./LiveBadge";
import { useIdentity } from "./session";

/** The signed-in frame: the header bar, and the page below it. The canvas page fills all of
 * the space under the header; every other page scrolls. */
export function Shell() {
  const identity = useIdentity();
  const { pathname } = useLocation();
  const onCanvas = useMatch("/canvases/:canvasId") !== null;
  const leave = useMutation({
    mutationFn: signOut,
    onSuccess: () => {
      // A page load, not a route change: nothing of this person stays in memory, neither the
      // query cache nor an open connection. (Clearing the session first would redirect to
      // sign in with `?next=`, and that history change cancels the load.)
      window.location.assign("/signin");
    },
  });

  return (
    <LiveProvider userId={identity.user_id}>
      <div className="shell">
        <header className="bar">
          <Link to="/" className="brand">
            Shotgraph Studio
          </Link>
          <nav aria-label="Studio">
            <NavLink to="/" end>
              Canvases
            </NavLink>
            <NavLink to="/uploads">Reference images</NavLink>
            <NavLink to="/queue">Queue</NavLink>
            <NavLink to="/keys">API keys</NavLink>
          </nav>
          <LiveBadge />
          <span className="who" title="Signed in as">
            {identity.user_name}
          </span>
          <button
            type="button"
            onClick={() => {
              leave.mutate();
            }}
            disabled={leave.isPending}
          >
            Sign out
          </button>
          <ErrorAlert error={leave.error} prefix="Not signed out: " className="bar-error" />
        </header>
        <main className={onCanvas ? "page page-canvas" : "page"}>
          <ErrorBoundary key={pathname}>
            <Outlet />
          </ErrorBoundary>
        </main>
      </div>
    </LiveProvider>
  );
}

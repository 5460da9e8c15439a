import { useMutation } from "@tanstack/react-query";
import { useId, useRef, useState } from "react";
import { Link, NavLink, Outlet, useLocation, useMatch } from "react-router";

import { signOut } from "../api/auth";
import { LiveProvider } from "../live";
import { ErrorAlert } from "./ErrorAlert";
import { ErrorBoundary } from "./ErrorBoundary";
import { LiveBadge } from "./LiveBadge";
import { useIdentity } from "./session";

/** The signed-in frame: the header bar, and the page below it. The canvas page fills all of
 * the space under the header; every other page scrolls. On a phone the header's links and
 * sign-out fold into a menu (styles.css decides when; the button says whether it is open). */
export function Shell() {
  const identity = useIdentity();
  const { pathname, key: visit } = useLocation();
  const menuId = useId();
  const [menu, setMenu] = useState({ open: false, at: visit });
  // A followed link closes the menu: the page it opens is what the person wants to see.
  const menuOpen = menu.open && menu.at === visit;
  const menuButton = useRef<HTMLButtonElement>(null);
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
        <header
          className="bar"
          onKeyDown={(event) => {
            if (event.key !== "Escape" || !menuOpen) return;
            // Focus goes back to the button rather than vanishing with the menu.
            setMenu({ open: false, at: visit });
            menuButton.current?.focus();
          }}
        >
          <Link to="/" className="brand">
            Shotgraph Studio
          </Link>
          <LiveBadge />
          <button
            type="button"
            className="menu-button"
            ref={menuButton}
            aria-expanded={menuOpen}
            aria-controls={menuId}
            onClick={() => {
              setMenu({ open: !menuOpen, at: visit });
            }}
          >
            Menu
          </button>
          <div id={menuId} className={menuOpen ? "bar-menu is-open" : "bar-menu"}>
            <nav aria-label="Studio">
              <NavLink to="/" end>
                Canvases
              </NavLink>
              <NavLink to="/uploads">Reference images</NavLink>
              <NavLink to="/queue">Queue</NavLink>
              <NavLink to="/keys">API keys</NavLink>
            </nav>
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
          </div>
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

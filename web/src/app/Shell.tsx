import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, NavLink, Outlet, useLocation, useMatch, useNavigate } from "react-router";

import { signOut } from "../api/auth";
import { ErrorBoundary } from "./ErrorBoundary";
import { describeError } from "./errors";
import { startSession, useIdentity } from "./session";

/** The signed-in frame: the header bar, and the page below it. The canvas page fills all of
 * the space under the header; every other page scrolls. */
export function Shell() {
  const identity = useIdentity();
  const queries = useQueryClient();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const onCanvas = useMatch("/canvases/:canvasId") !== null;
  const leave = useMutation({
    mutationFn: signOut,
    onSuccess: () => {
      void navigate("/signin", { replace: true });
      startSession(queries, null);
    },
  });

  return (
    <div className="shell">
      <header className="bar">
        <Link to="/" className="brand">
          Shotgraph Studio
        </Link>
        <nav aria-label="Studio">
          <NavLink to="/" end>
            Canvases
          </NavLink>
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
        {leave.isError && (
          <p role="alert" className="error bar-error">
            Not signed out: {describeError(leave.error)}
          </p>
        )}
      </header>
      <main className={onCanvas ? "page page-canvas" : "page"}>
        <ErrorBoundary key={pathname}>
          <Outlet />
        </ErrorBoundary>
      </main>
    </div>
  );
}

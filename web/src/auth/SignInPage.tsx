import { useQueryClient } from "@tanstack/react-query";
import { Navigate, useSearchParams } from "react-router";

import { usePageTitle } from "../app/pageTitle";
import { startSession, useSession } from "../app/session";
import { safeNext } from "./next";
import { SignInForm } from "./SignInForm";
import "./auth.css";

/** `/signin?next=<path>`: signed in, the person goes on to `next` (a path of this site). */
export function SignInPage() {
  const queries = useQueryClient();
  const session = useSession();
  const [params] = useSearchParams();
  usePageTitle("Sign in");
  const next = safeNext(params.get("next"));

  if (session.data) return <Navigate to={next} replace />;
  return (
    <main className="auth-page">
      <h1>Shotgraph Studio</h1>
      <p className="lede">Sign in to your canvases.</p>
      <SignInForm
        onSignedIn={(identity) => {
          startSession(queries, identity);
        }}
      />
    </main>
  );
}

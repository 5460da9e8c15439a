import { useQuery, useQueryClient } from "@tanstack/react-query";

import { currentSession, signOut } from "../api/auth";
import { CanvasList } from "../canvases/CanvasList";
import { SignIn } from "../auth/SignIn";

const SESSION_KEY = ["session"] as const;

/** The shell: who is signed in decides between the sign-in page and the studio. */
export function App() {
  const queries = useQueryClient();
  const session = useQuery({ queryKey: SESSION_KEY, queryFn: currentSession });

  if (session.isPending) return <p className="status">Loading…</p>;
  if (session.isError) {
    return <p className="status error">The studio cannot reach the server: {session.error.message}</p>;
  }
  if (session.data === null) {
    return <SignIn onSignedIn={(identity) => queries.setQueryData(SESSION_KEY, identity)} />;
  }
  const leave = async () => {
    await signOut();
    queries.clear();
    queries.setQueryData(SESSION_KEY, null);
  };
  return (
    <div className="shell">
      <header className="bar">
        <h1>Shotgraph Studio</h1>
        <span className="who">{session.data.user_name}</span>
        <button type="button" onClick={() => void leave()}>
          Sign out
        </button>
      </header>
      <main>
        <CanvasList />
      </main>
    </div>
  );
}

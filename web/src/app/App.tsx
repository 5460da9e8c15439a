import { lazy, Suspense } from "react";
import { Route, Routes } from "react-router";

import { InvitePage } from "../auth/InvitePage";
import { ReauthDialog } from "../auth/ReauthDialog";
import { SignInPage } from "../auth/SignInPage";
import { CanvasList } from "../canvases/CanvasList";
import { KeysPage } from "../keys/KeysPage";
import { ErrorBoundary } from "./ErrorBoundary";
import { describeError } from "./errors";
import { NotFound } from "./NotFound";
import { RequireSession } from "./RequireSession";
import { useSession } from "./session";

// The editor (React Flow and the canvas page) loads when a canvas is opened, not with the
// canvas list: the first page a person sees waits only for what it shows.
const CanvasRoute = lazy(async () => ({
  default: (await import("../canvas/CanvasRoute")).CanvasRoute,
}));
const UploadsPage = lazy(async () => ({
  default: (await import("../uploads/UploadsPage")).UploadsPage,
}));
const QueuePage = lazy(async () => ({
  default: (await import("../queue/QueuePage")).QueuePage,
}));
const RenderPage = lazy(async () => ({
  default: (await import("../renders/RenderPage")).RenderPage,
}));

/** The studio's pages. Who is signed in is known before any page shows, so a signed-out
 * visit to a signed-in page goes to sign in (and back) without a flash of either. */
export function App() {
  const session = useSession();

  if (session.isPending) return <p className="status boot">Loading…</p>;
  if (session.isError) {
    return (
      <section className="page-message" role="alert">
        <h1>The studio cannot start</h1>
        <p>{describeError(session.error)}</p>
        <button
          type="button"
          onClick={() => {
            void session.refetch();
          }}
        >
          Try again
        </button>
      </section>
    );
  }
  return (
    <ErrorBoundary>
      <Routes>
        <Route path="/signin" element={<SignInPage />} />
        <Route path="/invite" element={<InvitePage />} />
        <Route element={<RequireSession />}>
          <Route index element={<CanvasList />} />
          <Route
            path="/canvases/:canvasId"
            element={
              <Suspense fallback={<p className="status">Opening the editor…</p>}>
                <CanvasRoute />
              </Suspense>
            }
          />
          <Route
            path="/uploads"
            element={
              <Suspense fallback={<p className="status">Loading…</p>}>
                <UploadsPage />
              </Suspense>
            }
          />
          <Route
            path="/renders/:renderId"
            element={
              <Suspense fallback={<p className="status">Opening the render…</p>}>
                <RenderPage />
              </Suspense>
            }
          />
          <Route path="/keys" element={<KeysPage />} />
          <Route
            path="/queue"
            element={
              <Suspense fallback={<p className="status">Opening the queue…</p>}>
                <QueuePage />
              </Suspense>
            }
          />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
      <ReauthDialog />
    </ErrorBoundary>
  );
}

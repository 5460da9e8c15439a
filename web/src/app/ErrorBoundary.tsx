import { Component, type ErrorInfo, type ReactNode } from "react";

import { describeError } from "./errors";

interface ErrorBoundaryProps {
  children: ReactNode;
}

interface ErrorBoundaryState {
  error: unknown;
}

/** A page that failed to render shows what went wrong and a way on, never a blank page. Give
 * it a `key` that changes with the page so moving elsewhere starts afresh. */
export class ErrorBoundary extends Component<ErrorBoundaryProps, ErrorBoundaryState> {
  override state: ErrorBoundaryState = { error: null };

  static getDerivedStateFromError(error: unknown): ErrorBoundaryState {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error("the page failed to render", error, info.componentStack);
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children;
    return (
      <section className="page-message" role="alert">
        <h1>Something went wrong</h1>
        <p>{describeError(this.state.error)}</p>
        <p className="actions">
          <button
            type="button"
            onClick={() => {
              window.location.reload();
            }}
          >
            Reload the page
          </button>
          <a href="/">Go to your canvases</a>
        </p>
      </section>
    );
  }
}

// A part of the workbench fetched on demand (its chunk), which may fail to arrive: offline, or a
// deploy replaced the chunk. Then that part says so, with a way to try again; the canvas page
// and the rest of the Properties panel stay as they are.

import { Component, lazy, Suspense, useState, type ComponentType, type ErrorInfo, type ReactNode } from "react";

import { describeError } from "../app/errors";

interface BoundaryProps {
  what: string;
  onRetry: () => void;
  children: ReactNode;
}

class PartBoundary extends Component<BoundaryProps, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: unknown } {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error(`the ${this.props.what} failed`, error, info.componentStack);
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="sp-part-failed" role="alert">
        <p className="sp-error">
          The {this.props.what} could not be loaded. {describeError(this.state.error)}
        </p>
        <button type="button" onClick={this.props.onRetry}>
          Try again
        </button>
      </div>
    );
  }
}

export type Loader<P> = () => Promise<{ default: ComponentType<P> }>;

export interface LazyPartProps<P> {
  load: Loader<P>;
  props: P;
  /** What it is, for the message when it fails: "set piece", "source editor". */
  what: string;
  fallback: ReactNode;
}

/** `load`'s component with `props`, shown once its chunk has arrived; a failure is contained. */
export function LazyPart<P extends object>({ load, props, what, fallback }: LazyPartProps<P>) {
  const [attempt, setAttempt] = useState(0);
  // A failed lazy() keeps its failure: a retry makes a new one, which fetches again.
  const [Part, setPart] = useState(() => lazy(load));
  return (
    <PartBoundary
      key={attempt}
      what={what}
      onRetry={() => {
        setPart(() => lazy(load));
        setAttempt((count) => count + 1);
      }}
    >
      <Suspense fallback={fallback}>
        <Part {...props} />
      </Suspense>
    </PartBoundary>
  );
}

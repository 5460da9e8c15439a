import { describeError } from "./errors";

interface ErrorAlertProps {
  /** What failed; nothing shows while it is null or undefined (a query or mutation at rest). */
  error: unknown;
  /** Words before the reason, for when the place alone does not say what failed. */
  prefix?: string;
  className?: string;
}

/** Why something failed, as one sentence that assistive technology announces when it appears. */
export function ErrorAlert({ error, prefix = "", className }: ErrorAlertProps) {
  if (error === null || error === undefined) return null;
  return (
    <p role="alert" className={className === undefined ? "error" : `error ${className}`}>
      {prefix}
      {describeError(error)}
    </p>
  );
}

import type { ReactNode } from "react";

import { Dialog } from "./Dialog";
import { ErrorAlert } from "./ErrorAlert";

interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  /** The button that does it: "Delete", "Revoke". */
  confirmLabel: string;
  /** The button that leaves things as they are; "Cancel" unless that would be ambiguous
   * (when what is confirmed is itself a cancel). */
  dismissLabel?: string;
  onConfirm: () => void;
  onCancel: () => void;
  pending: boolean;
  error: unknown;
}

/** "Are you sure?" for what cannot be undone: the dangerous button is named for what it does,
 * and the one that leaves things as they are has the focus. */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const { title, children, confirmLabel, dismissLabel = "Cancel", onConfirm, onCancel } = props;
  const { pending, error } = props;
  return (
    <Dialog title={title} onDismiss={onCancel}>
      {children}
      <ErrorAlert error={error} />
      <div className="actions">
        <button type="button" onClick={onCancel} data-autofocus>
          {dismissLabel}
        </button>
        <button type="button" className="danger" onClick={onConfirm} disabled={pending}>
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

import { useId, useLayoutEffect, useRef, type ReactNode } from "react";

interface DialogProps {
  title: string;
  children: ReactNode;
  /** Called when the person dismisses it (Escape); without it the dialog cannot be dismissed
   * and stays until its owner removes it. */
  onDismiss?: () => void;
  className?: string;
}

/** A modal dialog, open while it is rendered: the native `<dialog>` shown with `showModal()`,
 * so the page behind is inert and focus stays inside; focus goes back where it was after. */
export function Dialog({ title, children, onDismiss, className }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  useLayoutEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    const before = document.activeElement;
    dialog.showModal();
    dialog.querySelector<HTMLElement>("[data-autofocus]")?.focus();
    return () => {
      dialog.close();
      if (before instanceof HTMLElement && before.isConnected) before.focus();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      className={className === undefined ? "dialog" : `dialog ${className}`}
      onCancel={(event) => {
        event.preventDefault();
        onDismiss?.();
      }}
      onClose={(event) => {
        // A browser may close it despite the cancel being refused (repeated Escape): it stays
        // open until its owner says otherwise.
        const dialog = event.currentTarget;
        if (dialog.isConnected && !dialog.open) dialog.showModal();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

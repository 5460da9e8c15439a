import type { ReactNode } from "react";

interface ScrollingTableProps {
  /** Names the scrolling area: the table's caption. */
  label: string;
  children: ReactNode;
}

/** A table that scrolls sideways where the screen is narrower than it, and can be scrolled
 * from the keyboard: the area takes the focus (its cells hold nothing else that would). */
export function ScrollingTable({ label, children }: ScrollingTableProps) {
  return (
    <div className="table-scroll" role="group" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

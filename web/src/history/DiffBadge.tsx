import type { NodeMark } from "./diffView";
import "./history.css";

/** A node's diff mark in words, across its top: "added", "removed", or "changed" and what. */
export function DiffBadge({ mark }: { mark: NodeMark }) {
  return (
    <div className="sg-node__diff">
      <span className={`sg-diff-badge is-${mark.kind}`}>{mark.kind}</span>
      {mark.fields.length > 0 && <span className="sg-diff-fields"> {mark.fields.join(", ")}</span>}
    </div>
  );
}

import type { Viewer } from "../live";
import { initialsOf } from "./presence";
import "./presence.css";

export interface PresenceListProps {
  /** The others viewing the canvas (the person themself left out). */
  others: readonly Viewer[];
  /** Whether the live connection is up: without it, who is here is not known. */
  live: boolean;
}

/** "Also here: …" in the canvas's header, announced politely as people come and go. */
export function PresenceList({ others, live }: PresenceListProps) {
  const shown = live ? others : [];
  return (
    <div className="presence" role="status" aria-label="Also here">
      {shown.length > 0 && (
        <>
          <span className="presence__label">Also here:</span>
          <ul className="presence__list">
            {shown.map((viewer) => (
              <li key={viewer.user_id} className="presence__viewer" title={viewer.user_name}>
                <span className="presence__initials" aria-hidden="true">
                  {initialsOf(viewer.user_name)}
                </span>
                <span className="presence__name">{viewer.user_name}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

import type { Version } from "../api/canvases";
import { formatWhen } from "../app/time";

export interface VersionRowProps {
  version: Version;
  /** "by you", "by Ada"... */
  byline: string;
  current: boolean;
  picked: boolean;
  /** Two others are picked already. */
  pickable: boolean;
  onPick: (picked: boolean) => void;
  /** Absent when the person may not restore (read access), or for the current version. */
  onRestore?: (() => void) | undefined;
}

function titleOf(version: Version): string {
  if (version.message !== "") return version.message;
  return version.autosave ? "Autosaved" : "Saved";
}

/** One version in the history: picked to compare, and restored from here. */
export function VersionRow({ version, byline, current, picked, pickable, onPick, onRestore }: VersionRowProps) {
  const number = String(version.number);
  return (
    <li className={picked ? "version-row is-picked" : "version-row"}>
      <label className="version-pick">
        <input
          type="checkbox"
          checked={picked}
          disabled={!picked && !pickable}
          onChange={(event) => {
            onPick(event.currentTarget.checked);
          }}
        />
        <span className="version-number">Version {number}</span>
      </label>
      {current && <span className="version-current">current</span>}
      <p className="version-meta">
        {titleOf(version)}
        <br />
        <time dateTime={version.created_at}>{formatWhen(version.created_at)}</time> {byline}
      </p>
      {onRestore !== undefined && (
        <button type="button" className="version-restore" aria-label={`Restore version ${number}`} onClick={onRestore}>
          Restore
        </button>
      )}
    </li>
  );
}

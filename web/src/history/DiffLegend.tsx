import type { DiffCounts, DiffKind } from "./diffView";
import type { VersionPair } from "./historyQueries";
import "./history.css";

function plural(count: number, word: string): string {
  return `${String(count)} ${word}${count === 1 ? "" : "s"}`;
}

const MEANING: Record<DiffKind, string> = {
  added: "in the newer version only",
  changed: "in both, but different",
  removed: "in the older version only (drawn faded)",
};

export interface DiffLegendProps {
  pair: VersionPair;
  counts: DiffCounts | null;
  onLeave: () => void;
}

/** What the marks on the graph mean, how many of each there are, and the way back. */
export function DiffLegend({ pair, counts, onLeave }: DiffLegendProps) {
  const rows: [DiffKind, string][] =
    counts === null
      ? []
      : [
          ["added", `${plural(counts.added.nodes, "node")}, ${plural(counts.added.edges, "edge")}`],
          ["changed", plural(counts.changed.nodes, "node")],
          ["removed", `${plural(counts.removed.nodes, "node")}, ${plural(counts.removed.edges, "edge")}`],
        ];
  return (
    <section className="diff-legend" aria-labelledby="diff-legend-title">
      <h2 id="diff-legend-title">
        Changes from version {pair.older} to version {pair.newer}
        <span className="diff-legend__note"> (read only)</span>
      </h2>
      <ul className="diff-legend__keys" aria-label="Legend">
        {rows.map(([kind, count]) => (
          <li key={kind} className={`diff-key is-${kind}`} title={MEANING[kind]}>
            <span className="diff-key__sample" aria-hidden="true" />
            <span className={`sg-diff-badge is-${kind}`}>{kind}</span>{" "}
            <span className="diff-key__count">{count}</span>
          </li>
        ))}
      </ul>
      <button type="button" className="diff-legend__leave" onClick={onLeave}>
        Back to editing
      </button>
    </section>
  );
}

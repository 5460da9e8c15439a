import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";

import { compareVersions } from "../api/canvases";
import { EMPTY_GRAPH, type GraphProblem, type NodeType } from "../api/graph";
import { ErrorAlert } from "../app/ErrorAlert";
import { GraphEditor } from "../editor/GraphEditor";
import { DiffLegend } from "./DiffLegend";
import { diffView } from "./diffView";
import { comparisonKey, type VersionPair } from "./historyQueries";
import "./history.css";

export interface VersionDiffProps {
  canvasId: string;
  pair: VersionPair;
  nodeTypes: NodeType[];
  onLeave: () => void;
}

const NO_PROBLEMS: GraphProblem[] = [];
const IGNORE = () => undefined;

/** Two versions' diff drawn on the graph: the newer graph, read-only, with what was added,
 * changed and removed marked on it. */
export function VersionDiff({ canvasId, pair, nodeTypes, onLeave }: VersionDiffProps) {
  const comparison = useQuery({
    queryKey: comparisonKey(canvasId, pair),
    queryFn: ({ signal }) => compareVersions(canvasId, pair.older, pair.newer, { signal }),
    staleTime: Infinity, // a version never changes
  });
  const view = useMemo(() => {
    const data = comparison.data;
    if (data === undefined) return null;
    return diffView(data.older.graph ?? EMPTY_GRAPH, data.newer.graph ?? EMPTY_GRAPH, data.diff);
  }, [comparison.data]);

  return (
    <div className="version-diff">
      <DiffLegend pair={pair} counts={view?.counts ?? null} onLeave={onLeave} />
      {comparison.isPending && <p className="status">Reading versions {pair.older} and {pair.newer}…</p>}
      <ErrorAlert error={comparison.error} prefix="The versions could not be compared: " />
      {view !== null && (
        <GraphEditor
          key={`${String(pair.older)}-${String(pair.newer)}`}
          graph={view.graph}
          nodeTypes={nodeTypes}
          problems={NO_PROBLEMS}
          readOnly
          marks={view.marks}
          onChange={IGNORE}
        />
      )}
    </div>
  );
}

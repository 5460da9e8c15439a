import { useEffect, useState } from "react";

import { validateGraph } from "../api/canvases";
import type { Graph, GraphProblem } from "../api/graph";

const SETTLE_MS = 400;

/** What the canvas service finds wrong with `graph`: `opened` (read with the canvas) until the
 * graph changes, then asked again once edits settle. The question about an older graph is
 * abandoned when a newer one is drawn, and the last answer stays shown meanwhile, so marks do
 * not flicker. */
export function useValidation(graph: Graph, opened: { graph: Graph; problems: GraphProblem[] }) {
  const [problems, setProblems] = useState<GraphProblem[]>(opened.problems);
  useEffect(() => {
    if (graph === opened.graph) return;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      validateGraph(graph, { signal: abort.signal }).then(
        (answer) => {
          setProblems(answer.problems);
        },
        () => {
          // Offline or refused: the save's own state says so; the marks stay as they were.
        },
      );
    }, SETTLE_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [graph, opened.graph]);
  return problems;
}

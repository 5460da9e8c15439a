import { useEffect, useState } from "react";

import { validateGraph } from "../api/canvases";
import type { Graph, GraphProblem } from "../api/graph";

const SETTLE_MS = 400;

/** What the canvas service finds wrong with `graph`, asked once edits settle; the question
 * about an older graph is abandoned when a newer one is drawn. While a question is out the
 * last answer stays shown, so marks do not flicker. */
export function useValidation(graph: Graph): GraphProblem[] {
  const [problems, setProblems] = useState<GraphProblem[]>([]);
  useEffect(() => {
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
  }, [graph]);
  return problems;
}

import { useConnection } from "@xyflow/react";
import { useMemo } from "react";

import type { Graph } from "../api/graph";
import { connectionHint, connectionRefusal, endpointOf, type Registry } from "./connections";

const SEPARATOR = "\u0000";

/** What the connection being drawn would do, or why it cannot be made; else the reason the
 * last one was refused. A live region, so the reason is read out as well as shown. */
export function ConnectionHint({ graph, types, refused }: { graph: Graph; types: Registry; refused: string | null }) {
  // Only which ports the connection joins matters: a key that changes with them, not with
  // every pointer move.
  const key = useConnection((connection) =>
    connection.inProgress
      ? [
          connection.fromHandle.nodeId,
          connection.fromHandle.id ?? "",
          connection.fromHandle.type,
          connection.toHandle?.nodeId ?? "",
          connection.toHandle?.id ?? "",
          connection.toHandle?.type ?? "",
        ].join(SEPARATOR)
      : null,
  );
  const message = useMemo(() => {
    if (key === null) return refused === null ? null : { text: refused, refusal: true };
    const [fromNode = "", fromPort = "", fromType = "", toNode = "", toPort = "", toType = ""] = key.split(SEPARATOR);
    const from = endpointOf({ nodeId: fromNode, id: fromPort, type: fromType === "source" ? "source" : "target" });
    const overStart = toNode === fromNode && toPort === fromPort && toType === fromType;
    if (toNode === "" || overStart) return { text: connectionHint(graph, types, from), refusal: false };
    const to = endpointOf({ nodeId: toNode, id: toPort, type: toType === "source" ? "source" : "target" });
    const refusal = connectionRefusal(graph, types, from, to);
    return refusal === null ? null : { text: refusal, refusal: true };
  }, [key, graph, types, refused]);
  return (
    <div
      className={`sg-connection-hint${message?.refusal === true ? " is-refusal" : ""}`}
      role="status"
      aria-live="polite"
      aria-label="Connection"
    >
      {message?.text}
    </div>
  );
}

// The Production Canvas's graph as the canvas service stores it (services/canvas/graph.py),
// the node types that describe what a graph may hold (GET /v1/canvas-node-types), and the
// problems validation pins to a node, port, field or edge (POST /v1/graphs/validate).

export interface Position {
  x: number;
  y: number;
}

export interface GraphNode {
  id: string;
  /** A registered node type's name: "character", "scene", "shot"... */
  type: string;
  position: Position;
  properties: Record<string, unknown>;
}

/** A connection from an output port of `source` to an input port of `target`. */
export interface GraphEdge {
  source: string;
  source_port: string;
  target: string;
  target_port: string;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export const EMPTY_GRAPH: Graph = { nodes: [], edges: [] };

/** A connection point: an input takes `min` to `max` edges (`max` null: any number); an
 * output feeds any number of inputs of the same `type`. */
export interface Port {
  name: string;
  type: string;
  min: number;
  max: number | null;
}

/** A JSON Schema (2020-12) object, as the registry sends it. */
export type JsonSchema = Record<string, unknown>;

export interface NodeType {
  name: string;
  title: string;
  description: string;
  /** The JSON Schema of the node's properties: always `"type": "object"`. */
  properties: JsonSchema;
  inputs: Port[];
  outputs: Port[];
}

export interface NodeTypeList {
  node_types: NodeType[];
}

/** What validation found: `field` is a dotted path into the node's properties, `edge` an
 * index into the edges as sent. */
export interface GraphProblem {
  kind: string;
  message: string;
  node?: string;
  port?: string;
  field?: string;
  edge?: number;
}

export interface Validation {
  problems: GraphProblem[];
  executable: boolean;
}

// A three-way merge of two edits of one canvas: "mine" (this browser's unsaved graph) and
// "theirs" (the newest version), both made from "base". Nodes are matched by id and merged field
// by field (type, position, each property); edges by their four ends. What only one side changed
// is taken, the same change on both sides is taken once, and where the sides disagree the merge
// takes mine and reports a conflict the user may flip to theirs.

import type { Graph, GraphEdge, GraphNode, NodeType, Position } from "../api/graph";
import { jsonEqual } from "../api/json";
import { edgeKey, edgesByKey } from "./edges";

export type Side = "mine" | "theirs";

/** Where the two sides disagree. `field` is "node" (deleted on one side, edited on the other),
 * "type", "position", "properties.<key>", or "inputs.<port>" (both connected new edges to an
 * input that cannot take them all). Each value is undefined where that side has none. */
export interface MergeConflict {
  /** Names the conflict across merges of the same graphs, for the user's choices. */
  key: string;
  node: string;
  field: string;
  base: unknown;
  mine: unknown;
  theirs: unknown;
  /** The side the merged graph took: mine unless the user chose theirs. */
  resolution: Side;
}

export interface Merge {
  graph: Graph;
  conflicts: MergeConflict[];
}

/** The user's choice per conflict key; a conflict not named here is resolved as mine. */
export type Resolutions = Readonly<Partial<Record<string, Side>>>;

export interface MergeOptions {
  resolutions?: Resolutions;
  /** The registry's node types: with them the merge drops edges to ports a node does not have
   * and keeps each input within its `max`. */
  nodeTypes?: readonly NodeType[];
}

/** Merges `mine` and `theirs`, both edited from `base`. A null base (the version they share is
 * gone) merges two-way: nothing is taken as deleted, and every difference is a conflict. */
export function mergeGraphs(
  base: Graph | null,
  mine: Graph,
  theirs: Graph,
  options: MergeOptions = {},
): Merge {
  return new GraphMerge(base, mine, theirs, options).run();
}

const conflictKey = (node: string, field: string) => JSON.stringify([node, field]);

const nodesById = (graph: Graph | null) =>
  new Map((graph?.nodes ?? []).map((node) => [node.id, node]));

class GraphMerge {
  private readonly conflicts: MergeConflict[] = [];
  private readonly baseNodes: Map<string, GraphNode>;
  private readonly mineNodes: Map<string, GraphNode>;
  private readonly theirsNodes: Map<string, GraphNode>;
  private readonly baseEdges: Map<string, GraphEdge>;
  private readonly mineEdges: Map<string, GraphEdge>;
  private readonly theirsEdges: Map<string, GraphEdge>;
  /** Nodes one side deleted and the other edited, kept as the editing side had them: their
   * edges follow that side, since the deleting side removed them only with the node. */
  private readonly keptFrom = new Map<string, Side>();
  private readonly types: Map<string, NodeType>;

  constructor(
    private readonly base: Graph | null,
    private readonly mine: Graph,
    private readonly theirs: Graph,
    private readonly options: MergeOptions,
  ) {
    this.baseNodes = nodesById(base);
    this.mineNodes = nodesById(mine);
    this.theirsNodes = nodesById(theirs);
    this.baseEdges = edgesByKey(base?.edges ?? []);
    this.mineEdges = edgesByKey(mine.edges);
    this.theirsEdges = edgesByKey(theirs.edges);
    this.types = new Map((options.nodeTypes ?? []).map((type) => [type.name, type]));
  }

  run(): Merge {
    const nodes = this.nodes();
    const edges = this.edges(new Map(nodes.map((node) => [node.id, node])));
    return { graph: { nodes, edges }, conflicts: this.conflicts };
  }

  private choose(node: string, field: string, base: unknown, mine: unknown, theirs: unknown): Side {
    const key = conflictKey(node, field);
    const resolution = this.options.resolutions?.[key] ?? "mine";
    this.conflicts.push({ key, node, field, base, mine, theirs, resolution });
    return resolution;
  }

  /** The three-way pick of one value; a conflict when both sides changed it differently. */
  private pick<T>(node: string, field: string, base: T | undefined, mine: T, theirs: T): T {
    if (jsonEqual(mine, theirs)) return mine;
    if (jsonEqual(base, mine)) return theirs;
    if (jsonEqual(base, theirs)) return mine;
    return this.choose(node, field, base, mine, theirs) === "mine" ? mine : theirs;
  }

  private nodes(): GraphNode[] {
    const ids = [...this.mineNodes.keys()];
    for (const id of this.theirsNodes.keys()) if (!this.mineNodes.has(id)) ids.push(id);
    const merged: GraphNode[] = [];
    for (const id of ids) {
      const node = this.node(id);
      if (node !== undefined) merged.push(node);
    }
    return merged;
  }

  private node(id: string): GraphNode | undefined {
    const base = this.baseNodes.get(id);
    const mine = this.mineNodes.get(id);
    const theirs = this.theirsNodes.get(id);
    if (mine !== undefined && theirs !== undefined) return this.fields(id, base, mine, theirs);
    const [present, side] =
      mine !== undefined ? [mine, "mine" as const] : [theirs, "theirs" as const];
    if (present === undefined) return undefined;
    if (base === undefined) return present; // added on one side (or no base to say otherwise)
    if (jsonEqual(base, present) && !this.connectedAnew(id, side)) return undefined;
    // Deleted on one side, edited on the other.
    if (this.choose(id, "node", base, mine, theirs) !== side) return undefined;
    this.keptFrom.set(id, side);
    return present;
  }

  /** Whether `side` connected an edge to the node that the base did not have. */
  private connectedAnew(id: string, side: Side): boolean {
    const edges = side === "mine" ? this.mineEdges : this.theirsEdges;
    for (const [key, edge] of edges) {
      if ((edge.source === id || edge.target === id) && !this.baseEdges.has(key)) return true;
    }
    return false;
  }

  private fields(id: string, base: GraphNode | undefined, mine: GraphNode, theirs: GraphNode) {
    const type = this.pick(id, "type", base?.type, mine.type, theirs.type);
    const position = this.pick<Position>(
      id,
      "position",
      base?.position,
      mine.position,
      theirs.position,
    );
    const properties: Record<string, unknown> = {};
    const keys = new Set([...Object.keys(mine.properties), ...Object.keys(theirs.properties)]);
    for (const key of keys) {
      const value = this.pick(
        id,
        `properties.${key}`,
        base?.properties[key],
        mine.properties[key],
        theirs.properties[key],
      );
      if (value !== undefined) properties[key] = value;
    }
    return { id, type, position: { ...position }, properties };
  }

  private edges(nodes: Map<string, GraphNode>): GraphEdge[] {
    const candidates = new Map(this.mineEdges);
    for (const [key, edge] of this.theirsEdges) if (!candidates.has(key)) candidates.set(key, edge);
    const kept: GraphEdge[] = [];
    for (const [key, edge] of candidates) {
      if (this.edgeStays(key, edge) && this.fits(edge, nodes)) kept.push(edge);
    }
    return this.withinLimits(kept, nodes);
  }

  private edgeStays(key: string, edge: GraphEdge): boolean {
    const sides = [this.keptFrom.get(edge.source), this.keptFrom.get(edge.target)];
    const followed = sides.filter((side) => side !== undefined);
    if (followed.length > 0) {
      return followed.every((side) =>
        (side === "mine" ? this.mineEdges : this.theirsEdges).has(key),
      );
    }
    const inMine = this.mineEdges.has(key);
    const inTheirs = this.theirsEdges.has(key);
    // An edge of the base stays while both keep it; a new one stays if either side drew it.
    return this.baseEdges.has(key) ? inMine && inTheirs : inMine || inTheirs;
  }

  /** Both ends exist, and (when the registry is known) have the ports the edge names. */
  private fits(edge: GraphEdge, nodes: Map<string, GraphNode>): boolean {
    const source = nodes.get(edge.source);
    const target = nodes.get(edge.target);
    if (source === undefined || target === undefined) return false;
    const sourceType = this.types.get(source.type);
    const targetType = this.types.get(target.type);
    if (sourceType && !sourceType.outputs.some((port) => port.name === edge.source_port))
      return false;
    if (targetType && !targetType.inputs.some((port) => port.name === edge.target_port))
      return false;
    return true;
  }

  /** Where both sides connected new edges to an input that cannot take them all, keeps the
   * chosen side's new edges (and every edge both agree on) and drops the other's. */
  private withinLimits(edges: GraphEdge[], nodes: Map<string, GraphNode>): GraphEdge[] {
    const dropped = new Set<string>();
    const byInput = new Map<string, GraphEdge[]>();
    for (const edge of edges) {
      const input = JSON.stringify([edge.target, edge.target_port]);
      byInput.set(input, [...(byInput.get(input) ?? []), edge]);
    }
    for (const into of byInput.values()) {
      const { target, target_port: port } = into[0] as GraphEdge;
      const type = this.types.get((nodes.get(target) as GraphNode).type);
      const max = type?.inputs.find((input) => input.name === port)?.max ?? null;
      if (max === null || into.length <= max) continue;
      const onlyMine = into.filter((edge) => !this.theirsEdges.has(edgeKey(edge)));
      const onlyTheirs = into.filter((edge) => !this.mineEdges.has(edgeKey(edge)));
      if (onlyMine.length === 0 || onlyTheirs.length === 0) continue; // one side alone: as it drew
      const inputOf = (graph: Graph) =>
        graph.edges.filter((edge) => edge.target === target && edge.target_port === port);
      const side = this.choose(
        target,
        `inputs.${port}`,
        this.base === null ? undefined : inputOf(this.base),
        inputOf(this.mine),
        inputOf(this.theirs),
      );
      for (const edge of side === "mine" ? onlyTheirs : onlyMine) dropped.add(edgeKey(edge));
    }
    return edges.filter((edge) => !dropped.has(edgeKey(edge)));
  }
}

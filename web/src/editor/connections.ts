// Which connections may be drawn, from the node type registry: the same rules the canvas
// service validates (services/canvas/validation.py), checked while the user drags so that a
// connection the server would refuse cannot be drawn, and the reason can be shown.

import type { Graph, GraphEdge, NodeType, Port } from "../api/graph";

export type Side = "input" | "output";

/** One end of a connection being drawn: a port of a node. */
export interface Endpoint {
  node: string;
  port: string;
  side: Side;
}

export type Registry = ReadonlyMap<string, NodeType>;

/** A React Flow handle as the end of a connection: its id is the port's name, and source
 * handles are outputs. */
export function endpointOf(handle: { nodeId: string; id?: string | null; type: "source" | "target" }): Endpoint {
  return { node: handle.nodeId, port: handle.id ?? "", side: handle.type === "source" ? "output" : "input" };
}

export function registryOf(types: readonly NodeType[]): Registry {
  return new Map(types.map((type) => [type.name, type]));
}

/** "a scene", "an image". */
export function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? "an" : "a"} ${noun}`;
}

interface Resolved {
  title: string;
  port: Port;
}

function resolve(graph: Graph, types: Registry, end: Endpoint): Resolved | string {
  const node = graph.nodes.find((candidate) => candidate.id === end.node);
  if (node === undefined) return "That node is no longer on the canvas";
  const type = types.get(node.type);
  if (type === undefined) return `"${node.type}" is not a known kind of node`;
  const port = (end.side === "input" ? type.inputs : type.outputs).find((p) => p.name === end.port);
  if (port === undefined) return `${type.title} has no ${end.side} "${end.port}"`;
  return { title: type.title, port };
}

/** The edge a connection between two ends makes, whichever end the drag started from. */
export function edgeOf(a: Endpoint, b: Endpoint): GraphEdge | null {
  const [from, to] = a.side === "output" ? [a, b] : [b, a];
  if (from.side !== "output" || to.side !== "input") return null;
  return { source: from.node, source_port: from.port, target: to.node, target_port: to.port };
}

/** Why connecting `a` and `b` is refused, or null when it may be drawn. */
export function connectionRefusal(graph: Graph, types: Registry, a: Endpoint, b: Endpoint): string | null {
  if (a.side === b.side) {
    const plural = a.side === "input" ? "inputs" : "outputs";
    return `Both ends are ${plural}: connect an output to an input`;
  }
  const edge = edgeOf(a, b);
  if (edge === null) return "Connect an output to an input";
  const source = resolve(graph, types, { node: edge.source, port: edge.source_port, side: "output" });
  if (typeof source === "string") return source;
  const target = resolve(graph, types, { node: edge.target, port: edge.target_port, side: "input" });
  if (typeof target === "string") return target;
  const targetName = `${target.title}.${target.port.name}`;
  if (edge.source === edge.target) return `${source.title} cannot connect to itself`;
  if (source.port.type !== target.port.type) {
    return `${targetName} takes ${withArticle(target.port.type)}, not ${withArticle(source.port.type)}`;
  }
  const into = graph.edges.filter(
    (existing) => existing.target === edge.target && existing.target_port === edge.target_port,
  );
  if (into.some((existing) => existing.source === edge.source && existing.source_port === edge.source_port)) {
    return `${source.title}.${source.port.name} is already connected to ${targetName}`;
  }
  const max = target.port.max;
  if (max !== null && into.length >= max) {
    return `${targetName} takes at most ${String(max)} ${max === 1 ? "connection" : "connections"}`;
  }
  if (reaches(graph, edge.target, edge.source)) {
    return `That would make a loop: ${target.title} already feeds ${source.title}`;
  }
  return null;
}

/** Whether `to` can be reached from `from` along the graph's edges. */
function reaches(graph: Graph, from: string, to: string): boolean {
  const next = new Map<string, string[]>();
  for (const edge of graph.edges) {
    const targets = next.get(edge.source);
    if (targets === undefined) next.set(edge.source, [edge.target]);
    else targets.push(edge.target);
  }
  const seen = new Set([from]);
  const queue = [from];
  for (let current = queue.pop(); current !== undefined; current = queue.pop()) {
    if (current === to) return true;
    for (const target of next.get(current) ?? []) {
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return false;
}

/** What to do with a connection that has left `from` and is over no port yet. */
export function connectionHint(graph: Graph, types: Registry, from: Endpoint): string {
  const end = resolve(graph, types, from);
  if (typeof end === "string") return end;
  const name = `${end.title}.${end.port.name}`;
  return from.side === "output"
    ? `${name}: drop on an input that takes ${withArticle(end.port.type)}`
    : `${name}: drop on an output that makes ${withArticle(end.port.type)}`;
}

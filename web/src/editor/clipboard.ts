// Copy and paste of nodes. A copy holds the selected nodes and the edges among them; a paste
// adds them again under new ids, offset so that they do not hide the originals, with their
// edges pointing at the new copies. The clipboard lives for the tab (every canvas opened in it
// shares it), so nodes can be copied from one canvas to another.

import type { GraphEdge, GraphNode } from "../api/graph";

/** How far each paste lands from the last, down and to the right. */
export const PASTE_OFFSET = 32;

export interface Clip {
  nodes: readonly GraphNode[];
  /** Only edges whose both ends were copied. */
  edges: readonly GraphEdge[];
}

/** The nodes named by `nodeIds` and the edges among them; null when none is selected. */
export function copyOf(
  graph: { nodes: readonly GraphNode[]; edges: readonly GraphEdge[] },
  nodeIds: ReadonlySet<string>,
): Clip | null {
  const nodes = graph.nodes.filter((node) => nodeIds.has(node.id));
  if (nodes.length === 0) return null;
  const edges = graph.edges.filter((edge) => nodeIds.has(edge.source) && nodeIds.has(edge.target));
  // A copy of the values, not of references into a graph the next edit replaces.
  return structuredClone({ nodes, edges });
}

/** The clip's nodes under new ids, moved by `offset`, and its edges between them. */
export function pasteOf(
  clip: Clip,
  offset: number,
  newId: () => string = () => crypto.randomUUID(),
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const ids = new Map(clip.nodes.map((node) => [node.id, newId()]));
  const nodes = clip.nodes.map((node) => ({
    id: ids.get(node.id) ?? newId(),
    type: node.type,
    position: { x: node.position.x + offset, y: node.position.y + offset },
    properties: structuredClone(node.properties),
  }));
  const edges = clip.edges.flatMap((edge) => {
    const source = ids.get(edge.source);
    const target = ids.get(edge.target);
    return source === undefined || target === undefined
      ? []
      : [{ source, source_port: edge.source_port, target, target_port: edge.target_port }];
  });
  return { nodes, edges };
}

let held: { clip: Clip; pastes: number } | null = null;

/** Keep `clip` as what the next paste adds. */
export function hold(clip: Clip): void {
  held = { clip, pastes: 0 };
}

/** What to paste now and how far from the copied nodes: one offset further each time, so
 * repeated pastes fan out instead of piling up. */
export function nextPaste(): { clip: Clip; offset: number } | null {
  if (held === null) return null;
  held.pastes += 1;
  return { clip: held.clip, offset: held.pastes * PASTE_OFFSET };
}

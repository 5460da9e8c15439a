// What saving asks of the canvas API beyond a save: the newest graph, and one version's graph
// as the base of a merge.

import { getCanvas, getVersion } from "../api/canvases";
import { EMPTY_GRAPH, type Graph } from "../api/graph";
import { ApiError } from "../api/http";

/** The newest version's number and graph. */
export async function newestGraph(canvasId: string): Promise<{ version: number; graph: Graph }> {
  const canvas = await getCanvas(canvasId);
  return { version: canvas.version, graph: canvas.graph ?? EMPTY_GRAPH };
}

/** One version's graph, or null when that version is gone (an autosave its author's next
 * autosave replaced). */
export async function versionGraph(canvasId: string, number: number): Promise<Graph | null> {
  try {
    return (await getVersion(canvasId, number)).graph ?? null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

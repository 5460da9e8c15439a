// The calls saving makes: a new version, the newest canvas, and one version's graph.

import type { Canvas, Version } from "../api/canvases";
import type { Graph } from "../api/graph";
import { ApiError, request } from "../api/http";

export interface SaveRequest {
  base_version: number;
  graph: Graph;
  autosave: boolean;
  message?: string;
}

const canvasPath = (canvasId: string) => `/v1/canvases/${encodeURIComponent(canvasId)}`;

/** A new version from `base_version`: 201, or 200 with `unchanged` when an autosave changed
 * nothing; a 409 ApiError when `base_version` is not the newest. */
export function saveVersion(canvasId: string, body: SaveRequest): Promise<Version> {
  return request<Version>("POST", `${canvasPath(canvasId)}/versions`, body);
}

/** The newest version's number and graph. */
export async function newestGraph(canvasId: string): Promise<{ version: number; graph: Graph }> {
  const canvas = await request<Canvas>("GET", canvasPath(canvasId));
  return { version: canvas.version, graph: canvas.graph ?? { nodes: [], edges: [] } };
}

/** One version's graph, or null when that version is gone (an autosave its author's next
 * autosave replaced). */
export async function versionGraph(canvasId: string, number: number): Promise<Graph | null> {
  try {
    const version = await request<Version>(
      "GET",
      `${canvasPath(canvasId)}/versions/${String(number)}`,
    );
    return version.graph ?? null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

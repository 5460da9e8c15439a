import type { NodeResult } from "./events";
import type { Graph, GraphProblem } from "./graph";
import { request } from "./http";

export type Access = "owner" | "write" | "read";

export interface CanvasSummary {
  id: string;
  owner_id: string;
  name: string;
  /** The newest version's number (0 before the first save). */
  version: number;
  created_at: string;
  updated_at: string;
  access: Access;
}

/** One canvas with its newest graph. */
export interface Canvas extends CanvasSummary {
  graph?: Graph;
}

export interface CanvasPage {
  canvases: CanvasSummary[];
  next_page_token: string;
}

export interface Version {
  canvas_id: string;
  number: number;
  parent: number;
  author_id: string;
  message: string;
  autosave: boolean;
  created_at: string;
  graph?: Graph;
  /** Saved, but Execute needs these fixed first. */
  warnings?: GraphProblem[];
  /** An autosave identical to the newest version: nothing was saved. */
  unchanged?: boolean;
}

/** Execute's answer (202): every node's state at that moment. */
export interface Execution {
  canvas_id: string;
  version: number;
  batch_id?: string;
  nodes: NodeResult[];
}

export interface NodeResults {
  canvas_id: string;
  version: number;
  nodes: NodeResult[];
}

export function listCanvases(cursor = ""): Promise<CanvasPage> {
  const query = cursor === "" ? "" : `?cursor=${encodeURIComponent(cursor)}`;
  return request<CanvasPage>("GET", `/v1/canvases${query}`);
}

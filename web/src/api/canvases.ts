// The canvas API: canvases, their versions, shares, Execute and results, and the node types
// and validation an editor needs. Every path is spelled once, here.

import { batch, valueOf } from "./batch";
import type { NodeResult } from "./events";
import type { Graph, GraphEdge, GraphProblem, NodeType, NodeTypeList, Validation } from "./graph";
import { request, type RequestOptions } from "./http";

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
  /** What validation finds in `graph`: read with `?with=problems` (as the editor opens it). */
  problems?: GraphProblem[];
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

export interface VersionPage {
  /** Newest first, without graphs. */
  versions: Version[];
  next_page_token: string;
}

/** What turns one version's graph into another's: nodes by id, edges by their four values; a
 * changed node's `fields` are "type", "position" and "properties.<name>". */
export interface GraphDiff {
  nodes_added: string[];
  nodes_removed: string[];
  nodes_changed: { node: string; fields: string[] }[];
  edges_added: GraphEdge[];
  edges_removed: GraphEdge[];
}

/** Two versions with their graphs, and the diff from `older` to `newer`. */
export interface Comparison {
  older: Version;
  newer: Version;
  diff: GraphDiff;
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

/** Another user's access to a canvas; "none" takes it back. */
export type ShareAccess = "read" | "write" | "none";

export interface Share {
  user_id: string;
  user_name: string;
  access: Exclude<Access, "owner">;
}

/** A share as granted (or taken back: access "none"). */
export interface ShareAnswer {
  canvas_id: string;
  user_id: string;
  user_name: string;
  access: ShareAccess;
}

export interface ShareList {
  shares: Share[];
}

/** What the editor needs to open a canvas, read in one round trip. */
export interface OpenedCanvas {
  canvas: Canvas;
  nodeTypes: NodeType[];
  /** What each node has produced so far; null when that could not be read (the canvas still
   * opens, and live events bring the states). */
  results: NodeResults | null;
}

export interface SaveRequest {
  /** The version this graph was edited from: a 409 when it is no longer the newest. */
  base_version: number;
  graph: Graph;
  autosave?: boolean;
  message?: string;
}

const CANVASES = "/v1/canvases";
const NODE_TYPES = "/v1/canvas-node-types";
const VALIDATE = "/v1/graphs/validate";

function canvasPath(id: string): string {
  return `${CANVASES}/${encodeURIComponent(id)}`;
}

/** A canvas's versions, or one of them. */
function versionsPath(id: string, number?: number): string {
  const versions = `${canvasPath(id)}/versions`;
  return number === undefined ? versions : `${versions}/${String(number)}`;
}

function resultsPath(id: string, version?: number): string {
  const query = version === undefined ? "" : `?version=${String(version)}`;
  return `${canvasPath(id)}/results${query}`;
}

export function listCanvases(cursor = ""): Promise<CanvasPage> {
  const query = cursor === "" ? "" : `?cursor=${encodeURIComponent(cursor)}`;
  return request<CanvasPage>("GET", `${CANVASES}${query}`);
}

export function getCanvas(id: string): Promise<Canvas> {
  return request<Canvas>("GET", canvasPath(id));
}

/** The canvas (a 404 ApiError when it is gone or not shared), the node types and the newest
 * version's results: one `$batch`. */
export async function openCanvas(id: string, options: RequestOptions = {}): Promise<OpenedCanvas> {
  const answers = await batch(
    [
      { id: "canvas", method: "GET", url: `${canvasPath(id)}?with=problems` },
      { id: "node_types", method: "GET", url: NODE_TYPES },
      { id: "results", method: "GET", url: resultsPath(id) },
    ],
    options,
  );
  const canvas = valueOf(answers, "canvas") as Canvas;
  const nodeTypes = (valueOf(answers, "node_types") as NodeTypeList).node_types;
  const results = answers.get("results");
  return {
    canvas,
    nodeTypes,
    results: results?.ok === true ? (results.value as NodeResults) : null,
  };
}

export function createCanvas(name: string): Promise<Canvas> {
  return request<Canvas>("POST", CANVASES, { name });
}

export function renameCanvas(id: string, name: string): Promise<Canvas> {
  return request<Canvas>("PATCH", canvasPath(id), { name });
}

export function deleteCanvas(id: string): Promise<void> {
  return request<undefined>("DELETE", canvasPath(id));
}

/** Grants `user` (a user name or an email) read or write access, or takes it back ("none");
 * owners only. Users cannot be listed: an unknown name is a 404. */
export function shareCanvas(id: string, user: string, access: ShareAccess): Promise<ShareAnswer> {
  return request<ShareAnswer>("POST", `${canvasPath(id)}/shares`, { user, access });
}

export async function listShares(id: string): Promise<Share[]> {
  return (await request<ShareList>("GET", `${canvasPath(id)}/shares`)).shares;
}

/** A new version; `unchanged` when an autosave matched the newest. A 409 ApiError when
 * `base_version` is no longer the newest. */
export function saveVersion(
  id: string,
  save: SaveRequest,
  options: RequestOptions = {},
): Promise<Version> {
  return request<Version>("POST", versionsPath(id), save, options);
}

export function getVersion(id: string, number: number): Promise<Version> {
  return request<Version>("GET", versionsPath(id, number));
}

/** The canvas's versions, newest first, a page at a time. */
export function listVersions(id: string, cursor = ""): Promise<VersionPage> {
  const query = cursor === "" ? "" : `?cursor=${encodeURIComponent(cursor)}`;
  return request<VersionPage>("GET", `${versionsPath(id)}${query}`);
}

/** Versions `older` and `newer` with their graphs and the diff between them: one `$batch`. */
export async function compareVersions(
  id: string,
  older: number,
  newer: number,
  options: RequestOptions = {},
): Promise<Comparison> {
  const answers = await batch(
    [
      { id: "older", method: "GET", url: versionsPath(id, older) },
      { id: "newer", method: "GET", url: versionsPath(id, newer) },
      {
        id: "diff",
        method: "GET",
        url: `${canvasPath(id)}/diff?from=${String(older)}&to=${String(newer)}`,
      },
    ],
    options,
  );
  return {
    older: valueOf(answers, "older") as Version,
    newer: valueOf(answers, "newer") as Version,
    diff: valueOf(answers, "diff") as GraphDiff,
  };
}

/** A new version holding version `number`'s graph, made on `base_version` (a 409 ApiError
 * when that is no longer the newest). Answered without its graph. */
export function restoreVersion(id: string, number: number, base_version: number): Promise<Version> {
  return request<Version>("POST", `${versionsPath(id, number)}/restore`, { base_version });
}

/** Runs `version` (else the newest): every node's state at that moment. */
export function execute(id: string, version?: number): Promise<Execution> {
  return request<Execution>(
    "POST",
    `${canvasPath(id)}/execute`,
    version === undefined ? {} : { version },
  );
}

export function nodeResults(id: string, version?: number): Promise<NodeResults> {
  return request<NodeResults>("GET", resultsPath(id, version));
}

export function validateGraph(graph: Graph, options: RequestOptions = {}): Promise<Validation> {
  return request<Validation>("POST", VALIDATE, { graph }, options);
}

export async function nodeTypes(): Promise<NodeType[]> {
  return (await request<NodeTypeList>("GET", NODE_TYPES)).node_types;
}

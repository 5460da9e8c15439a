// `GET /v1/renders/{id}`: a render of a set piece, its state while it runs and, once it
// succeeded, where each of its files is. The file URLs are the server's own (`outputs`), never
// built here.

import type { JobState } from "../api/events";
import { request, type RequestOptions } from "../api/http";

export type RenderFormat = "png" | "glb" | "3mf" | "stl";

/** One file a render made: its blob (SHA-256) and where to fetch it. */
export interface RenderOutput {
  blob: string;
  url: string;
}

export interface Render {
  id: string;
  batch_id: string;
  state: JobState;
  /** 0 to 100. */
  progress: number;
  /** The formats asked for. */
  formats: RenderFormat[];
  parameters: Record<string, unknown>;
  /** Once it succeeded: the file of each format it made. */
  outputs?: Partial<Record<RenderFormat, RenderOutput>>;
  /** Once it succeeded: the colours of its parts, `#rrggbbaa`. */
  colours?: string[];
  /** Why it failed. */
  error?: string;
}

const FINAL: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled", "skipped"]);

/** Whether the render will not change any more. */
export function isFinal(render: Render): boolean {
  return FINAL.has(render.state);
}

export function getRender(renderId: string, options: RequestOptions = {}): Promise<Render> {
  return request<Render>("GET", `/v1/renders/${encodeURIComponent(renderId)}`, undefined, options);
}

/** The files the render made, in the order its formats were asked for. */
export function outputsOf(render: Render): [RenderFormat, RenderOutput][] {
  const made: [RenderFormat, RenderOutput][] = [];
  for (const format of render.formats) {
    const output = render.outputs?.[format];
    if (output !== undefined) made.push([format, output]);
  }
  return made;
}

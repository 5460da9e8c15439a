// The render API a set piece uses (services/gateway/renders.py): its customizer parameters,
// a quick preview PNG, and a full render followed to its end.

import { ApiError, request, requestBlob, type RequestOptions } from "../api/http";
import { getRender as readRender, type Render } from "../renders/api";
import type { Parameter, ParametersAnswer } from "./customizer";

export { isFinal, type Render } from "../renders/api";

export interface View {
  width: number;
  height: number;
}

/** What a preview or render is of, as `POST /v1/render/preview` and `/v1/renders` take it. */
export interface Spec {
  source: string;
  parameters: Record<string, unknown>;
  parameter_set?: string;
  view: View;
}

export interface RenderSpec extends Spec {
  formats: readonly Format[];
}

export const FORMATS = ["png", "glb", "3mf", "stl"] as const;
export type Format = (typeof FORMATS)[number];

export async function fetchParameters(source: string, signal: AbortSignal): Promise<Parameter[]> {
  const answer = await request<ParametersAnswer>("POST", "/v1/render/parameters", { source }, { signal });
  return answer.parameters ?? [];
}

export function fetchPreview(spec: Spec, signal: AbortSignal): Promise<Blob> {
  return requestBlob("POST", "/v1/render/preview", spec, { signal });
}

/** Start (or, for the same spec, find again) a render: its Idempotency-Key is the spec's
 * digest, so the same values never render twice. */
export async function startRender(spec: RenderSpec, signal: AbortSignal): Promise<Render> {
  const options: RequestOptions = { signal, headers: { "Idempotency-Key": await specKey(spec) } };
  return request<Render>("POST", "/v1/renders", spec, options);
}

/** A render read again (the render page's reading, aborted with `signal`). */
export function getRender(id: string, signal: AbortSignal): Promise<Render> {
  return readRender(id, { signal });
}

export function outputUrl(renderId: string, format: Format): string {
  return `/v1/renders/${encodeURIComponent(renderId)}/${format}`;
}

/** JSON with every object's keys sorted: the same value is always the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** "setpiece-" and the SHA-256 of the spec's canonical JSON, in hex. */
export async function specKey(spec: RenderSpec): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonicalJson(spec)));
  const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `setpiece-${hex}`;
}

/** The model's line a refusal names: the problem's `line` member (OpenSCAD's own, see
 * services/render/scad.py), else a "line N" in its detail (the parameter reader's). */
export function problemLine(error: unknown): number | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const { line, detail } = error.problem;
  if (typeof line === "number" && Number.isInteger(line) && line > 0) return line;
  const named = /\bline (\d+)\b/.exec(detail ?? "");
  return named?.[1] === undefined ? undefined : Number(named[1]);
}

/** What to tell the person of a failed call: the server's own words, as they are (they follow
 * a line number, unlike the sentences of `describeError`). */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.problem.detail ?? error.problem.title;
  if (error instanceof Error) return error.message;
  return String(error);
}

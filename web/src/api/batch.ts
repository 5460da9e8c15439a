// `POST /v1/$batch`: up to 20 API calls in one round trip (Microsoft Graph's JSON batching).
// Each call is checked by the gateway as if it came alone, and answers alone: one may fail
// while the others succeed, so each answer is a value or the ApiError of its own problem.

import { ApiError, isProblem, problemFromStatus, request, type RequestOptions } from "./http";

/** The most calls one batch holds (the gateway's MAX_REQUESTS). */
export const MAX_BATCH = 20;

const API_ROOT = "/v1";

export type BatchMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface BatchRequest {
  /** Names the call's answer; unique within the batch. */
  id: string;
  method: BatchMethod;
  /** The path as `request` takes it (`/v1/canvases/42`). */
  url: string;
  body?: unknown;
  /** Run after these ids; answered 424 without running when one of them failed. */
  dependsOn?: string[];
}

export type BatchAnswer =
  { ok: true; status: number; value: unknown } | { ok: false; status: number; error: ApiError };

interface WireAnswer {
  id: string;
  status: number;
  body?: unknown;
}

interface WireBatch {
  responses: WireAnswer[];
}

/** Sends `requests` as one batch: each call's answer by its id. The batch itself failing (the
 * session gone, the network down) throws as `request` does, after its re-authentication. */
export async function batch(
  requests: readonly BatchRequest[],
  options: RequestOptions = {},
): Promise<Map<string, BatchAnswer>> {
  if (requests.length === 0 || requests.length > MAX_BATCH) {
    throw new RangeError(
      `a batch holds 1 to ${String(MAX_BATCH)} calls, not ${String(requests.length)}`,
    );
  }
  const wire = requests.map(({ id, method, url, body, dependsOn }) => ({
    id,
    method,
    url: underApiRoot(url),
    ...(body === undefined ? {} : { body }),
    ...(dependsOn === undefined ? {} : { dependsOn }),
  }));
  const answered = await request<WireBatch>(
    "POST",
    `${API_ROOT}/$batch`,
    { requests: wire },
    options,
  );
  const answers = new Map<string, BatchAnswer>();
  for (const answer of answered.responses) answers.set(answer.id, answerOf(answer));
  for (const { id } of requests) {
    if (!answers.has(id)) {
      const error = new ApiError({
        ...problemFromStatus(502, "Bad Gateway"),
        detail: `no answer for '${id}'`,
      });
      answers.set(id, { ok: false, status: 502, error });
    }
  }
  return answers;
}

/** The value of call `id` (its JSON body, as the caller knows its shape), or its ApiError
 * thrown. */
export function valueOf(answers: ReadonlyMap<string, BatchAnswer>, id: string): unknown {
  const answer = answers.get(id);
  if (answer === undefined) throw new RangeError(`the batch had no call '${id}'`);
  if (!answer.ok) throw answer.error;
  return answer.value;
}

function answerOf({ status, body }: WireAnswer): BatchAnswer {
  if (status >= 200 && status < 300) return { ok: true, status, value: body };
  const problem = isProblem(body) ? body : problemFromStatus(status);
  return { ok: false, status, error: new ApiError(problem) };
}

/** A path the way the batch names it: relative to /v1. */
function underApiRoot(url: string): string {
  if (!url.startsWith(`${API_ROOT}/`)) {
    throw new RangeError(`a batched call's url is an API path (${API_ROOT}/...), not '${url}'`);
  }
  return url.slice(API_ROOT.length);
}

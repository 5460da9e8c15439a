// Calls to the gateway's JSON API: the session cookie goes by itself (same origin); a state-
// changing call carries the CSRF token the sign-in answer gave; an error is the RFC 9457
// problem document the gateway answers with, thrown as an ApiError.

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
}

export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.name = "ApiError";
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

let csrfToken: string | undefined;

/** The token to send in X-CSRF-Token from now on (from /v1/auth/login or /v1/auth/session). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** The problem a failed response stands for: its problem+json body when it has one, else one
 * made from the status, so a proxy's HTML error page still reads as a clear error. */
export async function problemOf(response: Response): Promise<Problem> {
  const type = response.headers.get("Content-Type") ?? "";
  if (type.startsWith("application/problem+json") || type.startsWith("application/json")) {
    try {
      const body: unknown = await response.json();
      if (isProblem(body)) return body;
    } catch {
      // not JSON after all: fall through to the status
    }
  }
  return {
    type: "about:blank",
    title: response.statusText || `HTTP ${String(response.status)}`,
    status: response.status,
  };
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const record = body as Record<string, unknown>;
  return typeof record.title === "string" && typeof record.status === "number";
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers = new Headers({ Accept: "application/json" });
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(body);
  }
  if (!SAFE_METHODS.has(method) && csrfToken !== undefined) {
    headers.set("X-CSRF-Token", csrfToken);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw new ApiError(await problemOf(response));
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

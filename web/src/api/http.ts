// Calls to the gateway's JSON API: the session cookie goes by itself (same origin); a state-
// changing call carries the CSRF token the sign-in answer gave; an error is the RFC 9457
// problem document the gateway answers with, thrown as an ApiError.
//
// A call refused because the session ended (401) or its CSRF token went stale (403) waits for
// the app to sign the person in again (`setReauthenticate`), then runs once more: whatever was
// being done finishes. Every call refused meanwhile, and every call made meanwhile, waits for
// that same sign-in.

/** An RFC 9457 problem document; extension members (a conflict's current version, a 422's
 * problems) ride along as further members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
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

/** The gateway could not be reached at all (fetch itself failed): offline, DNS, a dropped
 * connection. Nothing is known about whether a state-changing call took effect. */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super("the studio cannot reach the server", { cause });
    this.name = "NetworkError";
  }
}

/** Why a call needs the person to sign in again: the session is gone, or the CSRF token the
 * page holds is not the session's (it was renewed elsewhere, or the session changed). */
export type ReauthReason = "unauthenticated" | "csrf";

export interface RequestOptions {
  signal?: AbortSignal;
  /** Let the call outlive the page (an autosave as the tab closes); its body must stay under
   * the browser's 64 KiB keepalive budget. */
  keepalive?: boolean;
  /** Headers of the call's own (an Idempotency-Key). */
  headers?: Readonly<Record<string, string>>;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

// The routes that sign in, out or up, or ask who is signed in: a 401 there is their answer,
// not a reason to ask for a sign-in (and the sign-in itself must never wait for one).
const SESSION_ROUTES = new Set([
  "/v1/auth/login",
  "/v1/auth/logout",
  "/v1/auth/session",
  "/v1/invites/accept",
]);

// The CSRF guard's refusals are plain 403s (type forbidden); their detail names the token.
const CSRF_DETAIL = /CSRF/;

let csrfToken: string | undefined;
let reauthenticate: ((reason: ReauthReason) => Promise<void>) | undefined;
let pendingSignIn: Promise<void> | undefined;
// Counts sign-ins: a call answered 401 after a sign-in that began once it was sent just
// retries, instead of asking again.
let signIns = 0;

/** The token to send in X-CSRF-Token from now on (from /v1/auth/login or /v1/auth/session). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Who signs the person in again when a call needs it: resolves once signed in (with a fresh
 * CSRF token set), rejects to give up (the waiting calls then fail with their own error). */
export function setReauthenticate(
  handler: ((reason: ReauthReason) => Promise<void>) | undefined,
): void {
  reauthenticate = handler;
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
  return problemFromStatus(response.status, response.statusText);
}

/** A problem for a bare status, titled by `statusText` when there is one. */
export function problemFromStatus(status: number, statusText = ""): Problem {
  return { type: "about:blank", title: statusText || `HTTP ${String(status)}`, status };
}

export function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const record = body as Record<string, unknown>;
  return typeof record.title === "string" && typeof record.status === "number";
}

/** Why a failed call needs a fresh sign-in, or null when it does not. */
export function reauthReason(path: string, problem: Problem): ReauthReason | null {
  if (SESSION_ROUTES.has(pathOnly(path))) return null;
  if (problem.status === 401) return "unauthenticated";
  if (problem.status === 403 && CSRF_DETAIL.test(problem.detail ?? "")) return "csrf";
  return null;
}

export function request<T>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  return call(method, path, body, options, "application/json", answerOf<T>);
}

/** Like `request`, for an answer that is a file (a preview's PNG): its body as a Blob. */
export function requestBlob(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<Blob> {
  return call(method, path, body, options, "*/*", (response) => response.blob());
}

function call<T>(
  method: string,
  path: string,
  body: unknown,
  options: RequestOptions,
  accept: string,
  answer: (response: Response) => Promise<T>,
): Promise<T> {
  return withSignIn(
    path,
    async (csrf) => {
      const response = await send(method, path, body, csrf, options, accept);
      if (response.ok) return answer(response);
      throw new ApiError(await problemOf(response));
    },
    options.signal,
  );
}

/** Runs `attempt` (one sending of a call to `path`, given the CSRF token to send, throwing an
 * ApiError when refused); when the refusal needs a fresh sign-in, waits for it (one sign-in
 * for every call that needs it meanwhile) and runs `attempt` once more. `request` goes through
 * it, and so does a call sent without fetch (an upload, whose progress fetch cannot report). */
export async function withSignIn<T>(
  path: string,
  attempt: (csrf: string | undefined) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const exempt = SESSION_ROUTES.has(pathOnly(path));
  if (!exempt && pendingSignIn !== undefined) await settled(pendingSignIn, signal);
  const sentAfter = signIns;
  try {
    return await attempt(csrfToken);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const reason = reauthReason(path, error.problem);
    if (reason === null) throw error;
    if (signIns === sentAfter && !(await signInAgain(reason, signal))) throw error;
  }
  return attempt(csrfToken);
}

async function send(
  method: string,
  path: string,
  body: unknown,
  csrf: string | undefined,
  options: RequestOptions,
  accept: string,
): Promise<Response> {
  const headers = new Headers({ ...options.headers, Accept: accept });
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(body);
  }
  if (!SAFE_METHODS.has(method) && csrf !== undefined) {
    headers.set("X-CSRF-Token", csrf);
  }
  if (options.signal !== undefined) init.signal = options.signal;
  if (options.keepalive === true) init.keepalive = true;
  try {
    return await fetch(path, init);
  } catch (error) {
    if (options.signal?.aborted === true) throw options.signal.reason;
    throw new NetworkError(error);
  }
}

async function answerOf<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

/** Whether the person signed in again: one sign-in for every call that needs it meanwhile. */
async function signInAgain(reason: ReauthReason, signal: AbortSignal | undefined) {
  const handler = reauthenticate;
  if (handler === undefined) return false;
  if (pendingSignIn === undefined) {
    const signIn = handler(reason).then(() => {
      signIns += 1;
    });
    pendingSignIn = signIn;
    const forget = () => {
      if (pendingSignIn === signIn) pendingSignIn = undefined;
    };
    signIn.then(forget, forget);
  }
  return settled(pendingSignIn, signal);
}

/** Waits for `signIn` (or for `signal` to abort the call): true when it succeeded. */
function settled(signIn: Promise<void>, signal: AbortSignal | undefined): Promise<boolean> {
  const outcome = signIn.then(
    () => true,
    () => false,
  );
  if (signal === undefined) return outcome;
  signal.throwIfAborted();
  return new Promise<boolean>((resolve, reject) => {
    const abort = () => {
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", abort, { once: true });
    void outcome.then((value) => {
      signal.removeEventListener("abort", abort);
      resolve(value);
    });
  });
}

function pathOnly(path: string): string {
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

// One file sent to POST /v1/blobs with XMLHttpRequest, because fetch cannot report how much of
// a request body has gone. It is sent as `request` (api/http.ts) sends a call: same origin with
// the session cookie, the CSRF token, the answer or the problem+json thrown as an ApiError, a
// refusal for an ended session signed in again through the studio's dialog, then sent again.

import { ApiError, isProblem, NetworkError, problemFromStatus, withSignIn, type Problem } from "../api/http";

const UPLOAD_PATH = "/v1/blobs";
const BLOB_ID = /^[0-9a-f]{64}$/;

/** The gateway's answer to an upload (its OpenAPI "Blob" plus the thumbnail's signed URL). */
export interface UploadedBlob {
  sha256: string;
  content_type: string;
  width: number;
  height: number;
  /** This user had uploaded these exact bytes before. */
  duplicate: boolean;
  /** A signed URL of a 256-pixel thumbnail, usable in an <img> until it expires (a day). */
  thumbnail_url: string;
}

export interface SendOptions {
  /** Bytes of the body sent so far, of `total`; starts again at 0 if the file is sent again. */
  onProgress?: (sent: number, total: number) => void;
  /** Aborting cancels the upload (the request is aborted). */
  signal?: AbortSignal;
}

/** Makes the request object: a real XMLHttpRequest, or a test's stand-in. */
export type MakeRequest = () => XMLHttpRequest;

/** Uploads `file`: the stored blob, or an ApiError (the server refused it), a NetworkError, or
 * the signal's reason when cancelled. */
export function uploadBlob(
  file: Blob & { name?: string },
  options: SendOptions = {},
  makeRequest: MakeRequest = () => new XMLHttpRequest(),
): Promise<UploadedBlob> {
  const name = file.name ?? "";
  const path = `${UPLOAD_PATH}?filename=${encodeURIComponent(name)}`;
  return withSignIn(path, (csrf) => sendOnce(path, file, csrf, options, makeRequest), options.signal);
}

function sendOnce(
  path: string,
  file: Blob,
  csrf: string | undefined,
  { onProgress, signal }: SendOptions,
  makeRequest: MakeRequest,
): Promise<UploadedBlob> {
  return new Promise<UploadedBlob>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const xhr = makeRequest();
    const abort = () => {
      xhr.abort();
    };
    const done = () => {
      signal?.removeEventListener("abort", abort);
    };
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (csrf !== undefined) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (event) => {
      onProgress?.(event.loaded, event.lengthComputable ? event.total : file.size);
    };
    xhr.onload = () => {
      done();
      const answer = parsed(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && isUploadedBlob(answer)) {
        resolve(answer);
      } else {
        reject(new ApiError(problemOf(xhr, answer)));
      }
    };
    xhr.onerror = () => {
      done();
      reject(new NetworkError(new Error("the upload's connection failed")));
    };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => {
      done();
      reject((signal?.reason as Error | undefined) ?? new DOMException("cancelled", "AbortError"));
    };
    signal?.addEventListener("abort", abort, { once: true });
    onProgress?.(0, file.size);
    xhr.send(file);
  });
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The refusal as the server wrote it (problem+json), else one made from the status. A
 * success without a blob in it (a proxy's page) is a 502 of sorts: not what was asked for. */
function problemOf(xhr: XMLHttpRequest, answer: unknown): Problem {
  if (isProblem(answer)) return answer;
  if (xhr.status >= 200 && xhr.status < 300) {
    return { type: "about:blank", title: "Bad answer", status: 502, detail: "the server's answer holds no blob" };
  }
  return problemFromStatus(xhr.status, xhr.statusText);
}

function isUploadedBlob(value: unknown): value is UploadedBlob {
  if (typeof value !== "object" || value === null) return false;
  const blob = value as Record<string, unknown>;
  return (
    typeof blob.sha256 === "string" &&
    BLOB_ID.test(blob.sha256) &&
    // Only a path of this origin is ever put in an <img>.
    typeof blob.thumbnail_url === "string" &&
    blob.thumbnail_url.startsWith("/images/")
  );
}

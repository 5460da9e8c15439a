// A stand-in for XMLHttpRequest in the uploads' tests: records what is sent and lets the test
// report progress and answer (or fail, or see it aborted) when it chooses. Tests only.

type Handler = ((event: ProgressEvent) => void) | null;

export class FakeXhr {
  method = "";
  url = "";
  readonly headers: Record<string, string> = {};
  body: unknown;
  aborted = false;
  status = 0;
  statusText = "";
  responseText = "";
  readonly upload: { onprogress: Handler } = { onprogress: null };
  onload: Handler = null;
  onerror: Handler = null;
  ontimeout: Handler = null;
  onabort: Handler = null;

  constructor(private readonly sent: FakeXhr[]) {}

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  send(body: unknown): void {
    this.body = body;
    this.sent.push(this);
  }

  abort(): void {
    this.aborted = true;
    this.onabort?.(new ProgressEvent("abort"));
  }

  /** The browser reports `loaded` bytes of the body sent. */
  progress(loaded: number, total: number): void {
    this.upload.onprogress?.(new ProgressEvent("progress", { loaded, total, lengthComputable: true }));
  }

  /** The server answers with `status` and `body` (JSON when not a string). */
  respond(status: number, body: unknown = "", statusText = ""): void {
    this.status = status;
    this.statusText = statusText;
    this.responseText = typeof body === "string" ? body : JSON.stringify(body);
    this.onload?.(new ProgressEvent("load"));
  }

  /** The connection fails. */
  fail(): void {
    this.onerror?.(new ProgressEvent("error"));
  }
}

/** Requests made through `make`, in the order they were sent. */
export function fakeRequests(): { sent: FakeXhr[]; make: () => XMLHttpRequest } {
  const sent: FakeXhr[] = [];
  return { sent, make: () => new FakeXhr(sent) as unknown as XMLHttpRequest };
}

/** A blob the gateway would answer with for an upload. */
export function storedBlob(sha256: string, duplicate = false) {
  return {
    sha256,
    size: "68",
    content_type: "image/png",
    width: 4,
    height: 3,
    duplicate,
    thumbnail_url: `/images/sig/th:256/exp:1/${sha256}`,
  };
}

/** A distinct valid blob id for test number `n`. */
export function digest(n: number): string {
  return n.toString(16).padStart(64, "0");
}

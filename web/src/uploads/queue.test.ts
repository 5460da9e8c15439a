import { describe, expect, it } from "vitest";

import { ApiError, NetworkError } from "../api/http";
import type { SendOptions, UploadedBlob } from "./blobUpload";
import { digest, storedBlob } from "./fakeXhr";
import { MAX_UPLOAD_BYTES } from "./limits";
import { UploadQueue, type UploadFile, type UploadRow } from "./queue";
import { statusOf, summaryOf } from "./rowText";

interface Sending {
  file: UploadFile;
  options: SendOptions;
  resolve: (blob: UploadedBlob) => void;
  reject: (error: unknown) => void;
}

/** A queue whose sends the test answers one by one. */
function queueWithManualSends(concurrency = 4) {
  const sends: Sending[] = [];
  const uploaded: string[] = [];
  const queue = new UploadQueue({
    concurrency,
    send: (file, options) =>
      new Promise<UploadedBlob>((resolve, reject) => {
        sends.push({ file, options, resolve, reject });
      }),
    onUploaded: (file, blob) => uploaded.push(`${file.name}=${blob.sha256}`),
  });
  return { queue, sends, uploaded, sendOf: (name: string) => sends.find((s) => s.file.name === name) };
}

function image(name: string, size = 100, type = "image/png"): UploadFile {
  return { name, size, type } as UploadFile;
}

function images(count: number): UploadFile[] {
  return Array.from({ length: count }, (_, index) => image(`frame-${String(index + 1)}.png`));
}

function states(rows: readonly UploadRow[]): string[] {
  return rows.map((row) => `${row.file.name}:${row.state}`);
}

/** Lets the promise callbacks of answered sends run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
}

describe("the upload queue", () => {
  it("sends four at a time in the order the files came; the others wait", async () => {
    const { queue, sends } = queueWithManualSends();
    queue.add(images(50));

    expect(sends.map((s) => s.file.name)).toEqual(["frame-1.png", "frame-2.png", "frame-3.png", "frame-4.png"]);
    expect(queue.snapshot().filter((row) => row.state === "waiting")).toHaveLength(46);
    expect(statusOf(queue.snapshot()[10] as UploadRow)).toBe("Waiting");

    sends[1]?.resolve(storedBlob(digest(2)));
    await settle();
    expect(sends.map((s) => s.file.name)).toHaveLength(5);
    expect(sends[4]?.file.name).toBe("frame-5.png");
    expect(queue.snapshot().filter((row) => row.state === "sending")).toHaveLength(4);
  });

  it("finishes every good file when two are refused, one by the browser and one by the server", async () => {
    const { queue, sends, uploaded } = queueWithManualSends();
    const files = images(48);
    files.splice(10, 0, image("huge.png", MAX_UPLOAD_BYTES + 1));
    files.splice(20, 0, image("fake.png"));
    queue.add(files);
    expect(queue.snapshot()[10]).toMatchObject({ state: "refused" });
    expect(queue.snapshot()[10]?.reason).toMatch(/larger than the 50 MB limit/);

    // Answer every send as it comes, until none is left waiting.
    for (let answered = 0; answered < sends.length; answered += 1) {
      const send = sends[answered] as Sending;
      if (send.file.name === "fake.png") {
        const problem = { type: "about:blank", title: "Unprocessable", status: 422, detail: "not an acceptable image (not_an_image): not a PNG, JPEG, WebP, GIF or TIFF image" };
        send.reject(new ApiError(problem));
      } else {
        send.resolve(storedBlob(digest(answered + 1)));
      }
      await settle();
    }

    expect(sends).toHaveLength(49); // the oversized file never went
    const rows = queue.snapshot();
    expect(rows.filter((row) => row.state === "done")).toHaveLength(48);
    expect(uploaded).toHaveLength(48);
    expect(rows.find((row) => row.file.name === "fake.png")).toMatchObject({
      state: "refused",
      reason: "Not an acceptable image (not_an_image): not a PNG, JPEG, WebP, GIF or TIFF image.",
    });
    expect(summaryOf(rows)).toBe("48 uploaded · 2 refused");
  });

  it("follows each row's progress, then processing once every byte is sent", () => {
    const { queue, sendOf } = queueWithManualSends();
    queue.add([image("a.png", 1000)]);
    sendOf("a.png")?.options.onProgress?.(250, 1000);
    const row = queue.snapshot()[0] as UploadRow;
    expect(row).toMatchObject({ state: "sending", sent: 250, total: 1000 });
    expect(statusOf(row)).toBe("Sending, 25 %");
    sendOf("a.png")?.options.onProgress?.(1000, 1000);
    expect(statusOf(queue.snapshot()[0] as UploadRow)).toBe("Processing");
  });

  it("lets a row that failed on the network be retried, after the rows already waiting", async () => {
    const { queue, sends } = queueWithManualSends(1);
    queue.add([image("a.png"), image("b.png")]);
    sends[0]?.reject(new NetworkError(new Error("reset")));
    await settle();
    expect(queue.snapshot()[0]).toMatchObject({ state: "failed", reason: "The connection failed before the upload finished." });
    expect(sends[1]?.file.name).toBe("b.png");

    queue.retry(queue.snapshot()[0]?.id ?? 0);
    expect(states(queue.snapshot())).toEqual(["b.png:sending", "a.png:waiting"]);
    sends[1]?.resolve(storedBlob(digest(2)));
    await settle();
    expect(sends[2]?.file.name).toBe("a.png");
    sends[2]?.resolve(storedBlob(digest(1)));
    await settle();
    expect(states(queue.snapshot())).toEqual(["b.png:done", "a.png:done"]);
  });

  it("cancels a sending row by aborting its request, and a waiting one before it goes", async () => {
    const { queue, sends } = queueWithManualSends(1);
    queue.add([image("a.png"), image("b.png"), image("c.png")]);
    const [a, b] = queue.snapshot();
    queue.cancel(b?.id ?? 0);
    expect(states(queue.snapshot())).toEqual(["a.png:sending", "b.png:cancelled", "c.png:waiting"]);

    queue.cancel(a?.id ?? 0);
    const signal = sends[0]?.options.signal;
    expect(signal?.aborted).toBe(true);
    sends[0]?.reject(signal?.reason);
    await settle();
    expect(states(queue.snapshot())).toEqual(["a.png:cancelled", "b.png:cancelled", "c.png:sending"]);
    expect(sends.map((s) => s.file.name)).toEqual(["a.png", "c.png"]);
  });

  it("keeps a retryable failure for an ended session the sign-in did not recover", async () => {
    const { queue, sends } = queueWithManualSends();
    queue.add([image("a.png")]);
    sends[0]?.reject(new ApiError({ type: "about:blank", title: "Unauthorized", status: 401, detail: "the session has ended" }));
    await settle();
    expect(queue.snapshot()[0]).toMatchObject({
      state: "failed",
      reason: "Not uploaded: the session has ended. Sign in, then retry.",
    });
  });

  it("says a 413 without a detail means the server's limit", async () => {
    const { queue, sends } = queueWithManualSends();
    queue.add([image("a.png")]);
    sends[0]?.reject(new ApiError({ type: "about:blank", title: "Payload Too Large", status: 413 }));
    await settle();
    expect(queue.snapshot()[0]).toMatchObject({ state: "refused", reason: "The file is larger than the server accepts." });
  });

  it("clears the finished rows only", async () => {
    const { queue, sends } = queueWithManualSends(1);
    queue.add([image("a.png"), image("notes.txt", 10, "text/plain"), image("b.png")]);
    sends[0]?.resolve(storedBlob(digest(1)));
    await settle();
    queue.clearFinished();
    expect(states(queue.snapshot())).toEqual(["b.png:sending"]);
  });

  it("tells its subscribers of every change, with a new snapshot each time", () => {
    const { queue } = queueWithManualSends();
    const seen: (readonly UploadRow[])[] = [];
    const stop = queue.subscribe(() => seen.push(queue.snapshot()));
    queue.add([image("a.png")]);
    stop();
    queue.add([image("b.png")]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).not.toBe(queue.snapshot());
  });
});

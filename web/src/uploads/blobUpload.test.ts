// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from "vitest";

import { ApiError, NetworkError, setCsrfToken, setReauthenticate } from "../api/http";
import { uploadBlob } from "./blobUpload";
import { digest, fakeRequests, storedBlob } from "./fakeXhr";

afterEach(() => {
  setCsrfToken(undefined);
  setReauthenticate(undefined);
});

function png(name = "castle.png", bytes = 1000): File {
  return new File([new Uint8Array(bytes)], name, { type: "image/png" });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

describe("uploadBlob", () => {
  it("posts the file with its name, the CSRF token and its progress, and answers the blob", async () => {
    const { sent, make } = fakeRequests();
    setCsrfToken("token-1");
    const progress: [number, number][] = [];
    const file = png("château 1.png");
    const uploaded = uploadBlob(file, { onProgress: (s, t) => progress.push([s, t]) }, make);
    await settle();

    const xhr = sent[0];
    expect(xhr?.method).toBe("POST");
    expect(xhr?.url).toBe("/v1/blobs?filename=ch%C3%A2teau%201.png");
    expect(xhr?.headers).toMatchObject({ "X-CSRF-Token": "token-1", "Content-Type": "application/octet-stream" });
    expect(xhr?.body).toBe(file);
    xhr?.progress(400, 1000);
    xhr?.respond(201, storedBlob(digest(7)));

    await expect(uploaded).resolves.toMatchObject({ sha256: digest(7), width: 4, height: 3 });
    expect(progress).toEqual([
      [0, 1000],
      [400, 1000],
    ]);
  });

  it("throws the server's problem+json for a refused file", async () => {
    const { sent, make } = fakeRequests();
    const uploaded = uploadBlob(png("fake.png"), {}, make);
    await settle();
    sent[0]?.respond(422, { type: "about:blank", title: "Unprocessable Content", status: 422, detail: "not an acceptable image" });
    const error: unknown = await uploaded.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).problem.detail).toBe("not an acceptable image");
  });

  it("makes a problem from the status of a refusal that is not problem+json (a proxy's 413)", async () => {
    const { sent, make } = fakeRequests();
    const uploaded = uploadBlob(png(), {}, make);
    await settle();
    sent[0]?.respond(413, "<html>too large</html>", "Payload Too Large");
    await expect(uploaded).rejects.toMatchObject({ status: 413, message: "Payload Too Large" });
  });

  it("refuses an answer that holds no blob, or a thumbnail from another origin", async () => {
    const { sent, make } = fakeRequests();
    const uploaded = uploadBlob(png(), {}, make);
    await settle();
    sent[0]?.respond(201, { ...storedBlob(digest(1)), thumbnail_url: "https://elsewhere.example/x.png" });
    await expect(uploaded).rejects.toMatchObject({ status: 502 });
  });

  it("throws a NetworkError when the connection fails", async () => {
    const { sent, make } = fakeRequests();
    const uploaded = uploadBlob(png(), {}, make);
    await settle();
    sent[0]?.fail();
    await expect(uploaded).rejects.toBeInstanceOf(NetworkError);
  });

  it("aborts the request when cancelled", async () => {
    const { sent, make } = fakeRequests();
    const controller = new AbortController();
    const uploaded = uploadBlob(png(), { signal: controller.signal }, make);
    await settle();
    controller.abort(new DOMException("cancelled", "AbortError"));
    await expect(uploaded).rejects.toMatchObject({ name: "AbortError" });
    expect(sent[0]?.aborted).toBe(true);
  });

  it("on a 401 waits for the studio's sign-in, then sends the file again with the fresh token", async () => {
    const { sent, make } = fakeRequests();
    let finishSignIn: (() => void) | undefined;
    const asked: string[] = [];
    setReauthenticate((reason) => {
      asked.push(reason);
      return new Promise<void>((resolve) => {
        finishSignIn = () => {
          setCsrfToken("fresh");
          resolve();
        };
      });
    });
    setCsrfToken("old");
    const progress: number[] = [];
    const uploaded = uploadBlob(png(), { onProgress: (s) => progress.push(s) }, make);
    await settle();
    sent[0]?.progress(1000, 1000);
    sent[0]?.respond(401, { type: "about:blank", title: "Unauthorized", status: 401, detail: "session expired" });
    await settle();
    expect(asked).toEqual(["unauthenticated"]);
    expect(sent).toHaveLength(1);

    finishSignIn?.();
    await settle();
    expect(sent.map((xhr) => xhr.headers["X-CSRF-Token"])).toEqual(["old", "fresh"]);
    expect(progress).toEqual([0, 1000, 0]); // the bar starts again with the new request
    sent[1]?.respond(201, storedBlob(digest(3)));
    await expect(uploaded).resolves.toMatchObject({ sha256: digest(3) });
  });
});

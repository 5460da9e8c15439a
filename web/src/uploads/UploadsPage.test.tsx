// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { identity, renderAt } from "../app/testing";
import { digest, FakeXhr, storedBlob } from "./fakeXhr";
import { MAX_UPLOAD_BYTES } from "./limits";
import { UploadsPage } from "./UploadsPage";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

/** Every XMLHttpRequest the page makes, in the order they were sent. */
function fakeXhrs(): FakeXhr[] {
  const sent: FakeXhr[] = [];
  vi.stubGlobal(
    "XMLHttpRequest",
    class extends FakeXhr {
      constructor() {
        super(sent);
      }
    },
  );
  return sent;
}

let people = 0;
/** The page for a person of its own: each test gets a fresh queue. */
function renderPage() {
  people += 1;
  return renderAt("/uploads", <UploadsPage />, identity(`person-${String(people)}`));
}

function png(name: string, bytes = 100): File {
  return new File([new Uint8Array(bytes)], name, { type: "image/png" });
}

function rowOf(name: string): HTMLElement {
  return screen.getByRole("listitem", { name });
}

async function settle(): Promise<void> {
  await act(async () => {
    for (let i = 0; i < 10; i += 1) await Promise.resolve();
  });
}

describe("the reference images page", () => {
  it("offers a labelled file input for many images, by keyboard and touch", () => {
    renderPage();
    expect(screen.getByRole("heading", { level: 1, name: "Reference images" })).toBeDefined();
    const input = screen.getByLabelText<HTMLInputElement>("Choose files");
    expect(input.type).toBe("file");
    expect(input.multiple).toBe(true);
    expect(input.accept).toBe("image/*");
  });

  it("gives each file its own row: four sending with their bars, the rest waiting, a bad one saying why", async () => {
    const sent = fakeXhrs();
    renderPage();
    const files = [
      ...["a", "b", "c", "d", "e"].map((n) => png(`${n}.png`)),
      new File(["hello"], "notes.txt", { type: "text/plain" }),
    ];
    fireEvent.change(screen.getByLabelText("Choose files"), { target: { files } });
    await settle();

    expect(sent.map((xhr) => xhr.url)).toEqual(["a", "b", "c", "d"].map((n) => `/v1/blobs?filename=${n}.png`));
    expect(within(rowOf("e.png")).getByText("Waiting")).toBeDefined();
    expect(within(rowOf("e.png")).getByRole("progressbar", { name: "Upload of e.png" })).toBeDefined();
    expect(within(rowOf("notes.txt")).getByRole("alert").textContent).toBe(
      "Not an image (text/plain): use PNG, JPEG, WebP, GIF or TIFF.",
    );
    expect(within(rowOf("notes.txt")).queryByRole("progressbar")).toBeNull();

    act(() => {
      sent[0]?.progress(50, 100);
    });
    expect(within(rowOf("a.png")).getByText("Sending, 50 %")).toBeDefined();
    expect(within(rowOf("a.png")).getByRole<HTMLProgressElement>("progressbar").value).toBe(50);
  });

  it("shows a finished row's thumbnail and digest, lists it in the session's images, and starts the next", async () => {
    const sent = fakeXhrs();
    renderPage();
    fireEvent.change(screen.getByLabelText("Choose files"), {
      target: { files: ["a", "b", "c", "d", "e"].map((n) => png(`${n}.png`)) },
    });
    await settle();
    act(() => {
      sent[0]?.respond(201, storedBlob(digest(10)));
    });
    await settle();

    const row = rowOf("a.png");
    expect(within(row).getByText("Uploaded")).toBeDefined();
    expect(within(row).getByRole<HTMLImageElement>("img", { name: "Thumbnail of a.png" }).getAttribute("src")).toBe(
      `/images/sig/th:256/exp:1/${digest(10)}`,
    );
    expect(within(row).getByText(digest(10))).toBeDefined();
    expect(sent.map((xhr) => xhr.url)).toContain("/v1/blobs?filename=e.png");
    const gallery = screen.getByRole("list", { name: "Uploaded this session" });
    expect(within(gallery).getByRole("img", { name: "a.png" })).toBeDefined();
    expect(screen.getByRole("status").textContent).toBe("1 uploaded · 4 sending");
  });

  it("takes files dropped on the zone, refusing an oversized one without sending it", async () => {
    const sent = fakeXhrs();
    renderPage();
    const huge = png("huge.png");
    Object.defineProperty(huge, "size", { value: MAX_UPLOAD_BYTES + 1 });
    fireEvent.drop(screen.getByTestId("drop-zone"), {
      dataTransfer: { files: [png("small.png"), huge], types: ["Files"] },
    });
    await settle();

    expect(sent.map((xhr) => xhr.url)).toEqual(["/v1/blobs?filename=small.png"]);
    expect(within(rowOf("huge.png")).getByRole("alert").textContent).toBe(
      "The file is 50.0 MB: larger than the 50 MB limit.",
    );
  });

  it("cancels a sending row, then sends it again on Retry", async () => {
    const sent = fakeXhrs();
    renderPage();
    fireEvent.change(screen.getByLabelText("Choose files"), { target: { files: [png("a.png")] } });
    await settle();
    fireEvent.click(screen.getByRole("button", { name: "Cancel a.png" }));
    await settle();
    expect(sent[0]?.aborted).toBe(true);
    expect(within(rowOf("a.png")).getByText("Cancelled")).toBeDefined();

    fireEvent.click(screen.getByRole("button", { name: "Retry a.png" }));
    await settle();
    expect(sent).toHaveLength(2);
    expect(within(rowOf("a.png")).getByRole("progressbar")).toBeDefined();
  });

  it("shows a server refusal in its row while the other rows finish", async () => {
    const sent = fakeXhrs();
    renderPage();
    fireEvent.change(screen.getByLabelText("Choose files"), { target: { files: [png("fake.png"), png("real.png")] } });
    await settle();
    act(() => {
      sent[0]?.respond(422, { type: "about:blank", title: "Unprocessable", status: 422, detail: "not an acceptable image" });
      sent[1]?.respond(201, storedBlob(digest(2)));
    });
    await settle();
    expect(within(rowOf("fake.png")).getByRole("alert").textContent).toBe("Not an acceptable image.");
    expect(within(rowOf("real.png")).getByText("Uploaded")).toBeDefined();
  });
});

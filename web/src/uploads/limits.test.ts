import { describe, expect, it } from "vitest";

import { formatBytes, MAX_UPLOAD_BYTES, refusalOf } from "./limits";

describe("refusalOf", () => {
  it("sends the image types the server stores, and files whose type the browser cannot tell", () => {
    for (const type of ["image/png", "image/jpeg", "image/webp", "image/gif", "image/tiff", ""]) {
      expect(refusalOf({ name: "a", size: 10, type })).toBeNull();
    }
  });

  it("refuses a file that is not an image, saying what it is", () => {
    expect(refusalOf({ name: "notes.txt", size: 10, type: "text/plain" })).toBe(
      "Not an image (text/plain): use PNG, JPEG, WebP, GIF or TIFF.",
    );
  });

  it("refuses an image of a type the server does not store, naming it", () => {
    expect(refusalOf({ name: "logo.svg", size: 10, type: "image/svg+xml" })).toBe(
      "SVG images are not accepted: use PNG, JPEG, WebP, GIF or TIFF.",
    );
  });

  it("refuses a file over the limit with both sizes, and one exactly at it not", () => {
    expect(refusalOf({ name: "big.png", size: MAX_UPLOAD_BYTES, type: "image/png" })).toBeNull();
    expect(refusalOf({ name: "big.png", size: 63 * 1024 * 1024 + 200_000, type: "image/png" })).toBe(
      "The file is 63.2 MB: larger than the 50 MB limit.",
    );
  });

  it("refuses an empty file", () => {
    expect(refusalOf({ name: "empty.png", size: 0, type: "image/png" })).toBe("The file is empty.");
  });
});

describe("formatBytes", () => {
  it.each([
    [1, "1 byte"],
    [900, "900 bytes"],
    [1536, "1.5 KB"],
    [2048, "2 KB"],
    [50 * 1024 * 1024, "50 MB"],
    [150 * 1024 * 1024 + 1, "150 MB"],
  ])("%d bytes read as %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

// The images a person uploaded in this tab's session, newest first, one entry per blob: what
// the uploads page lists and a node's image field offers. Kept in sessionStorage (one key per
// user), so a reload keeps the list and another person signing in on the tab never sees it.

import type { UploadedBlob } from "./blobUpload";

export interface UploadedImage {
  /** The blob id a node's property names it by. */
  sha256: string;
  /** The file's name when it was uploaded. */
  name: string;
  width: number;
  height: number;
  thumbnailUrl: string;
}

const PREFIX = "shotgraph.uploads.v1";
/** Enough for any session's work; the oldest are forgotten past it. */
export const MAX_REMEMBERED = 500;

export function uploadedKey(userId: string): string {
  return `${PREFIX}:${userId}`;
}

export class UploadedImages {
  private images: readonly UploadedImage[];
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly storage: Storage | null,
    private readonly key: string,
  ) {
    this.images = this.read();
  }

  readonly snapshot = (): readonly UploadedImage[] => this.images;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Puts `blob` first (once, however often it is uploaded). */
  add(name: string, blob: UploadedBlob): void {
    const image: UploadedImage = {
      sha256: blob.sha256,
      name,
      width: blob.width,
      height: blob.height,
      thumbnailUrl: blob.thumbnail_url,
    };
    this.images = [image, ...this.images.filter((old) => old.sha256 !== image.sha256)].slice(0, MAX_REMEMBERED);
    this.write();
    for (const listener of this.listeners) listener();
  }

  private read(): readonly UploadedImage[] {
    try {
      const text = this.storage?.getItem(this.key) ?? null;
      const value: unknown = text === null ? [] : JSON.parse(text);
      return Array.isArray(value) ? value.filter(isUploadedImage) : [];
    } catch {
      return []; // storage disabled, or not something this studio wrote
    }
  }

  private write(): void {
    try {
      this.storage?.setItem(this.key, JSON.stringify(this.images));
    } catch {
      // Storage full or disabled: the list lasts as long as the page.
    }
  }
}

function isUploadedImage(value: unknown): value is UploadedImage {
  if (typeof value !== "object" || value === null) return false;
  const image = value as Record<string, unknown>;
  return (
    typeof image.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(image.sha256) &&
    typeof image.name === "string" &&
    typeof image.width === "number" &&
    typeof image.height === "number" &&
    typeof image.thumbnailUrl === "string" &&
    image.thumbnailUrl.startsWith("/images/")
  );
}

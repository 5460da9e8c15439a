// One upload queue and one list of uploaded images per signed-in person, for the life of the
// page: uploads go on while the person works on another page, and a node's image field offers
// what they uploaded.

import { useContext, useSyncExternalStore } from "react";

import { IdentityContext } from "../app/session";
import { uploadBlob } from "./blobUpload";
import { UploadQueue, type UploadRow } from "./queue";
import { UploadedImages, uploadedKey, type UploadedImage } from "./uploaded";

export interface StudioUploads {
  queue: UploadQueue;
  images: UploadedImages;
}

const byUser = new Map<string, StudioUploads>();

function sessionStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled by the browser's settings
  }
}

/** The uploads of `userId` on this page, made on first use. */
export function studioUploads(userId: string): StudioUploads {
  let uploads = byUser.get(userId);
  if (uploads === undefined) {
    const images = new UploadedImages(sessionStore(), uploadedKey(userId));
    const queue = new UploadQueue({
      send: (file, options) => uploadBlob(file, options),
      onUploaded: (file, blob) => {
        images.add(file.name, blob);
      },
    });
    uploads = { queue, images };
    byUser.set(userId, uploads);
  }
  return uploads;
}

const NONE: readonly UploadedImage[] = [];
const noChanges = () => () => undefined;

/** The signed-in person's upload queue and its rows, kept current. */
export function useUploadQueue(userId: string): { queue: UploadQueue; rows: readonly UploadRow[] } {
  const { queue } = studioUploads(userId);
  const rows = useSyncExternalStore(queue.subscribe, queue.snapshot);
  return { queue, rows };
}

/** The images the signed-in person uploaded in this session, newest first; none when no one
 * is signed in (a form shown outside the studio's signed-in pages). */
export function useUploadedImages(): readonly UploadedImage[] {
  const identity = useContext(IdentityContext);
  const images = identity === null ? null : studioUploads(identity.user_id).images;
  return useSyncExternalStore(images?.subscribe ?? noChanges, images?.snapshot ?? (() => NONE));
}

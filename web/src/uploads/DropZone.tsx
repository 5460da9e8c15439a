import { useEffect, useId, useRef, useState, type DragEvent } from "react";

import { formatBytes, MAX_UPLOAD_BYTES } from "./limits";
import type { UploadFile } from "./queue";

/** Whether a drag carries files (not text or a link dragged from the page). */
function carriesFiles(event: { dataTransfer: DataTransfer | null }): boolean {
  return event.dataTransfer?.types.includes("Files") ?? false;
}

/** Where files come in: dropped on the zone, or chosen with its button (a labelled file input,
 * reachable by keyboard and by touch). While the zone is shown, files dropped beside it are
 * ignored instead of the browser leaving the studio to show them. */
export function DropZone({ onFiles }: { onFiles: (files: UploadFile[]) => void }) {
  const inputId = useId();
  const hintId = useId();
  const [over, setOver] = useState(false);
  // dragenter and dragleave fire for every child crossed: count them to know when it left.
  const depth = useRef(0);

  useEffect(() => {
    const ignore = (event: globalThis.DragEvent) => {
      if (carriesFiles(event)) event.preventDefault();
    };
    window.addEventListener("dragover", ignore);
    window.addEventListener("drop", ignore);
    return () => {
      window.removeEventListener("dragover", ignore);
      window.removeEventListener("drop", ignore);
    };
  }, []);

  const enter = (event: DragEvent) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth.current += 1;
    setOver(true);
  };
  const leave = () => {
    depth.current = Math.max(0, depth.current - 1);
    if (depth.current === 0) setOver(false);
  };

  return (
    <div
      className={over ? "drop-zone is-over" : "drop-zone"}
      data-testid="drop-zone"
      onDragEnter={enter}
      onDragOver={(event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      }}
      onDragLeave={leave}
      onDrop={(event) => {
        event.preventDefault();
        depth.current = 0;
        setOver(false);
        const files = Array.from(event.dataTransfer.files);
        if (files.length > 0) onFiles(files);
      }}
    >
      <p className="drop-zone__title">Drop images here</p>
      <p id={hintId} className="hint">
        PNG, JPEG, WebP, GIF or TIFF, up to {formatBytes(MAX_UPLOAD_BYTES)} each; as many as you
        like at once.
      </p>
      <input
        id={inputId}
        className="drop-zone__input"
        type="file"
        multiple
        accept="image/*"
        aria-describedby={hintId}
        onChange={(event) => {
          const input = event.currentTarget;
          const files = Array.from(input.files ?? []);
          // Emptied, so choosing the same files again is a change too.
          input.value = "";
          if (files.length > 0) onFiles(files);
        }}
      />
      <label htmlFor={inputId} className="drop-zone__choose">
        Choose files
      </label>
    </div>
  );
}

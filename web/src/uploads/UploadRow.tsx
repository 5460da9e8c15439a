import { memo, useId } from "react";

import { formatBytes } from "./limits";
import { canCancel, canRetry, type UploadQueue, type UploadRow as Row } from "./queue";
import { statusOf } from "./rowText";

/** One file of the upload: its name and size, its own progress bar while it waits or sends,
 * then its thumbnail and digest, or why it was not uploaded (announced as it appears). */
export const UploadRowView = memo(function UploadRowView({ row, queue }: { row: Row; queue: UploadQueue }) {
  const nameId = useId();
  const reasonId = useId();
  const name = row.file.name;
  const blob = row.blob;
  const processing = row.state === "sending" && row.sent >= row.total;
  return (
    <li className="upload-row" data-state={row.state} aria-labelledby={nameId}>
      <div className="upload-row__thumb">
        {blob !== undefined && <img src={blob.thumbnail_url} alt={`Thumbnail of ${name}`} />}
      </div>
      <div className="upload-row__main">
        <div className="upload-row__head">
          <span id={nameId} className="upload-row__name">
            {name}
          </span>
          <span className="meta">{formatBytes(row.file.size)}</span>
          <span className="upload-row__status">{statusOf(row)}</span>
        </div>
        {(row.state === "waiting" || row.state === "sending") && (
          <progress
            aria-label={`Upload of ${name}`}
            max={row.total}
            // No value while the server processes it: indeterminate.
            value={processing ? undefined : row.sent}
          />
        )}
        {blob !== undefined && (
          <p className="upload-row__digest">
            <span className="meta">
              {String(blob.width)} × {String(blob.height)} · SHA-256{" "}
            </span>
            <code data-sha256={blob.sha256}>{blob.sha256}</code>
          </p>
        )}
        {row.reason !== undefined && (
          <p id={reasonId} role="alert" className="error upload-row__reason">
            {row.reason}
          </p>
        )}
      </div>
      <div className="upload-row__actions">
        {canCancel(row) && (
          <button
            type="button"
            aria-label={`Cancel ${name}`}
            onClick={() => {
              queue.cancel(row.id);
            }}
          >
            Cancel
          </button>
        )}
        {canRetry(row) && (
          <button
            type="button"
            aria-label={`Retry ${name}`}
            aria-describedby={row.reason !== undefined ? reasonId : undefined}
            onClick={() => {
              queue.retry(row.id);
            }}
          >
            Retry
          </button>
        )}
      </div>
    </li>
  );
});

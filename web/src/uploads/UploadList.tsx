import { isFinished, type UploadQueue, type UploadRow } from "./queue";
import { summaryOf } from "./rowText";
import { UploadRowView } from "./UploadRow";

/** The files of this page's uploads, each row with its own progress and outcome. */
export function UploadList({ rows, queue }: { rows: readonly UploadRow[]; queue: UploadQueue }) {
  const finished = rows.some(isFinished);
  return (
    <section className="upload-list" aria-labelledby="upload-list-title">
      <div className="upload-list__head">
        <h2 id="upload-list-title">Uploads</h2>
        {/* Polite: it follows the rows without talking over them. */}
        <p className="upload-list__summary" role="status">
          {summaryOf(rows)}
        </p>
        <button
          type="button"
          disabled={!finished}
          onClick={() => {
            queue.clearFinished();
          }}
        >
          Clear finished
        </button>
      </div>
      <ol className="upload-rows">
        {rows.map((row) => (
          <UploadRowView key={row.id} row={row} queue={queue} />
        ))}
      </ol>
    </section>
  );
}

import { useId } from "react";
import { Link } from "react-router";

import type { Batch } from "../api/batches";
import { formatWhen } from "../app/time";
import { BatchActions } from "./BatchActions";
import { batchName, countsSummary } from "./batchWords";
import type { Said } from "./commands";
import { JobList } from "./JobList";
import { finishedJobs } from "./liveQueue";
import { StateLabel } from "./StateLabel";

interface BatchCardProps {
  batch: Batch;
  onAnswer: (batch: Batch) => void;
  /** Whether its jobs show; kept by the page, as the batch may move between lists. */
  open: boolean;
  onToggle: () => void;
  said: Said | null;
  onSaid: (said: Said | null) => void;
}

/** One batch: its state, how far it got, Cancel or Retry, its canvas, and its jobs when
 * opened. */
export function BatchCard({ batch, onAnswer, open, onToggle, said, onSaid }: BatchCardProps) {
  const headingId = useId();
  const jobsId = useId();
  const name = batchName(batch.id);
  const finished = finishedJobs(batch.counts);
  const progressText = `${String(finished)} of ${String(batch.total)} jobs finished`;
  const created = formatWhen(batch.created_at);

  return (
    <li className="batch-card" data-batch-id={batch.id} aria-labelledby={headingId}>
      <div className="batch-head">
        <h3 id={headingId} className="batch-name">
          {name}
        </h3>
        <StateLabel state={batch.state} />
        {batch.priority === "urgent" && <span className="priority">Urgent</span>}
      </div>
      <div className="batch-progress">
        <progress
          value={finished}
          max={Math.max(batch.total, 1)}
          aria-label={`Progress of ${name}`}
          aria-valuetext={progressText}
        />
        <span>{progressText}</span>
      </div>
      <p className="meta">
        {countsSummary(batch.counts)}
        {created !== "" && ` · submitted ${created}`}
      </p>
      <div className="batch-controls">
        <button
          type="button"
          aria-expanded={open}
          aria-controls={open ? jobsId : undefined}
          aria-label={`${open ? "Hide" : "Show"} jobs of ${name}`}
          onClick={onToggle}
        >
          {open ? "Hide jobs" : "Show jobs"}
        </button>
        {batch.canvas_id !== "" && (
          <Link
            className="canvas-link"
            to={`/canvases/${encodeURIComponent(batch.canvas_id)}`}
            aria-label={`Open canvas of ${name}`}
          >
            Open canvas
          </Link>
        )}
        <BatchActions batch={batch} onAnswer={onAnswer} onSaid={onSaid} />
        {/* Always there, so what a command did is announced as it is written in. */}
        <p role="status" className="outcome">
          {said?.ok === true ? said.text : ""}
        </p>
        {said?.ok === false && (
          <p role="alert" className="error outcome">
            {said.text}
          </p>
        )}
      </div>
      {open && <JobList id={jobsId} batchId={batch.id} batchName={name} />}
    </li>
  );
}

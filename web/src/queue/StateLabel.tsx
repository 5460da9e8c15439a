import type { BatchState, JobState } from "../api/batches";
import { stateShown } from "./batchWords";

/** A batch's or a job's state: a word, a mark and a colour. */
export function StateLabel({ state }: { state: BatchState | JobState }) {
  const { label, mark } = stateShown(state);
  return (
    <span className={`state-label state-${state}`} data-state={state}>
      <span className="state-mark" aria-hidden="true">
        {mark}
      </span>
      {label}
    </span>
  );
}

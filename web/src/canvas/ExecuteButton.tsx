import { useMutation } from "@tanstack/react-query";

import { execute, type Execution } from "../api/canvases";
import { ErrorAlert } from "../app/ErrorAlert";
import type { SavedVersion } from "../saving/autosave";

export interface ExecuteButtonProps {
  canvasId: string;
  /** Saves what is drawn first: Execute runs the version that holds it. */
  flush: () => Promise<SavedVersion>;
  disabled: boolean;
  onExecuted: (execution: Execution) => void;
}

/** Execute: save, then run that version; the nodes' states then come live. */
export function ExecuteButton({ canvasId, flush, disabled, onExecuted }: ExecuteButtonProps) {
  const run = useMutation({
    mutationFn: async () => {
      const saved = await flush();
      return execute(canvasId, saved.number);
    },
    onSuccess: onExecuted,
  });
  return (
    <>
      <button
        type="button"
        className="primary"
        disabled={disabled || run.isPending}
        onClick={() => {
          run.mutate();
        }}
      >
        {run.isPending ? "Executing…" : "Execute"}
      </button>
      <ErrorAlert error={run.error} prefix="Not executed: " />
    </>
  );
}

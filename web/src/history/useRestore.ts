import { useMutation, useQueryClient } from "@tanstack/react-query";

import { getVersion, restoreVersion } from "../api/canvases";
import { EMPTY_GRAPH, type Graph } from "../api/graph";
import type { SavedVersion } from "../saving/autosave";
import { versionsKey } from "./historyQueries";

export interface RestoreInput {
  canvasId: string;
  /** Saves what is unsaved first: the restore is made on the version that holds it, so the
   * work of the moment stays in the history too. */
  flush: () => Promise<SavedVersion>;
  /** Shows the restored graph and saves on from its version. */
  restored: (version: number, graph: Graph) => void;
}

/** Restores a version (by its number) as a new version, and hands the result to saving. */
export function useRestore({ canvasId, flush, restored }: RestoreInput) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: async (number: number) => {
      const base = await flush();
      const made = await restoreVersion(canvasId, number, base.number);
      // The graph as the server saved it, so that autosave compares against exactly that.
      const { graph } = await getVersion(canvasId, made.number);
      return { version: made.number, graph: graph ?? EMPTY_GRAPH };
    },
    onSuccess: ({ version, graph }) => {
      restored(version, graph);
      void queries.invalidateQueries({ queryKey: versionsKey(canvasId) });
    },
  });
}

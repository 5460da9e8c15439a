import { createContext, useContext } from "react";

import type { NodeMark } from "./diffView";

/** The marks of a diff drawn on the editor, by node id; null while the editor shows the live
 * canvas. A context, so the node component reads its own mark without the editor's node data
 * knowing of diffs. */
export const DiffMarksContext = createContext<ReadonlyMap<string, NodeMark> | null>(null);

/** The diff mark of node `id`, when a diff is drawn and the node has one. */
export function useDiffMark(id: string): NodeMark | undefined {
  return useContext(DiffMarksContext)?.get(id);
}

// The canvas list as one paginated query, and the edits a page of it takes in place (a
// rename or a delete keeps the pages already loaded instead of reading them all again).

import type { InfiniteData, QueryClient } from "@tanstack/react-query";

import { listCanvases, type CanvasPage, type CanvasSummary } from "../api/canvases";
import { cursorPages } from "../app/queries";

export const CANVASES_KEY = ["canvas-list"] as const;

/** One open canvas (what `openCanvas` reads): removed when the canvas is deleted from here. */
export function canvasKey(canvasId: string) {
  return ["canvas", canvasId] as const;
}

export function sharesKey(canvasId: string) {
  return ["canvas-shares", canvasId] as const;
}

export const canvasListQuery = cursorPages(CANVASES_KEY, listCanvases);

type Pages = InfiniteData<CanvasPage, string>;

function editPages(
  queries: QueryClient,
  edit: (canvases: CanvasSummary[]) => CanvasSummary[],
): void {
  queries.setQueryData<Pages>(CANVASES_KEY, (pages) =>
    pages === undefined
      ? pages
      : {
          ...pages,
          pages: pages.pages.map((page) => ({ ...page, canvases: edit(page.canvases) })),
        },
  );
}

export function renamedInList(queries: QueryClient, id: string, name: string): void {
  editPages(queries, (canvases) =>
    canvases.map((canvas) => (canvas.id === id ? { ...canvas, name } : canvas)),
  );
}

export function removedFromList(queries: QueryClient, id: string): void {
  editPages(queries, (canvases) => canvases.filter((canvas) => canvas.id !== id));
}

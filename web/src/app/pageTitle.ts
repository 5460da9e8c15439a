import { useEffect } from "react";

const STUDIO = "Shotgraph Studio";

/** Names the browser tab after the page. */
export function usePageTitle(page: string): void {
  useEffect(() => {
    document.title = page === "" ? STUDIO : `${page} · ${STUDIO}`;
  }, [page]);
}

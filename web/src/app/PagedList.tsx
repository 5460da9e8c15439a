import type { UseInfiniteQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";

import { ErrorAlert } from "./ErrorAlert";

type PagedQuery = Pick<
  UseInfiniteQueryResult,
  | "isPending"
  | "isSuccess"
  | "error"
  | "isFetchNextPageError"
  | "hasNextPage"
  | "isFetchingNextPage"
  | "fetchNextPage"
>;

interface PagedListProps {
  /** The list's `useInfiniteQuery`. */
  list: PagedQuery;
  /** How many items the pages read so far hold. */
  count: number;
  /** What shows while the first page is read: "Loading canvases…". */
  loading: string;
  /** What shows once the list is known to be empty. */
  empty: ReactNode;
  /** The items, shown while there are any. */
  children: ReactNode;
}

/** A list the server answers a page at a time: loading, failing and empty, its items, and
 * "Load more" while there are more. A next page that fails says so by the button, below the
 * items already shown. */
export function PagedList({ list, count, loading, empty, children }: PagedListProps) {
  return (
    <>
      {list.isPending && <p className="status">{loading}</p>}
      {!list.isFetchNextPageError && <ErrorAlert error={list.error} />}
      {list.isSuccess && count === 0 && empty}
      {count > 0 && children}
      {list.hasNextPage && (
        <button
          type="button"
          className="load-more"
          disabled={list.isFetchingNextPage}
          aria-busy={list.isFetchingNextPage}
          onClick={() => {
            void list.fetchNextPage();
          }}
        >
          Load more
        </button>
      )}
      {list.isFetchNextPageError && <ErrorAlert error={list.error} />}
    </>
  );
}

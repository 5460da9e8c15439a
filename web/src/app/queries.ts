import { QueryClient } from "@tanstack/react-query";

import { ApiError, NetworkError } from "../api/http";

/** Whether a failed read is worth trying again by itself: a dropped connection or a server
 * error may pass; a 4xx will not (and 401s are already handled by signing in again). */
function passing(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  return error instanceof ApiError && error.status >= 500;
}

interface CursorPage {
  next_page_token: string;
}

/** The options of a `useInfiniteQuery` over one of the API's cursor-paginated lists: the first
 * page is asked for without a cursor, each next one with the `next_page_token` of the last, and
 * an empty token ends the list. */
export function cursorPages<Key extends readonly unknown[], Page extends CursorPage>(
  queryKey: Key,
  list: (cursor: string) => Promise<Page>,
) {
  return {
    queryKey,
    queryFn: ({ pageParam }: { pageParam: string }) => list(pageParam),
    initialPageParam: "",
    getNextPageParam: (last: Page) =>
      last.next_page_token === "" ? undefined : last.next_page_token,
  };
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (failures, error) => failures < 2 && passing(error),
        staleTime: 15_000,
      },
      mutations: { retry: false },
    },
  });
}

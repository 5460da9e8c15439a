import { QueryClient } from "@tanstack/react-query";

import { ApiError, NetworkError } from "../api/http";

/** Whether a failed read is worth trying again by itself: a dropped connection or a server
 * error may pass; a 4xx will not (and 401s are already handled by signing in again). */
function passing(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  return error instanceof ApiError && error.status >= 500;
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

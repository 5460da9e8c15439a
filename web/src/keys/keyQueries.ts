import { listKeys, type KeyPage } from "../api/keys";

export const KEYS_KEY = ["api-keys"] as const;

export const keyListQuery = {
  queryKey: KEYS_KEY,
  queryFn: ({ pageParam }: { pageParam: string }) => listKeys(pageParam),
  initialPageParam: "",
  getNextPageParam: (last: KeyPage) =>
    last.next_page_token === "" ? undefined : last.next_page_token,
};

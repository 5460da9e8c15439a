import { listKeys } from "../api/keys";
import { cursorPages } from "../app/queries";

export const KEYS_KEY = ["api-keys"] as const;

export const keyListQuery = cursorPages(KEYS_KEY, listKeys);

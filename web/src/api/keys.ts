// API keys: programs' credentials, managed from a signed-in session. The key itself is in
// the answer that creates it and never again; a list shows its prefix to recognise it by.

import { request } from "./http";

export type Scope = "read" | "write" | "admin";

/** Every scope, in the order they are offered; `admin` only to admins. */
export const SCOPES: readonly Scope[] = ["read", "write", "admin"];

export interface ApiKey {
  key_id: string;
  name: string;
  /** The key's first characters. */
  prefix: string;
  scopes: Scope[];
  created_at?: string;
  last_used_at?: string;
  expires_at?: string;
  revoked_at?: string;
}

export interface KeyPage {
  keys: ApiKey[];
  next_page_token: string;
}

/** A key just made: the only answer that carries `key`. */
export interface NewKey extends ApiKey {
  key: string;
}

export interface KeyRequest {
  name: string;
  scopes: Scope[];
  /** 1 to 3650; without it the key lives until revoked. */
  expires_in_days?: number;
}

const KEYS = "/v1/keys";

/** The caller's keys, newest first, revoked ones included. */
export function listKeys(cursor = ""): Promise<KeyPage> {
  const query = cursor === "" ? "" : `?cursor=${encodeURIComponent(cursor)}`;
  return request<KeyPage>("GET", `${KEYS}${query}`);
}

export function createKey(key: KeyRequest): Promise<NewKey> {
  return request<NewKey>("POST", KEYS, key);
}

export function revokeKey(keyId: string): Promise<void> {
  return request<undefined>("DELETE", `${KEYS}/${encodeURIComponent(keyId)}`);
}

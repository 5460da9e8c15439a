import { ApiError, request, setCsrfToken } from "./http";

export interface Identity {
  user_id: string;
  user_name: string;
  credential_kind: string;
  credential_id: string;
  scopes: string[];
  plan: string;
  expires_at: string | null;
}

export interface SessionAnswer {
  identity: Identity;
  csrf_token?: string;
}

/** Who is signed in (and a fresh CSRF token), or null when no one is: a 401. */
export async function currentSession(): Promise<Identity | null> {
  try {
    const answer = await request<SessionAnswer>("GET", "/v1/auth/session");
    setCsrfToken(answer.csrf_token);
    return answer.identity;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signIn(userName: string, password: string): Promise<Identity> {
  const answer = await request<SessionAnswer>("POST", "/v1/auth/login", {
    user_name: userName,
    password,
  });
  setCsrfToken(answer.csrf_token);
  return answer.identity;
}

/** Ends the session; one that had already ended (401) is signed out all the same. */
export async function signOut(): Promise<void> {
  try {
    await request<unknown>("POST", "/v1/auth/logout");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) throw error;
  }
  setCsrfToken(undefined);
}

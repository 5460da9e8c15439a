// Sign-up by invitation: the invited person picks a user name and a password, and is signed in.

import type { Identity, SessionAnswer } from "./auth";
import { request, setCsrfToken } from "./http";

/** The password rules of the auth service (services/auth/passwords.py). */
export const MIN_PASSWORD = 10;
export const MAX_PASSWORD = 256;

/** The user names the auth service accepts (services/auth/keys.py). */
export const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** What is wrong with `password` as a new password for `userName`, or null. */
export function passwordProblem(password: string, userName: string): string | null {
  if (password.length < MIN_PASSWORD) {
    return `Use at least ${String(MIN_PASSWORD)} characters.`;
  }
  if (password.length > MAX_PASSWORD) {
    return `Use at most ${String(MAX_PASSWORD)} characters.`;
  }
  if (userName !== "" && password.toLowerCase() === userName.toLowerCase()) {
    return "The password must not be the user name.";
  }
  return null;
}

/** What is wrong with `userName` as a new user name, or null. */
export function userNameProblem(userName: string): string | null {
  if (USER_NAME.test(userName)) return null;
  return "Use 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.";
}

/** Makes the invited account and signs it in. */
export async function acceptInvite(
  token: string,
  userName: string,
  password: string,
): Promise<Identity> {
  const answer = await request<SessionAnswer>("POST", "/v1/invites/accept", {
    token,
    user_name: userName,
    password,
  });
  setCsrfToken(answer.csrf_token);
  return answer.identity;
}

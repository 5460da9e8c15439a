import { ApiError, NetworkError } from "../api/http";

/** What went wrong, as one sentence a person can act on. */
export function describeError(error: unknown): string {
  if (error instanceof NetworkError) {
    return "The studio cannot reach the server. Check the connection and try again.";
  }
  if (error instanceof ApiError) return sentence(error.problem.detail ?? error.problem.title);
  if (error instanceof Error) return sentence(error.message);
  return "Something unexpected went wrong.";
}

/** `text` with a capital first letter and a full stop: problem details are lowercase clauses. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return "Something went wrong.";
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

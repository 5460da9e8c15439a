// How long the live connection waits before it connects again: exponential backoff with full
// jitter, as libs/live/backoff.py. The wait is uniform below a ceiling that doubles with each
// failed attempt, up to a cap, so a thousand browsers cut at once (a replica died, a network
// blinked) come back spread over that ceiling instead of all together.

export interface BackoffPolicy {
  /** The ceiling of the first wait. */
  readonly initialMs: number;
  /** No ceiling grows past this. */
  readonly maxMs: number;
  readonly multiplier: number;
  /** A connection that stayed live this long starts the growth over. */
  readonly healthyMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 250,
  maxMs: 15_000,
  multiplier: 2,
  healthyMs: 5_000,
};

// Past this many doublings every ceiling is the cap; bounding the exponent keeps it finite.
const MAX_EXPONENT = 64;

/** A policy checked once: a zero or negative wait would turn retries into a busy loop. */
export function backoffPolicy(overrides: Partial<BackoffPolicy> = {}): BackoffPolicy {
  const policy = { ...DEFAULT_BACKOFF, ...overrides };
  if (!(policy.initialMs > 0 && policy.initialMs <= policy.maxMs)) {
    throw new RangeError(`backoff needs 0 < initialMs <= maxMs, not ${JSON.stringify(policy)}`);
  }
  if (!(policy.multiplier >= 1 && policy.healthyMs >= 0)) {
    throw new RangeError(
      `backoff needs multiplier >= 1, healthyMs >= 0: ${JSON.stringify(policy)}`,
    );
  }
  return policy;
}

/** The longest wait before retry number `attempt` (0 for the first). */
export function backoffCeiling(policy: BackoffPolicy, attempt: number): number {
  const exponent = Math.min(Math.max(attempt, 0), MAX_EXPONENT);
  return Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** exponent);
}

/** The wait before retry number `attempt`: anywhere from nothing to its ceiling. `random`
 * returns a number in [0, 1), as Math.random does. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  return random() * backoffCeiling(policy, attempt);
}

// How often a running render is asked about: soon at first (a cached render is done at once,
// a small one in a second or two), then less and less often, never more than every 5 s.

const FIRST_MS = 300;
const GROWTH = 1.6;
const LONGEST_MS = 5_000;

/** The wait before the next look, after `looks` answers have come. */
export function pollDelay(looks: number): number {
  return Math.min(LONGEST_MS, Math.round(FIRST_MS * GROWTH ** Math.max(0, looks - 1)));
}

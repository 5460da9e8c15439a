// Who made a version, as far as this page can tell: versions name their author by user id,
// and nobody can list the studio's users. Names come from who was seen viewing the canvas and,
// for its owner, from whom it is shared with.

import type { Share } from "../api/canvases";

/** Every name this page knows, by user id. */
export function knownNames(
  seen: ReadonlyMap<string, string>,
  shares: readonly Share[] | undefined,
): ReadonlyMap<string, string> {
  const names = new Map(seen);
  for (const share of shares ?? []) names.set(share.user_id, share.user_name);
  return names;
}

/** "by you", "by Ada", or "by someone else" when the name is not known here. */
export function byline(authorId: string, self: string, names: ReadonlyMap<string, string>): string {
  if (authorId === self) return "by you";
  const name = names.get(authorId);
  return name === undefined ? "by someone else" : `by ${name}`;
}

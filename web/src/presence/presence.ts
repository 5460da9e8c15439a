// Who views a canvas, as the live connection tells it: a snapshot when the canvas topic is
// followed (again after every reconnect), then a join or a leave as people come and go.
// Fan-out counts people, not tabs: one user in three tabs joins once and leaves once.

import type { PresenceMessage, Viewer } from "../live";

export interface Presence {
  /** Who is here now, by user id. */
  readonly here: ReadonlyMap<string, string>;
  /** Every name heard since the page opened, by user id: names the authors of versions. */
  readonly known: ReadonlyMap<string, string>;
}

export const NOBODY: Presence = { here: new Map(), known: new Map() };

/** The viewers a (re)subscription answered with: they replace whoever was thought here. */
export function snapshot(presence: Presence, viewers: readonly Viewer[]): Presence {
  const here = new Map(viewers.map((viewer) => [viewer.user_id, viewer.user_name]));
  return { here, known: new Map([...presence.known, ...here]) };
}

/** One join or leave applied. */
export function changed(presence: Presence, change: PresenceMessage): Presence {
  const here = new Map(presence.here);
  if (change.action === "join") here.set(change.user_id, change.user_name);
  else here.delete(change.user_id);
  const known = new Map(presence.known).set(change.user_id, change.user_name);
  return { here, known };
}

/** The people here other than `self`, by name. */
export function othersThan(presence: Presence, self: string): Viewer[] {
  return [...presence.here]
    .filter(([userId]) => userId !== self)
    .map(([user_id, user_name]) => ({ user_id, user_name }))
    .sort((a, b) => a.user_name.localeCompare(b.user_name) || a.user_id.localeCompare(b.user_id));
}

// Letters as a reader sees them: "É" typed as E and a combining accent is one.
const LETTERS = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Up to two letters for an avatar: "Ada Lovelace" → "AL", "grace" → "G". */
export function initialsOf(name: string): string {
  const words = name.trim().split(/[\s._-]+/u).filter((word) => word !== "");
  const letters = words.slice(0, 2).map((word) => LETTERS.segment(word)[Symbol.iterator]().next().value?.segment ?? "");
  return letters.join("").toUpperCase() || "?";
}

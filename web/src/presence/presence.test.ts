import { describe, expect, it } from "vitest";

import type { PresenceMessage } from "../live";
import { changed, initialsOf, NOBODY, othersThan, snapshot } from "./presence";

const me = { user_id: "u-me", user_name: "Me" };
const ann = { user_id: "u-ann", user_name: "Ann Jones" };
const bob = { user_id: "u-bob", user_name: "bob" };

function presence(action: "join" | "leave", viewer: { user_id: string; user_name: string }): PresenceMessage {
  return { type: "presence", topic: "canvas:c1", action, ...viewer };
}

describe("who views the canvas", () => {
  it("starts from the snapshot a subscription answers with, the person themself left out", () => {
    const now = snapshot(NOBODY, [me, ann]);
    expect(othersThan(now, me.user_id)).toEqual([ann]);
  });

  it("adds who joins and drops who leaves, sorted by name", () => {
    let now = snapshot(NOBODY, [me]);
    now = changed(now, presence("join", bob));
    now = changed(now, presence("join", ann));
    expect(othersThan(now, me.user_id)).toEqual([ann, bob]);
    now = changed(now, presence("leave", ann));
    expect(othersThan(now, me.user_id)).toEqual([bob]);
    now = changed(now, presence("leave", ann)); // told twice: still gone, nothing else changes
    expect(othersThan(now, me.user_id)).toEqual([bob]);
  });

  it("takes a new snapshot (after a reconnect) over whatever it thought", () => {
    let now = changed(snapshot(NOBODY, [me, ann]), presence("join", bob));
    now = snapshot(now, [me, bob]);
    expect(othersThan(now, me.user_id)).toEqual([bob]);
  });

  it("remembers the name of everyone seen, gone or not, to name who made a version", () => {
    let now = snapshot(NOBODY, [me, ann]);
    now = changed(now, presence("leave", ann));
    now = snapshot(now, [me]);
    expect(now.known.get(ann.user_id)).toBe("Ann Jones");
    expect(now.here.has(ann.user_id)).toBe(false);
  });

  it("makes initials of up to two words", () => {
    expect(["Ann Jones", "bob", "grace.hopper", "  ", "Élodie von Trapp"].map(initialsOf)).toEqual([
      "AJ",
      "B",
      "GH",
      "?",
      "ÉV",
    ]);
  });
});

import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useLayoutEffect, useRef, useState } from "react";

import { listShares, type Access } from "../api/canvases";
import { ConfirmDialog } from "../app/ConfirmDialog";
import { PagedList } from "../app/PagedList";
import { sharesKey } from "../canvases/canvasQueries";
import { byline, knownNames } from "./authors";
import { pairOf, versionsKey, versionsQuery, type VersionPair } from "./historyQueries";
import type { useRestore } from "./useRestore";
import { VersionRow } from "./VersionRow";
import "./history.css";

export const HISTORY_PANEL_ID = "canvas-history";

export interface HistoryPanelProps {
  canvasId: string;
  access: Access;
  /** The version the editor's graph is based on: the list is read again when it moves. */
  currentVersion: number;
  /** The signed-in person's user id. */
  self: string;
  /** Names seen on this canvas, by user id. */
  seen: ReadonlyMap<string, string>;
  /** The pair the editor shows the diff of, if any. */
  comparing: VersionPair | null;
  onCompare: (pair: VersionPair) => void;
  restore: ReturnType<typeof useRestore>;
  onClose: () => void;
}

/** The canvas's versions, newest first: pick two to see their diff on the graph, or restore
 * one as a new version. */
export function HistoryPanel(props: HistoryPanelProps) {
  const { canvasId, access, currentVersion, self, seen, comparing, onCompare, restore, onClose } = props;
  const queries = useQueryClient();
  const list = useInfiniteQuery(versionsQuery(canvasId));
  const shares = useQuery({
    queryKey: sharesKey(canvasId),
    queryFn: () => listShares(canvasId),
    enabled: access === "owner",
  });
  const [picked, setPicked] = useState<number[]>(() => (comparing === null ? [] : [comparing.newer, comparing.older]));
  const [restoring, setRestoring] = useState<number | null>(null);

  // Opened: keyboard focus moves into the drawer, and back where it was when it closes.
  const panel = useRef<HTMLElement>(null);
  useLayoutEffect(() => {
    const before = document.activeElement;
    const drawer = panel.current;
    drawer?.focus();
    return () => {
      const inside = drawer?.contains(document.activeElement) ?? false;
      if (inside && before instanceof HTMLElement && before.isConnected) before.focus();
    };
  }, []);

  // A save (or a restore) made a version since the list was read.
  const listedFor = useRef(currentVersion);
  useEffect(() => {
    if (listedFor.current === currentVersion) return;
    listedFor.current = currentVersion;
    void queries.invalidateQueries({ queryKey: versionsKey(canvasId) });
  }, [canvasId, currentVersion, queries]);

  const versions = list.data?.pages.flatMap((page) => page.versions) ?? [];
  const names = knownNames(seen, shares.data);
  const canRestore = access !== "read";
  const [first, second] = picked;

  return (
    // A region, not an aside: a complementary landmark may not sit inside the page's main.
    <section
      className="history-panel"
      id={HISTORY_PANEL_ID}
      aria-labelledby={`${HISTORY_PANEL_ID}-title`}
      tabIndex={-1}
      ref={panel}
    >
      <div className="history-head">
        <h2 id={`${HISTORY_PANEL_ID}-title`}>History</h2>
        <button type="button" className="history-close" onClick={onClose}>
          Close<span className="sg-visually-hidden"> history</span>
        </button>
      </div>
      <p className="history-hint" id={`${HISTORY_PANEL_ID}-hint`}>
        Pick two versions to see what changed between them.
      </p>
      <button
        type="button"
        className="primary history-compare"
        disabled={first === undefined || second === undefined}
        aria-describedby={`${HISTORY_PANEL_ID}-hint`}
        onClick={() => {
          if (first !== undefined && second !== undefined) onCompare(pairOf(first, second));
        }}
      >
        {first !== undefined && second !== undefined
          ? `Compare ${String(Math.min(first, second))} and ${String(Math.max(first, second))}`
          : "Compare"}
      </button>
      <PagedList
        list={list}
        count={versions.length}
        loading="Loading versions…"
        empty={<p className="status empty">No versions yet: the first save makes one.</p>}
      >
        <ul className="history-list" aria-label="Versions">
          {versions.map((version) => (
            <VersionRow
              key={version.number}
              version={version}
              byline={byline(version.author_id, self, names)}
              current={version.number === currentVersion}
              picked={picked.includes(version.number)}
              pickable={picked.length < 2}
              onPick={(pick) => {
                setPicked((now) =>
                  pick ? [...now, version.number].slice(-2) : now.filter((n) => n !== version.number),
                );
              }}
              onRestore={
                canRestore && version.number !== currentVersion
                  ? () => {
                      restore.reset();
                      setRestoring(version.number);
                    }
                  : undefined
              }
            />
          ))}
        </ul>
      </PagedList>
      {restoring !== null && (
        <ConfirmDialog
          title={`Restore version ${String(restoring)}?`}
          confirmLabel="Restore"
          pending={restore.isPending}
          error={restore.error}
          onCancel={() => {
            setRestoring(null);
          }}
          onConfirm={() => {
            restore.mutate(restoring, {
              onSuccess: () => {
                setRestoring(null);
              },
            });
          }}
        >
          <p>
            The canvas becomes what it was in version {restoring}, saved as a new version. Nothing is lost: what is
            on the canvas now is saved first and stays in the history.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

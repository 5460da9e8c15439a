// The editor's side panels on a narrow screen. Wide, the palette and the properties stand
// beside the canvas all the time; narrower (a tablet, layout.css says where), each is a drawer
// its toggle opens; on a phone they are sheets under the canvas, one at a time, so the graph
// keeps the rest of the screen.

import { useCallback, useState, useSyncExternalStore } from "react";

export type PanelName = "palette" | "properties";

/** Where panels become sheets shown one at a time: the phone layout of layout.css (keep the
 * two in step). */
export const ONE_PANEL_QUERY = "(max-width: 600px)";

/** The open panels, the most recently opened last. */
export type OpenPanels = readonly PanelName[];

/** `open` with `name` opened (to the end) or, when it was open, closed. */
export function togglePanel(open: OpenPanels, name: PanelName): OpenPanels {
  return open.includes(name) ? open.filter((panel) => panel !== name) : [...open, name];
}

/** The panels shown: all those open, or only the last opened where one fits at a time. */
export function shownPanels(open: OpenPanels, onePerScreen: boolean): ReadonlySet<PanelName> {
  return new Set(onePerScreen ? open.slice(-1) : open);
}

/** Whether a media query matches now, following it as the window changes. */
export function useMediaQuery(query: string): boolean {
  const subscribe = useCallback(
    (onChange: () => void) => {
      const list = window.matchMedia(query);
      list.addEventListener("change", onChange);
      return () => {
        list.removeEventListener("change", onChange);
      };
    },
    [query],
  );
  return useSyncExternalStore(subscribe, () => window.matchMedia(query).matches);
}

export interface Panels {
  /** Shown now (on a wide screen layout.css shows both whatever this says). */
  shown: ReadonlySet<PanelName>;
  toggle: (name: PanelName) => void;
}

/** Which drawers are open; on a phone opening one closes the other. */
export function usePanels(): Panels {
  const onePerScreen = useMediaQuery(ONE_PANEL_QUERY);
  const [open, setOpen] = useState<OpenPanels>([]);
  const toggle = useCallback(
    (name: PanelName) => {
      setOpen((now) => togglePanel(onePerScreen ? now.slice(-1) : now, name));
    },
    [onePerScreen],
  );
  return { shown: shownPanels(open, onePerScreen), toggle };
}

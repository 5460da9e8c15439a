import { Panel } from "@xyflow/react";

import type { PanelName, Panels } from "./panels";

interface PanelTogglesProps {
  panels: Panels;
  /** The id of each panel's element, for `aria-controls`; a panel not shown has no toggle. */
  ids: Partial<Record<PanelName, string>>;
}

const LABELS: Record<PanelName, string> = { palette: "Add node", properties: "Properties" };

/** The buttons that open and close the side panels where they are drawers, floating on the
 * canvas's corner so that they take none of its height (layout.css hides them where the panels
 * always show). Inside the React Flow canvas. */
export function PanelToggles({ panels, ids }: PanelTogglesProps) {
  const names = (Object.keys(LABELS) as PanelName[]).filter((name) => ids[name] !== undefined);
  return (
    <Panel position="top-right" className="sg-panel-toggles" role="group" aria-label="Panels">
      {names.map((name) => (
        <button
          key={name}
          type="button"
          aria-expanded={panels.shown.has(name)}
          aria-controls={ids[name]}
          onClick={() => {
            panels.toggle(name);
          }}
        >
          {LABELS[name]}
        </button>
      ))}
    </Panel>
  );
}

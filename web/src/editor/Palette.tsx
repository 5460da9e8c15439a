import { memo, type DragEvent } from "react";

import type { NodeType } from "../api/graph";

/** The drag payload of a palette button: the node type's name. */
export const NODE_TYPE_MIME = "application/x-shotgraph-node-type";

interface PaletteProps {
  types: readonly NodeType[];
  id?: string;
  /** Opened as a drawer, where the layout makes it one. */
  open?: boolean;
  /** A click: add a node of this type where the user is looking. */
  onAdd: (typeName: string) => void;
}

function startDrag(event: DragEvent<HTMLButtonElement>, typeName: string) {
  event.dataTransfer.setData(NODE_TYPE_MIME, typeName);
  event.dataTransfer.effectAllowed = "copy";
}

/** Every node type, as a button to click (adds at the viewport's centre) or drag onto the
 * canvas (adds where it is dropped). */
export const Palette = memo(function Palette({ types, id, open = false, onAdd }: PaletteProps) {
  return (
    <section
      id={id}
      className={open ? "sg-palette is-open" : "sg-palette"}
      role="region"
      aria-label="Node palette"
    >
      <h2 className="sg-panel-title">Add</h2>
      <ul>
        {types.map((type) => (
          <li key={type.name}>
            <button
              type="button"
              className={`sg-palette__item sg-node--${type.name}`}
              draggable
              title={type.description}
              onDragStart={(event) => {
                startDrag(event, type.name);
              }}
              onClick={() => {
                onAdd(type.name);
              }}
            >
              {type.title}
            </button>
          </li>
        ))}
      </ul>
      <p className="sg-hint">Click or tap to add, or drag onto the canvas.</p>
    </section>
  );
});

import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";

import { usePageTitle } from "../app/pageTitle";
import { PagedList } from "../app/PagedList";
import { canvasListQuery } from "./canvasQueries";
import { CanvasRow } from "./CanvasRow";
import { NewCanvasForm } from "./NewCanvasForm";
import "./canvases.css";

/** `/`: the canvases the person owns or was shared, newest first, a page at a time. */
export function CanvasList() {
  usePageTitle("Canvases");
  const [creating, setCreating] = useState(false);
  const list = useInfiniteQuery(canvasListQuery);
  const canvases = list.data?.pages.flatMap((page) => page.canvases) ?? [];

  return (
    <section className="canvases-page">
      <div className="page-head">
        <h1>Canvases</h1>
        {!creating && (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            New canvas
          </button>
        )}
      </div>
      {creating && (
        <NewCanvasForm
          onCancel={() => {
            setCreating(false);
          }}
        />
      )}
      <PagedList
        list={list}
        count={canvases.length}
        loading="Loading canvases…"
        empty={
          <p className="status empty">No canvases yet. Make the first with “New canvas”.</p>
        }
      >
        <ul className="row-list" aria-label="Your canvases">
          {canvases.map((canvas) => (
            <CanvasRow key={canvas.id} canvas={canvas} />
          ))}
        </ul>
      </PagedList>
    </section>
  );
}

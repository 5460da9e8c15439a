// @vitest-environment happy-dom
// happy-dom has no WebGL, as a browser without it: the viewer says `no-webgl`, shows the PNG,
// and neither fetches the GLB nor loads three.js.
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import ModelViewer from "./ModelViewer";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function viewerRoot(container: HTMLElement): HTMLElement {
  const root = container.querySelector<HTMLElement>("[data-viewer-state]");
  if (root === null) throw new Error("no viewer root");
  return root;
}

describe("ModelViewer without WebGL", () => {
  it("shows the PNG in the model's name, and fetches nothing", () => {
    const fetched = vi.fn();
    vi.stubGlobal("fetch", fetched);
    const { container } = render(
      <ModelViewer glbUrl="/v1/renders/r1/glb" fallbackPngUrl="/v1/renders/r1/png" label="Barn" />,
    );
    const root = viewerRoot(container);
    expect(root.dataset.viewerState).toBe("no-webgl");
    expect(root.dataset.frames).toBe("0");
    expect(screen.getByRole("img", { name: "Barn" }).getAttribute("src")).toBe(
      "/v1/renders/r1/png",
    );
    expect(container.querySelector("canvas")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByText(/cannot show 3D here/)).toBeTruthy();
    expect(fetched).not.toHaveBeenCalled();
  });

  it("says so without a PNG to show instead", () => {
    const { container } = render(<ModelViewer glbUrl="/v1/renders/r1/glb" label="Barn" />);
    expect(viewerRoot(container).dataset.viewerState).toBe("no-webgl");
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText(/cannot show 3D here/)).toBeTruthy();
  });

  it("starts again for another GLB, and leaves nothing behind when unmounted", () => {
    const view = render(<ModelViewer glbUrl="/v1/renders/r1/glb" label="Barn" />);
    view.rerender(<ModelViewer glbUrl="/v1/renders/r2/glb" label="Barn" />);
    expect(viewerRoot(view.container).dataset.viewerState).toBe("no-webgl");
    view.unmount();
    expect(view.container.innerHTML).toBe("");
  });
});

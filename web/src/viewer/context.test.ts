// @vitest-environment happy-dom
// Which context a viewer draws with. happy-dom has no WebGL: each canvas gets a stand-in
// context that answers the renderer's name and can be lost (the browser tests draw for real).
import { afterEach, describe, expect, it, vi } from "vitest";

import { isSoftwareRenderer, viewerContext } from "./context";

afterEach(() => {
  vi.restoreAllMocks();
});

interface StandIn {
  attributes: WebGLContextAttributes | undefined;
  lost: boolean;
}

/** Every canvas's getContext answers a stand-in of a GPU named `gpu`; the stand-ins made. */
function gpuNamed(gpu: string): StandIn[] {
  const made: StandIn[] = [];
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(
    (_kind: string, attributes?: unknown) => {
      const record: StandIn = { attributes: attributes as WebGLContextAttributes, lost: false };
      made.push(record);
      const context = {
        RENDERER: 0x1f01,
        getParameter: () => gpu,
        getExtension: (name: string) =>
          name === "WEBGL_lose_context"
            ? {
                loseContext: () => {
                  record.lost = true;
                },
              }
            : null,
      };
      return context as unknown as RenderingContext;
    },
  );
  return made;
}

describe("isSoftwareRenderer", () => {
  it("knows the renderers that draw on the CPU", () => {
    for (const name of [
      "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)",
      "llvmpipe (LLVM 15.0.6, 256 bits)",
      "Mesa softpipe",
      "Microsoft Basic Render Driver",
    ]) {
      expect(isSoftwareRenderer(name)).toBe(true);
    }
    for (const name of ["ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11)", "Apple M2", ""]) {
      expect(isSoftwareRenderer(name)).toBe(false);
    }
  });
});

describe("viewerContext", () => {
  it("multisamples on a GPU", () => {
    const made = gpuNamed("Apple M2");
    const canvases: HTMLCanvasElement[] = [];
    const got = viewerContext(() => {
      canvases.push(document.createElement("canvas"));
      return canvases.at(-1) as HTMLCanvasElement;
    });
    expect(got?.canvas).toBe(canvases[0]);
    expect(made.map((m) => [m.attributes?.antialias, m.lost])).toEqual([[true, false]]);
  });

  it("lets the multisampled context go for a plain one where the CPU draws", () => {
    const made = gpuNamed("ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)))");
    const canvases: HTMLCanvasElement[] = [];
    const got = viewerContext(() => {
      canvases.push(document.createElement("canvas"));
      return canvases.at(-1) as HTMLCanvasElement;
    });
    expect(canvases).toHaveLength(2);
    expect(got?.canvas).toBe(canvases[1]);
    expect(made.map((m) => [m.attributes?.antialias, m.lost])).toEqual([
      [true, true],
      [false, false],
    ]);
    expect(made[1]?.attributes?.alpha).toBe(true);
  });

  it("is null without WebGL 2", () => {
    vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockReturnValue(null);
    expect(viewerContext(() => document.createElement("canvas"))).toBeNull();
  });
});

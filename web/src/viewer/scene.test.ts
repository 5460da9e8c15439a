// @vitest-environment happy-dom
// The three.js side without a GPU: GLBs parsed with their own materials, frames drawn only
// when asked for, and everything freed. The renderer is a stand-in (happy-dom has no WebGL;
// the browser tests draw for real).
import {
  Box3,
  Group,
  Mesh,
  MeshStandardMaterial,
  PerspectiveCamera,
  SRGBColorSpace,
  Vector3,
  type Object3D,
} from "three";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ViewerFailure } from "./failure";
import { disposeObject, ModelScene, parseGlb, type ModelRenderer } from "./scene";
import { glb, squaresGlb } from "./testGlb";

const RED: [number, number, number] = [1, 0, 0];
const BLUE: [number, number, number] = [0.0144, 0.0802, 0.7454];

function meshesOf(root: Object3D): Mesh[] {
  const found: Mesh[] = [];
  root.traverse((object) => {
    if (object instanceof Mesh) found.push(object as Mesh);
  });
  return found;
}

function standInRenderer() {
  return {
    outputColorSpace: "",
    render: vi.fn(),
    setSize: vi.fn(),
    setPixelRatio: vi.fn(),
    setClearColor: vi.fn(),
    dispose: vi.fn(),
    forceContextLoss: vi.fn(),
  } satisfies ModelRenderer;
}

/** Resolves after `count` animation frames. */
async function frames(count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

const scenes: ModelScene[] = [];
afterEach(() => {
  for (const scene of scenes.splice(0)) scene.dispose();
});

function sceneOn(renderer = standInRenderer()) {
  const canvas = document.createElement("canvas");
  document.body.append(canvas);
  const onFrame = vi.fn();
  const scene = new ModelScene(canvas, renderer, { onFrame });
  scenes.push(scene);
  scene.resize(400, 300);
  return { canvas, scene, renderer, onFrame };
}

describe("parseGlb", () => {
  it("keeps the model's own materials: each colour's baseColorFactor, matte, not metal", async () => {
    const model = await parseGlb(squaresGlb([RED, BLUE]));
    const materials = meshesOf(model).map((mesh) => mesh.material as MeshStandardMaterial);
    expect(materials).toHaveLength(2);
    // glTF colours are linear, and so are three's material colours: the same numbers.
    expect(materials.map((m) => m.color.toArray())).toEqual([RED, BLUE]);
    for (const material of materials) {
      expect(material).toBeInstanceOf(MeshStandardMaterial);
      expect(material.metalness).toBe(0);
      expect(material.roughness).toBeCloseTo(0.8);
    }
  });

  it("refuses bytes that are not a GLB, saying so", async () => {
    const garbage = new TextEncoder().encode("<html>not a model</html>").buffer;
    await expect(parseGlb(garbage)).rejects.toThrow(
      new ViewerFailure("the file is not a GLB model"),
    );
    await expect(parseGlb(new ArrayBuffer(3))).rejects.toThrow("the file is not a GLB model");
  });

  it("refuses a GLB whose glTF cannot be read, with the loader's reason", async () => {
    const broken = glb('{"asset": {"version": "1.0"}}', new ArrayBuffer(0));
    await expect(parseGlb(broken)).rejects.toThrow(/^the GLB could not be read \(.+\)$/);
  });
});

describe("ModelScene", () => {
  it("draws in sRGB once when shown, and not again while nothing moves", async () => {
    const { scene, renderer, onFrame } = sceneOn();
    expect(renderer.outputColorSpace).toBe(SRGBColorSpace);
    scene.show(await parseGlb(squaresGlb([RED])));
    await frames(6);
    expect(renderer.render).toHaveBeenCalledTimes(1);
    expect(onFrame.mock.calls).toEqual([[1]]);
  });

  it("asks for one frame however many times it is asked before the next", async () => {
    const { scene, renderer } = sceneOn();
    scene.show(await parseGlb(squaresGlb([RED])));
    scene.requestFrame();
    scene.resize(500, 400);
    scene.requestFrame();
    await frames(3);
    expect(renderer.render).toHaveBeenCalledTimes(1);
  });

  it("frames the model: every corner of its box in view, the box filling most of it", async () => {
    const { scene, renderer } = sceneOn();
    const model = await parseGlb(squaresGlb([RED, BLUE, RED]));
    scene.show(model);
    await frames(1);
    const camera = renderer.render.mock.calls[0]?.[1] as PerspectiveCamera;
    const box = new Box3().setFromObject(model);
    const corners = [box.min.x, box.max.x].flatMap((x) =>
      [box.min.y, box.max.y].flatMap((y) =>
        [box.min.z, box.max.z].map((z) => new Vector3(x, y, z).project(camera)),
      ),
    );
    const reach = Math.max(...corners.flatMap((c) => [Math.abs(c.x), Math.abs(c.y)]));
    expect(reach).toBeLessThan(1);
    expect(reach).toBeGreaterThan(0.75);
  });

  it("turns the view a step per arrow key, one frame each, and zooms with + and -", async () => {
    const { canvas, scene, renderer } = sceneOn();
    const model = await parseGlb(squaresGlb([RED]));
    scene.show(model);
    await frames(2);
    const camera = renderer.render.mock.calls[0]?.[1] as PerspectiveCamera;
    const target = new Box3().setFromObject(model).getCenter(new Vector3());
    const first = camera.position.clone();
    const press = (key: string) => {
      const event = new KeyboardEvent("keydown", { key, cancelable: true });
      canvas.dispatchEvent(event);
      return event;
    };
    expect(press("ArrowLeft").defaultPrevented).toBe(true); // the page does not scroll
    await frames(4);
    expect(renderer.render).toHaveBeenCalledTimes(2);
    const turned = camera.position.clone();
    expect(turned.distanceTo(first)).toBeGreaterThan(0);
    expect(turned.distanceTo(target)).toBeCloseTo(first.distanceTo(target), 6);

    press("+");
    await frames(2);
    expect(camera.position.distanceTo(target)).toBeCloseTo(turned.distanceTo(target) / 1.25, 6);
    press("Home");
    await frames(2);
    expect(camera.position.distanceTo(first)).toBeCloseTo(0, 6);
    expect(renderer.render).toHaveBeenCalledTimes(4);
  });

  it("leaves keys it does not use to the page", async () => {
    const { canvas, scene } = sceneOn();
    scene.show(await parseGlb(squaresGlb([RED])));
    const tab = new KeyboardEvent("keydown", { key: "Tab", cancelable: true });
    canvas.dispatchEvent(tab);
    expect(tab.defaultPrevented).toBe(false);
  });

  it("refuses a model with nothing to draw", () => {
    const { scene } = sceneOn();
    expect(() => {
      scene.show(new Group());
    }).toThrow(new ViewerFailure("the model holds nothing to draw"));
  });

  it("frees the model, the renderer and its context, and draws no more, once disposed", async () => {
    const { canvas, scene, renderer } = sceneOn();
    const model = await parseGlb(squaresGlb([RED, BLUE]));
    const freed: string[] = [];
    for (const mesh of meshesOf(model)) {
      mesh.geometry.addEventListener("dispose", () => freed.push("geometry"));
      (mesh.material as MeshStandardMaterial).addEventListener("dispose", () =>
        freed.push("material"),
      );
    }
    scene.show(model);
    scene.dispose();
    expect(freed.sort()).toEqual(["geometry", "geometry", "material", "material"]);
    expect(renderer.dispose).toHaveBeenCalledOnce();
    expect(renderer.forceContextLoss).toHaveBeenCalledOnce();
    canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft" }));
    scene.requestFrame();
    await frames(3);
    expect(renderer.render).not.toHaveBeenCalled(); // the frame asked for by show was dropped
  });
});

describe("disposeObject", () => {
  it("frees every mesh's geometry and material under a root", async () => {
    const model = await parseGlb(squaresGlb([RED, BLUE]));
    const disposed = vi.fn();
    for (const mesh of meshesOf(model)) {
      mesh.geometry.addEventListener("dispose", disposed);
      (mesh.material as MeshStandardMaterial).addEventListener("dispose", disposed);
    }
    disposeObject(model);
    expect(disposed).toHaveBeenCalledTimes(4);
  });
});

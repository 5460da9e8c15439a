// The three.js side of the viewer, in a chunk of its own (imported only once a viewer has a
// WebGL context): a GLB parsed with its own materials, lit so that a face turned to the light
// shows the colour that was picked, framed by its bounding box, and drawn only when something
// changed.
//
// The render service's GLBs (services/render/meshes.py) hold one mesh with a primitive per
// colour, each with a PBR material: baseColorFactor in linear RGB, metallic 0, roughness 0.8,
// flat normals, metres, Y up, the OpenSCAD front facing +Z. GLTFLoader reads baseColorFactor
// as linear, and an sRGB output turns it back into the sRGB the person picked.

import {
  Box3,
  DirectionalLight,
  HemisphereLight,
  Material,
  Mesh,
  PerspectiveCamera,
  Scene,
  Sphere,
  SRGBColorSpace,
  Texture,
  Vector3,
  WebGLRenderer,
  type Object3D,
} from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";

import { viewActionFor } from "./keys";
import { ViewerFailure } from "./failure";

/** What the scene needs of a renderer: a WebGLRenderer, or a stand-in in tests. */
export type ModelRenderer = Pick<
  WebGLRenderer,
  "render" | "setSize" | "setPixelRatio" | "setClearColor" | "dispose" | "forceContextLoss"
> & { outputColorSpace: WebGLRenderer["outputColorSpace"] };

export interface SceneHooks {
  /** After each frame drawn, with how many have been drawn so far. */
  readonly onFrame: (frames: number) => void;
}

// The first view: in front of the model (+Z), to its right and above, as a person looks at a
// set piece on a table.
const VIEW_DIRECTION = new Vector3(0.55, 0.5, 1).normalize();
const FIELD_OF_VIEW = 35; // degrees, vertical
const MARGIN = 1.05; // the model's box fills the first view but for this margin
// Light that keeps a colour's hue: a white sky over a grey ground for the faces turned away,
// and a white key light from behind the viewer's right shoulder, which turns with the camera
// so the faces in view are lit whichever way the model is turned. No tone mapping: a pure red
// stays pure red, only darker on faces turned from the light.
const SKY = 0xffffff;
const GROUND = 0x707070;
const SKY_INTENSITY = 1.6;
const KEY_INTENSITY = 2.4;
const KEY_FROM = new Vector3(0.6, 0.9, 1); // in the camera's space
const GLB_MAGIC = 0x46546c67; // "glTF", little-endian

/** Debian's Chromium and any other browser: the renderer on the viewer's own context. */
export function createRenderer(
  canvas: HTMLCanvasElement,
  context: WebGL2RenderingContext,
): ModelRenderer {
  return new WebGLRenderer({ canvas, context });
}

/** The model a GLB holds; a ViewerFailure saying why when the bytes are not one. */
export async function parseGlb(bytes: ArrayBuffer): Promise<Object3D> {
  if (bytes.byteLength < 12 || new DataView(bytes).getUint32(0, true) !== GLB_MAGIC) {
    throw new ViewerFailure("the file is not a GLB model");
  }
  try {
    const gltf = await new GLTFLoader().parseAsync(bytes, "");
    return gltf.scene;
  } catch (error) {
    const detail = error instanceof Error ? ` (${error.message})` : "";
    throw new ViewerFailure(`the GLB could not be read${detail}`);
  }
}

/** Frees what `root` holds on the GPU: every mesh's geometry, its materials and their
 * textures. Three.js frees nothing by itself when an object leaves the scene. */
export function disposeObject(root: Object3D): void {
  root.traverse((object) => {
    if (!(object instanceof Mesh)) return;
    (object.geometry as Mesh["geometry"]).dispose();
    const materials: unknown[] = Array.isArray(object.material)
      ? (object.material as unknown[])
      : [object.material];
    for (const material of materials) {
      if (!(material instanceof Material)) continue;
      for (const value of Object.values(material)) {
        if (value instanceof Texture) value.dispose();
      }
      material.dispose();
    }
  });
}

/** One model on one canvas. Draws a frame when asked (`requestFrame`: the controls moved, the
 * canvas was resized, a key was pressed), never in a loop of its own. */
export class ModelScene {
  private readonly scene = new Scene();
  private readonly camera = new PerspectiveCamera(FIELD_OF_VIEW, 1, 0.001, 10);
  private readonly controls: OrbitControls;
  private model: Object3D | null = null;
  private frames = 0;
  private pending = 0; // the requestAnimationFrame waiting to draw, 0 for none
  private disposed = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly renderer: ModelRenderer,
    private readonly hooks: SceneHooks,
  ) {
    renderer.outputColorSpace = SRGBColorSpace;
    renderer.setClearColor(0x000000, 0); // the page's background shows through
    renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));

    this.scene.add(new HemisphereLight(SKY, GROUND, SKY_INTENSITY));
    const key = new DirectionalLight(0xffffff, KEY_INTENSITY);
    key.position.copy(KEY_FROM);
    key.target.position.set(0, 0, -1);
    this.camera.add(key, key.target);
    this.scene.add(this.camera);

    // Orbit with the left button or one finger, pan with the right button or two fingers,
    // zoom with the wheel or a pinch; damped, so a frame is asked for until it settles.
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    this.controls.addEventListener("change", this.requestFrame);
    canvas.addEventListener("keydown", this.onKey);
  }

  /** Shows `model` framed by its bounding box; a ViewerFailure if it holds nothing to draw. */
  show(model: Object3D): void {
    const box = new Box3().setFromObject(model);
    if (box.isEmpty()) throw new ViewerFailure("the model holds nothing to draw");
    this.model = model;
    this.scene.add(model);
    const center = box.getCenter(new Vector3());
    const radius = Math.max(box.getBoundingSphere(new Sphere()).radius, 1e-6);
    const distance = this.fittingDistance(box, center);
    this.camera.position.copy(center).addScaledVector(VIEW_DIRECTION, distance);
    this.camera.near = radius / 100;
    this.camera.far = distance * 8 + radius * 2;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(center);
    this.controls.minDistance = radius * 0.75;
    this.controls.maxDistance = distance * 8;
    this.controls.update();
    this.controls.saveState();
    this.requestFrame();
  }

  /** How far from `center`, along the first view's direction, the camera sees every corner of
   * `box` with a margin: tighter than the bounding sphere, which leaves a box small. */
  private fittingDistance(box: Box3, center: Vector3): number {
    const view = new PerspectiveCamera(FIELD_OF_VIEW, this.camera.aspect);
    view.position.copy(center).add(VIEW_DIRECTION);
    view.lookAt(center);
    view.updateMatrixWorld();
    const toView = view.matrixWorldInverse;
    const tanY = Math.tan((FIELD_OF_VIEW * Math.PI) / 360);
    const tanX = tanY * this.camera.aspect;
    let distance = 0;
    for (const x of [box.min.x, box.max.x]) {
      for (const y of [box.min.y, box.max.y]) {
        for (const z of [box.min.z, box.max.z]) {
          // The corner in the view's space, from the centre: x right, y up, z toward the eye.
          const corner = new Vector3(x, y, z).applyMatrix4(toView);
          const toward = corner.z + 1; // the view sits 1 from the centre
          distance = Math.max(
            distance,
            toward + Math.abs(corner.x) / tanX,
            toward + Math.abs(corner.y) / tanY,
          );
        }
      }
    }
    return distance * MARGIN;
  }

  /** The drawing buffer follows the canvas's CSS size (times the pixel ratio, at most 2). */
  resize(width: number, height: number): void {
    if (width <= 0 || height <= 0) return;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.requestFrame();
  }

  /** A frame at the next animation frame (one, however often it is asked for meanwhile). */
  readonly requestFrame = (): void => {
    if (this.pending !== 0 || this.disposed) return;
    this.pending = requestAnimationFrame(this.draw);
  };

  private readonly draw = (): void => {
    this.pending = 0;
    if (this.disposed) return;
    this.controls.update(); // damping: asks for the next frame itself while still moving
    this.renderer.render(this.scene, this.camera);
    this.frames += 1;
    this.hooks.onFrame(this.frames);
  };

  private readonly onKey = (event: KeyboardEvent): void => {
    if (event.altKey || event.ctrlKey || event.metaKey || this.model === null) return;
    const action = viewActionFor(event.key);
    if (action === null) return;
    event.preventDefault(); // arrows would scroll the page
    // A key press is one step, taken at once: damping would spread it over a second of frames.
    this.controls.enableDamping = false;
    if (action.kind === "orbit") {
      this.controls.rotateLeft(action.left);
      this.controls.rotateUp(action.up);
    } else if (action.kind === "zoom") {
      this.controls.dollyIn(action.scale); // the distance times `scale`
    } else {
      this.controls.reset();
    }
    this.controls.enableDamping = true;
    this.requestFrame();
  };

  /** Stops drawing and frees everything: listeners, the model's GPU objects, the renderer,
   * and the WebGL context itself (browsers keep only a few contexts per page). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.pending !== 0) cancelAnimationFrame(this.pending);
    this.pending = 0;
    this.canvas.removeEventListener("keydown", this.onKey);
    this.controls.removeEventListener("change", this.requestFrame);
    this.controls.dispose();
    disposeObject(this.scene);
    this.scene.clear();
    this.model = null;
    this.renderer.dispose();
    this.renderer.forceContextLoss();
  }
}

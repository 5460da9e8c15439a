// The viewer's WebGL 2 context, made before three.js loads so that a browser without WebGL 2
// (three.js needs it) is known first. A transparent canvas: the page's background shows round
// the model.

const ATTRIBUTES: WebGLContextAttributes = {
  alpha: true,
  depth: true,
  premultipliedAlpha: true,
  preserveDrawingBuffer: false,
  powerPreference: "default",
};

// Renderers that draw on the CPU: Chromium's SwiftShader (headless, or a GPU it blocks),
// Mesa's llvmpipe and softpipe, Windows' basic render driver.
const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|basic render/i;

/** Whether a WebGL renderer's name is one of a CPU's. */
export function isSoftwareRenderer(name: string): boolean {
  return SOFTWARE.test(name);
}

export interface ViewerContext {
  readonly canvas: HTMLCanvasElement;
  readonly context: WebGL2RenderingContext;
}

/** A canvas from `makeCanvas` with its WebGL 2 context, or null without WebGL 2. Edges are
 * multisampled, except where the CPU draws: there each sample costs CPU time (turning the
 * castle of the render benchmark, 24 frames a second with it against 40 without, here), so
 * the first context is let go and a canvas without multisampling made instead (a canvas keeps
 * the attributes of its first context). */
export function viewerContext(makeCanvas: () => HTMLCanvasElement): ViewerContext | null {
  const canvas = makeCanvas();
  const context = canvas.getContext("webgl2", { ...ATTRIBUTES, antialias: true });
  if (context === null) return null;
  if (!isSoftwareRenderer(rendererName(context))) return { canvas, context };
  context.getExtension("WEBGL_lose_context")?.loseContext();
  const plainCanvas = makeCanvas();
  const plain = plainCanvas.getContext("webgl2", { ...ATTRIBUTES, antialias: false });
  return plain === null ? null : { canvas: plainCanvas, context: plain };
}

/** The GPU's name as the browser gives it (unmasked where the browser allows). */
function rendererName(context: WebGL2RenderingContext): string {
  const info = context.getExtension("WEBGL_debug_renderer_info");
  const name: unknown = context.getParameter(
    info === null ? context.RENDERER : info.UNMASKED_RENDERER_WEBGL,
  );
  return typeof name === "string" ? name : "";
}

// The viewer's keyboard: arrow keys turn the model, + and - zoom, Home frames it again. (Three's
// own OrbitControls keys pan, and only while the window has focus; these act on the focused
// canvas, as its description says.)

/** What a key does to the view: turn around the model (radians, OrbitControls' rotateLeft
 * and rotateUp), scale the distance to it, or go back to the framing it opened with. */
export type ViewAction =
  | { readonly kind: "orbit"; readonly left: number; readonly up: number }
  | { readonly kind: "zoom"; readonly scale: number }
  | { readonly kind: "reset" };

/** A turn per key press: 24 presses go once around. */
export const ORBIT_STEP = Math.PI / 12;
/** The distance to the model is divided (+) or multiplied (-) by this per key press. */
export const ZOOM_STEP = 1.25;

/** What the keys say, for the canvas's description. */
export const KEY_HINT = "Arrow keys turn the model, + and − zoom, Home frames it again.";

/** The view action of a `KeyboardEvent.key`, or null for a key the viewer leaves alone. */
export function viewActionFor(key: string): ViewAction | null {
  switch (key) {
    case "ArrowLeft":
      return { kind: "orbit", left: ORBIT_STEP, up: 0 };
    case "ArrowRight":
      return { kind: "orbit", left: -ORBIT_STEP, up: 0 };
    case "ArrowUp":
      return { kind: "orbit", left: 0, up: ORBIT_STEP };
    case "ArrowDown":
      return { kind: "orbit", left: 0, up: -ORBIT_STEP };
    case "+":
    case "=":
      return { kind: "zoom", scale: 1 / ZOOM_STEP };
    case "-":
    case "_":
      return { kind: "zoom", scale: ZOOM_STEP };
    case "Home":
      return { kind: "reset" };
    default:
      return null;
  }
}

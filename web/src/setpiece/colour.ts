// Colours as a set piece's customizer holds them: "#rrggbb", or "#rrggbbaa" when not opaque
// (the render service's normal form, services/render/colours.py). The form edits one as a hue
// (an <input type="color">, which knows only #rrggbb) and an opacity (0-255), or as typed hex.

export type ColourParse = { ok: true; value: string } | { ok: false; message: string };

export interface ColourParts {
  /** "#rrggbb", what an <input type="color"> takes. */
  hue: string;
  /** 0 (transparent) to 255 (opaque). */
  alpha: number;
}

const HEX = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/;

export const COLOUR_FORMS = "#rgb, #rgba, #rrggbb or #rrggbbaa";

/** A colour typed by hand, in its normal form; or why it is not one. */
export function parseColour(text: string): ColourParse {
  const typed = text.trim().toLowerCase();
  if (typed === "") return { ok: false, message: `Enter a colour: ${COLOUR_FORMS}.` };
  if (!HEX.test(typed)) {
    return { ok: false, message: `“${text.trim()}” is not a colour: use ${COLOUR_FORMS}.` };
  }
  const digits = typed.slice(1);
  const channels =
    digits.length <= 4
      ? (digits.match(/./g) ?? []).map((digit) => parseInt(digit, 16) * 17)
      : (digits.match(/../g) ?? []).map((pair) => parseInt(pair, 16));
  return { ok: true, value: joinChannels(channels) };
}

/** The normal form of 3 or 4 channels of 0-255: an opaque alpha is left out. */
function joinChannels(channels: readonly number[]): string {
  const kept = channels.length === 4 && channels[3] === 255 ? channels.slice(0, 3) : channels;
  return `#${kept.map((channel) => channel.toString(16).padStart(2, "0")).join("")}`;
}

/** A normal-form colour as hue and opacity; undefined for anything else. */
export function colourParts(colour: string): ColourParts | undefined {
  const parsed = parseColour(colour);
  if (!parsed.ok) return undefined;
  const hue = parsed.value.slice(0, 7);
  const alpha = parsed.value.length === 9 ? parseInt(parsed.value.slice(7), 16) : 255;
  return { hue, alpha };
}

/** The normal form of a hue ("#rrggbb") with an opacity (0-255, clamped and rounded). */
export function joinColour(hue: string, alpha: number): string {
  const parsed = parseColour(hue);
  const base = parsed.ok ? parsed.value.slice(0, 7) : "#000000";
  const a = Math.min(255, Math.max(0, Math.round(alpha)));
  const channels = (base.slice(1).match(/../g) ?? []).map((pair) => parseInt(pair, 16));
  return joinChannels([...channels, a]);
}

/** An opacity as people read it: "50%". */
export function opacityText(alpha: number): string {
  return `${String(Math.round((alpha / 255) * 100))}%`;
}
